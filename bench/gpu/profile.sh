#!/usr/bin/env bash
# bench/gpu/profile.sh — per-kernel GPU time of one fungen run on the GPU machine, by Nsight
# Compute (ncu, present there; nsys is not). Builds nothing: expects the bundle of run.sh.
# Usage (on the device): bench/gpu/profile.sh [batch] [model]
# Writes $OUT/ncu_b<batch>.csv (one row per kernel launch) and prints the kernels ranked by
# total time, with their share and launch count.
set -uo pipefail
batch=${1:-128}; model=${2:-$(ls bundle/models/*.onnx | head -1)}
out=${OUT:-/tmp/out}; mkdir -p "$out"
site=$(python3 -c 'import nvidia, os; print(os.path.dirname(list(nvidia.__path__)[0]))')
for d in "$site"/nvidia/cudnn/lib "$site"/nvidia/cublas/lib "$site"/nvidia/cu13/lib /usr/local/cuda/lib64; do
  [ -d "$d" ] && export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d
done
export LD_LIBRARY_PATH=$PWD/bundle/lib:$LD_LIBRARY_PATH
ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
csv="$out/ncu_b$batch.csv"
# The bench's iterations: warm-up and timed runs; profile every launch and keep the last run's.
FUNGEN_CUDA_GRAPHS=0 FUNGEN_LOG=warn "$ncu" --clock-control none --metrics gpu__time_duration.sum \
  --csv --page raw --log-file "$csv" \
  bundle/bin/fungen_gpu_bench --model "$model" --batches "$batch" --iterations 2 --no-check
python3 - "$csv" "$batch" <<'PY'
import csv, sys, collections
rows = [r for r in csv.reader(open(sys.argv[1])) if r]
head = next(i for i, r in enumerate(rows) if "Kernel Name" in r)
cols = rows[head]; data = rows[head + 2:]
k, t = cols.index("Kernel Name"), cols.index("gpu__time_duration.sum")
unit = {"ns": 1, "nsecond": 1, "us": 1e3, "usecond": 1e3, "ms": 1e6, "msecond": 1e6}.get(rows[head + 1][t], 1)
times = [(r[k], unit * float(r[t].replace(",", ""))) for r in data if len(r) > t]
# Keep one run: the launches of the last third (runs repeat the same kernel sequence).
n = len(times); per_run = None
names = [x[0] for x in times]
for p in range(1, n // 2 + 1):
    if names[-p:] == names[-2 * p:-p]: per_run = p; break
last = times[-per_run:] if per_run else times
agg = collections.defaultdict(lambda: [0.0, 0])
for name, ns in last:
    key = name.split("(")[0].removeprefix("void ")[:100]
    agg[key][0] += ns; agg[key][1] += 1
total = sum(v[0] for v in agg.values())
print(f"batch {sys.argv[2]}: {len(last)} launches per run, {total/1e6:.3f} ms of kernel time")
for name, (ns, c) in sorted(agg.items(), key=lambda x: -x[1][0])[:40]:
    print(f"{ns/1e6:9.3f} ms {100*ns/total:5.1f}% x{c:<4} {name}")
PY
