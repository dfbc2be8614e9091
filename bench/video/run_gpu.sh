#!/usr/bin/env bash
# bench/video/run_gpu.sh — decode-only (NVDEC with 1..8 sessions, CPU decoders) vs decode+detect
# on the GPU machine, at 1080p H.264, 4K HEVC and 8K HEVC VR (fisheye 190 side-by-side, unwarped
# to 640×640), one table at the end. Builds nothing and needs no ffmpeg program: the clips are
# written by fungen_make_clip with the bundled FFmpeg libraries (NVENC when the driver offers it,
# else libx264/libx265 on the CPU), once per machine, into $FUNGEN_BENCH_DIR (/tmp/fungen_clips).
#
# Expects (made on the development machine, see docs/benchmarks.md "Video on the GPU machine"):
#   /opt/ff/lib            both halves of scripts/bundle_ffmpeg.sh unpacked
#   bundle/bin/            fungen_video_bench, fungen_make_clip (scripts/bundle.sh, libs in bundle/lib)
#   bundle/models/*.onnx   the model (YOLO11n, 640)
# Usage (on the device, repository root): bench/video/run_gpu.sh [clips] [sessions]
#   clips: comma list of 1080p_h264,4k_hevc,8k_vr_hevc (default all); sessions: 1,2,4,8
# Binaries from $BIN (default bundle/bin, else the directory of fungen_video_bench on PATH, e.g.
# /opt/fungen/bin), the model from $MODEL (default the first bundle/models/*.onnx, else
# /opt/models/yolo11n_640_dyn.onnx). Per clip: fungen_decode_check (NVDEC frames vs CPU decode),
# then `fungen detect` NVDEC + zero-copy GPU detect against CPU decode + GPU detect compared
# frame by frame (fungen_compare_detections: PASS/FAIL), then the timings: decode only (NVDEC
# x1..x8, CPU), detect only, decode+detect with NVDEC x1/x4/x8 and frames kept on the GPU
# (zero copy), NVDEC x8 at twice the batch, and NVDEC x4 with frames downloaded (--device-frames
# off); the last table gives best decode+detect / best decode-only per clip (target >= 90%), over
# the whole run and in the steady state (steady_fps: without start-up and teardown). The
# zero-copy checks also run NVDEC without the GPU pipeline's warm-up (FUNGEN_DEVICE_WARMUP=0: its
# CUDA graph is then captured while NVDEC decodes) and FAIL when a capture failed.
set -uo pipefail
clips=${1:-1080p_h264,4k_hevc,8k_vr_hevc}
sessions=${2:-1,2,4,8}
out=${OUT:-/tmp/out}
mkdir -p "$out"
dir=${FUNGEN_BENCH_DIR:-/tmp/fungen_clips}
mkdir -p "$dir"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
site=$(python3 -c 'import nvidia, os; print(os.path.dirname(list(nvidia.__path__)[0]))' 2>/dev/null)
for d in "$site"/nvidia/cudnn/lib "$site"/nvidia/cublas/lib "$site"/nvidia/cu13/lib /usr/local/cuda/lib64; do
  [ -d "$d" ] && export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d
done
export LD_LIBRARY_PATH=/opt/ff/lib:$PWD/bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
bin=${BIN:-bundle/bin}
if [ ! -x "$bin/fungen_video_bench" ] && command -v fungen_video_bench >/dev/null; then
  bin=$(dirname "$(command -v fungen_video_bench)")
