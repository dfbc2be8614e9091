#!/usr/bin/env bash
# Issue 5: FUNGEN_CUDA_IGEMM=auto (the default; conv_autotune.h): per convolution the faster of
# cuDNN (+ its epilogue pass) and the own implicit-GEMM kernel, timed while the plan is built.
# One machine, one call, ~1 minute:
#   1. the autotune and igemm unit tests (fresh random inputs vs the reference backend; a saved
#      plan replays its choices without timing) when fungen_unit_tests is there;
#   2. the choice per conv at batch 128 (FUNGEN_LOG=info lines "cuda autotune: node -> igemm|cudnn,
#      chosen: <ms> vs cudnn <ms> ms (tiles ...)"), counted ($OUT/autotune_choices_b128.txt);
#   3. fungen_gpu_bench at batches 1, 32, 128: default (auto, with the check vs the CPU path)
#      then FUNGEN_CUDA_IGEMM=0 (cuDNN only, as before). "plan+first run s" is the build time.
# Run by bench/gpu/device_run.sh's fungen stage (binaries on PATH), or by hand:
#   OUT=/tmp/out AUTOTUNE_MODEL=/opt/models/yolo11n_640_dyn.onnx bash bench/gpu/fungen.d/autotune.sh
set -uo pipefail
out=${OUT:-/tmp/out}
mkdir -p "$out"
m=${AUTOTUNE_MODEL:-/opt/models/yolo11n_640_dyn.onnx}
extra=${AUTOTUNE_BENCH_ARGS:-}  # e.g. --refill-weights for weight-stripped models
[ -f "$m" ] || { echo "autotune: $m missing, skipped"; exit 0; }
if command -v fungen_unit_tests >/dev/null; then
  echo "== autotune + igemm unit tests"
  timeout 120 fungen_unit_tests --gtest_filter='*Autotune*:*Igemm*' > "$out/unit_autotune.txt" 2>&1
  echo "exit $?"
  grep -E '^\[  (PASSED|FAILED) |FAILED|tests ran|Failure|error' "$out/unit_autotune.txt" | head -n 30
fi
echo "== choices at batch 128 (auto)"
FUNGEN_LOG=info timeout 90 fungen_gpu_bench --model "$m" $extra --no-check --batches 128 \
  --iterations 5 > "$out/autotune_b128.txt" 2>&1
echo "exit $?"
grep 'cuda autotune:' "$out/autotune_b128.txt" > "$out/autotune_choices_b128.txt"
grep -E '^\||error|warn' "$out/autotune_b128.txt" | head -n 12
echo "igemm chosen: $(grep -c -- '-> igemm' "$out/autotune_choices_b128.txt")," \
  "cudnn kept: $(grep -c -- '-> cudnn' "$out/autotune_choices_b128.txt")"
sed -E 's/^.*cuda autotune: //' "$out/autotune_choices_b128.txt" | cut -c1-170
for v in auto 0; do
  check=--no-check
  [ $v = auto ] && check=
  echo "== FUNGEN_CUDA_IGEMM=$v: timings at batches 1, 32, 128 ${check:-(and the check vs CPU)}"
  FUNGEN_CUDA_IGEMM=$v timeout 120 fungen_gpu_bench --model "$m" $extra $check --batches 1,32,128 \
    --iterations 20 2>&1 | grep -E '^\||check|FAILED|error'
done
