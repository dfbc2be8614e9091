#!/usr/bin/env bash
# Issue 5, branch dw: the depthwise row-run kernel (conv_depthwise.cuh: kR output pixels per
# thread, weights per kernel row in registers, each input vector loaded once per row;
# FUNGEN_CUDA_DW=old: the first kernel, =8|4|2 forces a run length). One machine, one call,
# ~120 s (each command has a timeout; 225 s at most):
#   1. the unit tests (fresh random inputs vs the reference backend): CudaDepthwiseTest (odd
#      widths, 80x80 / 20x20, C 8..128, strides 1 and 2, 3x3 / 5x5 / 7x7, residual, Concat
#      slice, batches 1 and 3, fp16 and fp32, eager / capture / replay, forced runs and old) and
#      CudaKernelTest (the first kernel's small depthwise cases);
#   2. YOLO11n checked against the CPU path at batch 1 with FUNGEN_CUDA_DW=8 (the row-run kernel
#      forced on every depthwise conv; at batch 1 the default keeps the first kernel);
#   3. fungen_gpu_bench at batches 1 and 128, FUNGEN_CUDA_DW=old then the default, and at batch
#      128 with FUNGEN_CUDA_DW=4 (run 4 everywhere instead of 8 / 4 by map width);
#   4. the per-step profile at batch 128 (FUNGEN_CUDA_PROFILE=1, graphs off), default: the
#      depthwise lines ($OUT/dw_profile_new.txt); with DW_PARTS containing "old_profile", the
#      same with FUNGEN_CUDA_DW=old ($OUT/dw_profile_old.txt).
# Run by bench/gpu/device_run.sh's fungen stage (binaries on PATH), or by hand:
#   OUT=/tmp/out DW_MODEL=/opt/models/yolo11n_640_dyn.onnx bash bench/gpu/fungen.d/dw.sh
set -uo pipefail
out=${OUT:-/tmp/out}
mkdir -p "$out"
m=${DW_MODEL:-/opt/models/yolo11n_640_dyn.onnx}
parts=" ${DW_PARTS:-unit check bench profile} "
[ -f "$m" ] || { echo "dw: $m missing, skipped"; exit 0; }
if [[ $parts == *" unit "* ]] && command -v fungen_unit_tests >/dev/null; then
  echo "== depthwise unit tests"
  timeout 90 fungen_unit_tests --gtest_filter='*Depthwise*:*CudaKernelTest*' \
    > "$out/unit_dw.txt" 2>&1
  echo "exit $?"
  grep -E '^\[  (PASSED|FAILED) |FAILED|tests ran|Failure|Expected|Which is|seed' \
    "$out/unit_dw.txt" | head -n 40
fi
if [[ $parts == *" check "* ]]; then
  echo "== FUNGEN_CUDA_DW=8: YOLO11n vs the CPU path at batch 1"
  FUNGEN_CUDA_DW=8 timeout 30 fungen_gpu_bench --model "$m" --batches 1 --iterations 10 2>&1 |
    grep -E '^\||check|FAILED|error|mismatch'
fi
if [[ $parts == *" bench "* ]]; then
  for v in old default; do
    echo "== FUNGEN_CUDA_DW=$v: batches 1, 128"
    envs=()
    [ $v = old ] && envs=(FUNGEN_CUDA_DW=old)
    env "${envs[@]}" timeout 30 fungen_gpu_bench --model "$m" --no-check --batches 1,128 \
      --iterations 30 2>&1 | grep -E '^\||FAILED|error'
  done
  echo "== FUNGEN_CUDA_DW=4 (run 4 on every depthwise conv): batch 128"
  FUNGEN_CUDA_DW=4 timeout 25 fungen_gpu_bench --model "$m" --no-check --batches 128 \
    --iterations 30 2>&1 | grep -E '^\||FAILED|error'
fi
profile() {  # label, env assignments...
  local label=$1
  shift
  echo "== profile, batch 128, $label (graphs off): depthwise steps"
  env "$@" FUNGEN_CUDA_PROFILE=1 timeout 30 fungen_gpu_bench --model "$m" --no-check \
    --batches 128 --iterations 3 > "$out/dw_profile_$label.txt" 2>&1
  grep -E 'ms per run|^\|' "$out/dw_profile_$label.txt" | head -n 4
  grep -i 'depthwise' "$out/dw_profile_$label.txt" | head -n 30
}
[[ $parts == *" profile "* ]] && profile new
[[ $parts == *" old_profile "* ]] && profile old FUNGEN_CUDA_DW=old
exit 0