fi
missing=$(ldd "$bin/fungen_video_bench" | grep 'not found')
[ -z "$missing" ] || { echo "run_gpu.sh: libraries not found (bundle halves unpacked to /opt/ff/lib?):"; echo "$missing"; exit 2; }
model=${MODEL:-$(ls bundle/models/*.onnx 2>/dev/null | head -1)}
[ -n "$model" ] || model=/opt/models/yolo11n_640_dyn.onnx
[ -s "$model" ] || { echo "run_gpu.sh: no model ($model); set MODEL=...onnx"; exit 2; }
batch=${FUNGEN_VIDEO_BATCH:-16}
cores=$(nproc)
log=$out/video_gpu.jsonl
: >"$log"

declare -A size=([1080p_h264]=1920x1080 [4k_hevc]=3840x2160 [8k_vr_hevc]=7680x3840)
declare -A codec=([1080p_h264]=h264 [4k_hevc]=hevc [8k_vr_hevc]=hevc)
declare -A frames=([1080p_h264]=900 [4k_hevc]=450 [8k_vr_hevc]=300)
if [ -n "${FUNGEN_CLIP_FRAMES:-}" ]; then for c in "${!frames[@]}"; do frames[$c]=$FUNGEN_CLIP_FRAMES; done; fi
backend=${FUNGEN_BACKEND:-cuda}
declare -A file=([1080p_h264]=1080p_h264.mp4 [4k_hevc]=4k_hevc.mp4 [8k_vr_hevc]=8k_vr_FISHEYE190_LR_hevc.mp4)
bench() {  # label, then fungen_video_bench flags; appends the JSON lines with the label
  local label=$1; shift
  FUNGEN_LOG=${FUNGEN_LOG:-warn} "$bin"/fungen_video_bench "$@" 2>>"$out/video_gpu.err" |
    python3 -c 'import sys, json
for l in sys.stdin:
    j = json.loads(l); j["label"] = sys.argv[1]; print(json.dumps(j))' "$label" | tee -a "$log"
}
for c in ${clips//,/ }; do
  v=$dir/${file[$c]}
  if [ ! -s "$v" ]; then
    t0=$(date +%s)
    "$bin"/fungen_make_clip "$v.tmp.mp4" --size "${size[$c]}" --codec "${codec[$c]}" \
      --frames "${frames[$c]}" --gop 30 && mv "$v.tmp.mp4" "$v" || exit 3
    echo "clip $c written in $(($(date +%s) - t0)) s"
  fi
  # NVDEC (frames kept on the GPU, handed to a checking sink) against one CPU session: PASS/FAIL.
  FUNGEN_LOG=${FUNGEN_LOG:-warn} "$bin"/fungen_decode_check "$v" --decode cuda --decoders 1,4 2>&1 |
    tee -a "$out/decode_check.txt"
  # NVDEC + zero-copy GPU detect against CPU decode + GPU detect, frame by frame: PASS/FAIL.
  # cuda_nowarm: the GPU pipeline not warmed up before decoding (FUNGEN_DEVICE_WARMUP=0), so its
  # CUDA graph is captured while NVDEC decodes: checks the capture guard.
  for d in cuda cuda_nowarm cpu; do
    FUNGEN_DEVICE_WARMUP=$([ "$d" = cuda_nowarm ] && echo 0 || echo 1) FUNGEN_LOG=${FUNGEN_LOG_CHECK:-info} \
      "$bin"/fungen detect "$v" -m "$model" --decode "${d%_nowarm}" --decoders 4 \
      --batch "$batch" --out "$out/${c}_$d.jsonl" --overwrite --progress none >"$out/${c}_$d.log" 2>&1
    grep -v '^\s*$' "$out/${c}_$d.log" | tail -3 | tee -a "$out/zero_copy_check.txt"
    if [ "$d" != cpu ]; then
      # The NVDEC run must have detected from GPU memory (its summary says how many frames) ...
      grep -q "${file[$c]}: .*cuda decode, [0-9]* straight from GPU memory" "$out/${c}_$d.log" ||
        echo "$c ($d): FAIL: the NVDEC run did not detect straight from GPU memory ($out/${c}_$d.log)" |
        tee -a "$out/zero_copy_check.txt"
      # ... with its CUDA graphs captured (a failed capture is logged at info level).
      if grep -q "CUDA graph capture failed" "$out/${c}_$d.log"; then
        echo "$c ($d): FAIL: CUDA graph capture failed while NVDEC decoded:" | tee -a "$out/zero_copy_check.txt"
        grep "CUDA graph capture failed" "$out/${c}_$d.log" | head -2 | tee -a "$out/zero_copy_check.txt"
      else
        echo "$c ($d): PASS: no failed CUDA graph capture" | tee -a "$out/zero_copy_check.txt"
      fi
    fi
  done
  for d in cuda cuda_nowarm; do
    "$bin"/fungen_compare_detections "$out/${c}_$d.jsonl" "$out/${c}_cpu.jsonl" --px 1 --score 0.01 |
      sed "s|^|$c ($d): |" | tee -a "$out/zero_copy_check.txt"
  done
  for n in ${sessions//,/ }; do
    bench "nvdec x$n" "$v" --decode cuda --decoders "$n" --batch "$batch" --modes decode
  done
  bench "cpu x1 ($cores threads)" "$v" --decode cpu --decoders 1 --decode-threads "$cores" --batch "$batch" --modes decode
  bench "cpu x4 ($((cores / 4)) threads each)" "$v" --decode cpu --decoders 4 --decode-threads "$cores" --batch "$batch" --modes decode
  bench "detect ($backend)" "$v" --model "$model" --backend "$backend" --batch "$batch" --max-frames 640 --modes detect
  for n in 1 4 8; do
    bench "nvdec x$n + detect (zero copy)" "$v" --decode cuda --decoders "$n" --model "$model" --backend "$backend" --batch "$batch" --modes pipeline
  done
  bench "nvdec x8 + detect (zero copy, batch $((2 * batch)))" "$v" --decode cuda --decoders 8 --model "$model" --backend "$backend" --batch $((2 * batch)) --modes pipeline
  bench "nvdec x4 + detect (download)" "$v" --decode cuda --decoders 4 --model "$model" --backend "$backend" --batch "$batch" --modes pipeline --device-frames off
done
python3 - "$log" <<'PY'
import json, sys, collections
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = collections.defaultdict(list)
for r in rows: by[r["video"].rsplit("/", 1)[-1]].append(r)
# steady fps: frames after the first one out / time from it to the last (no start-up, no
# teardown); first frame s: clock start to that first output (decode only: after the CUDA
# context is up, as in decode+detect where the detector made it).
def opt(r, k, f): return f.format(r[k]) if k in r else ""
print("\n| clip | run | mode | decoder | frames | fps | frames from GPU memory | steady fps | first frame s |\n|---|---|---|---|---:|---:|---:|---:|---:|")
for clip, rs in by.items():
    for r in rs:
        print(f'| {clip} | {r["label"]} | {r["mode"]} | {r.get("decoder", "")} | {r["frames"]} | {r["fps"]:.1f} | {r.get("frames_from_device", "")} | {opt(r, "steady_fps", "{:.1f}")} | {opt(r, "first_frame_s", "{:.3f}")} |')
def best(rs, key):
    rs = [r for r in rs if r.get(key, 0) > 0]
    return max(rs, key=lambda r: r[key]) if rs else None
def cell(r, key): return f'{r[key]:.1f} ({r["label"]})' if r else "-"
def ratio(p, d, key):
    if not p or not d: return "-"
    x = p[key] / d[key]
    return f'{x:.0%} {"met" if x >= 0.9 else "MISSED"}'
print("\n| clip | best decode-only fps (run) | best decode+detect fps (run) | ratio (target >= 90%) | best decode-only steady fps (run) | best decode+detect steady fps (run) | steady ratio (target >= 90%) |\n|---|---|---|---:|---|---|---:|")
for clip, rs in by.items():
    d = [r for r in rs if r["mode"] == "decode"]
    p = [r for r in rs if r["mode"] == "decode+detect"]
    if not d or not p: continue
    bd, bp = best(d, "fps"), best(p, "fps")
    sd, sp = best(d, "steady_fps"), best(p, "steady_fps")
    print(f'| {clip} | {cell(bd, "fps")} | {cell(bp, "fps")} | {ratio(bp, bd, "fps")} | {cell(sd, "steady_fps")} | {cell(sp, "steady_fps")} | {ratio(sp, sd, "steady_fps")} |')
PY
