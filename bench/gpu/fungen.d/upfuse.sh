#!/usr/bin/env bash
# Issue 5, branch upfuse: the neck's upsampled Concats read by their 1x1 conv
# (lower_upfuse.cpp; FUNGEN_CUDA_UPFUSE unset: measured per pattern, 1 forced, 0 off). One
# machine, one call, ~3 minutes expected (each command has a timeout; 300 s at most):
#   1. unit tests (fresh random inputs vs the reference / host convolution): *Upfuse* (the two
#      kernels reading pieces with every tile, the patterns on and off, plan replay, YOLO11n with
#      =1), then the igemm kernel and dual-store tests (their kernels and Concats changed);
#   2. YOLO11n checked against the CPU path at batch 1 with FUNGEN_CUDA_UPFUSE=1 (the pieces read
#      by /model.13/cv1 and /model.16/cv1 whatever the measurement says);
#   3. fungen_gpu_bench at batches 1 and 128: FUNGEN_CUDA_UPFUSE=0, default, 0, default;
#   4. one batch-128 profile (graphs off, default), with FUNGEN_LOG=info: the Resize / Concat /
#      cv1 steps and the upfuse measurements ($OUT/upfuse_profile128.txt).
# Run by bench/gpu/device_run.sh's fungen stage (binaries on PATH), or by hand:
#   OUT=/tmp/out UPFUSE_MODEL=/opt/models/yolo11n_640_dyn.onnx bash bench/gpu/fungen.d/upfuse.sh
set -uo pipefail
out=${OUT:-/tmp/out}
mkdir -p "$out"
m=${UPFUSE_MODEL:-/opt/models/yolo11n_640_dyn.onnx}
parts=" ${UPFUSE_PARTS:-unit check bench profile} "
[ -f "$m" ] || { echo "upfuse: $m missing, skipped"; exit 0; }
if [[ $parts == *" unit "* ]] && command -v fungen_unit_tests >/dev/null; then
  echo "== upfuse unit tests"
  FUNGEN_TEST_YOLO11N=$m timeout 90 fungen_unit_tests --gtest_filter='*Upfuse*' \
    > "$out/unit_upfuse.txt" 2>&1
  echo "exit $?"
  grep -E '^\[  (PASSED|FAILED) |FAILED|tests ran|Failure|Expected|Which is|seed' \
    "$out/unit_upfuse.txt" | head -n 40
  echo "== igemm kernel and dual-store tests"
  FUNGEN_TEST_YOLO11N=$m timeout 45 fungen_unit_tests \
    --gtest_filter='*CudaIgemmKernel*:*CudaDual*:*CudaKernelTest*' > "$out/unit_upfuse_rest.txt" 2>&1
  echo "exit $?"
  grep -E '^\[  (PASSED|FAILED) |FAILED|tests ran' "$out/unit_upfuse_rest.txt" | head -n 20
fi
if [[ $parts == *" check "* ]]; then
  echo "== FUNGEN_CUDA_UPFUSE=1: YOLO11n vs the CPU path at batch 1"
  FUNGEN_CUDA_UPFUSE=1 timeout 30 fungen_gpu_bench --model "$m" --batches 1 --iterations 10 2>&1 |
    grep -E '^\||check|FAILED|error|mismatch'
fi
if [[ $parts == *" bench "* ]]; then
  for v in 0 default 0 default; do
    echo "== FUNGEN_CUDA_UPFUSE=$v: batches 1, 128"
    envs=()
    [ $v = 0 ] && envs=(FUNGEN_CUDA_UPFUSE=0)
    env "${envs[@]}" timeout 25 fungen_gpu_bench --model "$m" --no-check --batches 1,128 \
      --iterations 30 2>&1 | grep -E '^\||FAILED|error'
  done
fi
if [[ $parts == *" profile "* ]]; then
  echo "== profile, batch 128, default (graphs off): Resize, Concat, cv1 steps"
  FUNGEN_LOG=info FUNGEN_CUDA_PROFILE=1 timeout 35 fungen_gpu_bench --model "$m" --no-check \
    --batches 128 --iterations 3 > "$out/upfuse_profile128.txt" 2>&1
  grep -E 'ms per run|^\|' "$out/upfuse_profile128.txt" | head -n 4
  grep -E 'cuda autotune: .*(Concat|pieces)' "$out/upfuse_profile128.txt" | cut -c1-400
  grep -E 'model\.1[1-6]/(Resize|Concat|cv1)' "$out/upfuse_profile128.txt" | head -n 20
fi
exit 0
