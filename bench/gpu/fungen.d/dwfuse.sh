#!/usr/bin/env bash
# Issue 5, branch dwfuse: the head's 3x3 depthwise convs computed by the 1x1 conv reading them
# (lower_dwfuse.cpp; FUNGEN_CUDA_DWFUSE unset: measured per pattern, 1 forced, 0 off). One
# machine, one call, ~3 minutes expected (each command has a timeout):
#   1. unit tests (fresh random inputs vs the reference): *Dwfuse* (synthetic dw -> 1x1 graphs
#      on and off, fused vs separate bit for bit, must-not-fuse cases, plan replay, YOLO11n with
#      =1: six head depthwise convs fused), then the igemm kernel and depthwise tests (the
#      igemm kernel gained the kDw loader);
#   2. YOLO11n checked against the CPU path at batch 1 with FUNGEN_CUDA_DWFUSE=1;
#   3. fungen_gpu_bench at batches 1 and 128: FUNGEN_CUDA_DWFUSE=0, default, 0, default;
#   4. one batch-128 profile (graphs off, default) with FUNGEN_LOG=info: the autotune's choice
#      lines and the head's steps ($OUT/dwfuse_profile128.txt; compare with the =0 profile of
#      /work/shared-data/device-s5-call1/stemfuse_profile.txt by bench/gpu/profile_compare.py).
# Run by bench/gpu/device_run.sh's fungen stage (binaries on PATH), or by hand:
#   OUT=/tmp/out DWFUSE_MODEL=/opt/models/yolo11n_640_dyn.onnx bash bench/gpu/fungen.d/dwfuse.sh
set -uo pipefail
out=${OUT:-/tmp/out}
mkdir -p "$out"
m=${DWFUSE_MODEL:-/opt/models/yolo11n_640_dyn.onnx}
parts=" ${DWFUSE_PARTS:-unit check bench profile} "
[ -f "$m" ] || { echo "dwfuse: $m missing, skipped"; exit 0; }
if [[ $parts == *" unit "* ]] && command -v fungen_unit_tests >/dev/null; then
  echo "== dwfuse unit tests"
  FUNGEN_TEST_YOLO11N=$m timeout 100 fungen_unit_tests --gtest_filter='*Dwfuse*' \
    > "$out/unit_dwfuse.txt" 2>&1
  echo "exit $?"
  grep -E '^\[  (PASSED|FAILED) |FAILED|tests ran|Failure|Expected|Which is|seed|differs' \
    "$out/unit_dwfuse.txt" | head -n 40
  echo "== igemm kernel, upfuse kernel and depthwise tests"
  timeout 40 fungen_unit_tests \
    --gtest_filter='*CudaIgemmKernel*:*CudaUpfuseKernel*:*CudaDepthwise*' \
    > "$out/unit_dwfuse_rest.txt" 2>&1
  echo "exit $?"
  grep -E '^\[  (PASSED|FAILED) |FAILED|tests ran' "$out/unit_dwfuse_rest.txt" | head -n 20
fi
if [[ $parts == *" check "* ]]; then
  echo "== FUNGEN_CUDA_DWFUSE=1: YOLO11n vs the CPU path at batch 1"
  FUNGEN_CUDA_DWFUSE=1 timeout 30 fungen_gpu_bench --model "$m" --batches 1 --iterations 10 2>&1 |
    grep -E '^\||check|FAILED|error|mismatch'
fi
if [[ $parts == *" bench "* ]]; then
  for v in 0 default 0 default; do
    echo "== FUNGEN_CUDA_DWFUSE=$v: batches 1, 128"
    envs=()
    [ $v = 0 ] && envs=(FUNGEN_CUDA_DWFUSE=0)
    env "${envs[@]}" timeout 25 fungen_gpu_bench --model "$m" --no-check --batches 1,128 \
      --iterations 30 2>&1 | grep -E '^\||FAILED|error'
  done
fi
if [[ $parts == *" profile "* ]]; then
  echo "== profile, batch 128, default (graphs off): the autotune's choices, the head's steps"
  FUNGEN_LOG=info FUNGEN_CUDA_PROFILE=1 timeout 35 fungen_gpu_bench --model "$m" --no-check \
    --batches 128 --iterations 3 > "$out/dwfuse_profile128.txt" 2>&1
  grep -E 'ms per run|^\|' "$out/dwfuse_profile128.txt" | head -n 4
  grep -E 'cuda autotune: .*depthwise' "$out/dwfuse_profile128.txt" | cut -c1-400
  grep -E 'model\.23/cv3' "$out/dwfuse_profile128.txt" | head -n 24
fi
exit 0
