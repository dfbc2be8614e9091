#!/usr/bin/env bash
# Issue 5: the 3x3 halo kernel (conv_tile3.cuh; FUNGEN_CUDA_TILE3=auto makes it a candidate of the
# per-conv timing, =1 forces it on every 3x3 conv it takes, =0 leaves the choice as before), on
# one machine in one call:
#   1. unit tests (fresh random inputs vs a host convolution / the reference backend): the kernel
#      with every tile, the igemm model cases with FUNGEN_CUDA_TILE3=1, the autotune tests;
#   2. per-step profiles at batch 128 with FUNGEN_CUDA_TILE3=0, =1 (FUNGEN_CUDA_IGEMM=auto for
#      the other convs) and auto, joined per conv node by bench/gpu/profile_compare.py
#      ($OUT/tile3_vs_before.txt: before = TILE3=0, new = TILE3=1), and each tile3 step against
#      its memory floor at 3.0 TB/s ($OUT/tile3_floor.txt, bench/gpu/conv_floor.py);
#   3. the autotune's choices at batch 128 (lines "cuda autotune: node -> tile3|igemm|cudnn");
#   4. fungen_gpu_bench check vs the CPU path (batch 1, fp16 and fp32) and timings at batches 1,
#      32, 128 with TILE3=0, auto and 1.
# Run by bench/gpu/device_run.sh's fungen stage (binaries on PATH), or by hand:
#   OUT=/tmp/out TILE3_MODEL=/opt/models/yolo11n_640_dyn.onnx bash bench/gpu/fungen.d/tile3.sh
# TILE3_PARTS picks parts (default "unit profile bench": ~4-5 minutes; device_run.sh gives a hook
# 300 s, so e.g. TILE3_PARTS=unit in one call and "profile bench" in the next).
set -uo pipefail
out=${OUT:-/tmp/out}
mkdir -p "$out"
m=${TILE3_MODEL:-/opt/models/yolo11n_640_dyn.onnx}
extra=${TILE3_BENCH_ARGS:-}  # e.g. --refill-weights for weight-stripped models
here=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$m" ] || { echo "tile3: $m missing, skipped"; exit 0; }
parts=" ${TILE3_PARTS:-unit profile bench} "
if [[ $parts == *" unit "* ]] && command -v fungen_unit_tests >/dev/null; then
  echo "== tile3 + igemm + autotune unit tests"
  timeout 200 fungen_unit_tests --gtest_filter='*Tile3*:*Igemm*:*Autotune*' \
    > "$out/unit_tile3.txt" 2>&1
  echo "exit $?"
  grep -E '^\[  (PASSED|FAILED) |FAILED|tests ran|Failure' "$out/unit_tile3.txt" | head -n 40
fi
if [[ $parts == *" profile "* ]]; then
for v in 0 1 auto; do
  FUNGEN_CUDA_TILE3=$v FUNGEN_CUDA_PROFILE=1 FUNGEN_LOG=info timeout 120 fungen_gpu_bench \
    --model "$m" $extra --no-check --batches 128 --iterations 3 > "$out/profile128_tile3_$v.txt" 2>&1
  echo "profile TILE3=$v: exit $?"
done
python3 "$here/profile_compare.py" "$out/profile128_tile3_0.txt" "$out/profile128_tile3_1.txt" \
  > "$out/tile3_vs_before.txt"
echo "== per conv at batch 128 (ms per run, graphs off): TILE3=0 (igemm/cuDNN by auto) vs TILE3=1"
head -n 60 "$out/tile3_vs_before.txt"
echo "== tile3 steps (TILE3=1) vs their memory floor (input + residual read once, output written once)"
python3 "$here/conv_floor.py" "$out/profile128_tile3_1.txt" 128 --kernel tile3 | tee "$out/tile3_floor.txt"
echo "== own-kernel steps under auto vs their floor"
python3 "$here/conv_floor.py" "$out/profile128_tile3_auto.txt" 128 | head -n 40
echo "== autotune choices at batch 128 (auto)"
grep 'cuda autotune:' "$out/profile128_tile3_auto.txt" > "$out/tile3_choices_b128.txt"
echo "tile3: $(grep -c -- '-> tile3' "$out/tile3_choices_b128.txt"), igemm: $(grep -c -- '-> igemm' \
  "$out/tile3_choices_b128.txt"), cudnn: $(grep -c -- '-> cudnn' "$out/tile3_choices_b128.txt")"
grep -- '(tile3 ' "$out/tile3_choices_b128.txt" | sed -E 's/^.*cuda autotune: //' | cut -c1-230
fi
[[ $parts == *" bench "* ]] || exit 0
for v in 0 auto 1; do  # =1: every 3x3 conv on tile3, the strongest model-level check of it
  echo "== FUNGEN_CUDA_TILE3=$v: check vs CPU (batch 1), then timings at batches 1, 32, 128"
  FUNGEN_CUDA_TILE3=$v timeout 150 fungen_gpu_bench --model "$m" $extra --batches 1,32,128 \
    --iterations 20 2>&1 | grep -E '^\||check|FAILED|error'
done
