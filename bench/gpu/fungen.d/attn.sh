#!/usr/bin/env bash
# Issue 5, branch attn: YOLO12's area attention as one kernel (attention.cu, lower_attention.cpp;
# FUNGEN_CUDA_ATTN unset: tensor cores in fp16, =simt: fp32 FMAs, =0: the nodes one by one).
# One machine, one call, ~3 minutes expected (each command has a timeout; 375 s at most, so run
# it with S5_TIMEOUT=400 under session5_test.sh):
#   1. unit tests: CudaAttnFused (synthetic attention graphs vs the reference backend, fp32 /
#      fp16 / simt / off, eager, capture, replay), CudaAttnMatch (the matcher, CPU), the A2C2f
#      block tests (CudaAttentionTest, CudaAttentionBatches: now fused), then CudaAttnModels
#      (every YOLO12 export in FUNGEN_TEST_MODELS: fused vs FUNGEN_CUDA_ATTN=0 and vs the CPU);
#   2. YOLO12s checked against the CPU path at batch 1: default, =simt, =0;
#   3. fungen_gpu_bench at batches 1 and 128: FUNGEN_CUDA_ATTN=0, default, 0, default;
#   4. one batch-128 profile (graphs off, default): the attention steps and what is left around
#      them ($OUT/attn_profile128.txt).
# Run by bench/gpu/session5_test.sh (S5_SCRIPTS) or device_run.sh's fungen stage (binaries on
# PATH), or by hand: OUT=/tmp/out ATTN_MODEL=/opt/models/yolo12s_640_dyn.onnx bash attn.sh
set -uo pipefail
out=${OUT:-/tmp/out}
mkdir -p "$out"
m=${ATTN_MODEL:-/opt/models/yolo12s_640_dyn.onnx}
parts=" ${ATTN_PARTS:-unit check bench profile} "
[ -f "$m" ] || { echo "attn: $m missing, skipped"; exit 0; }
if [[ $parts == *" unit "* ]] && command -v fungen_unit_tests >/dev/null; then
  echo "== attention unit tests (synthetic, matcher, A2C2f blocks)"
  timeout 60 fungen_unit_tests \
    --gtest_filter='CudaAttnFused*:CudaAttnMatch*:*CudaAttentionTest*:CudaAttentionBatches*' \
    > "$out/unit_attn.txt" 2>&1
  echo "exit $?"
  grep -E '^\[  (PASSED|FAILED) |FAILED|tests ran|Failure|Expected|Which is|seed' \
    "$out/unit_attn.txt" | head -n 40
  echo "== YOLO12 exports: fused vs FUNGEN_CUDA_ATTN=0 and vs the CPU"
  timeout 90 fungen_unit_tests --gtest_filter='CudaAttnModels*' > "$out/unit_attn_models.txt" 2>&1
  echo "exit $?"
  grep -E '^\[  (PASSED|FAILED) |FAILED|Failure|Which is|fused vs|vs cpu' \
    "$out/unit_attn_models.txt" | head -n 60
fi
if [[ $parts == *" check "* ]]; then
  for v in default simt 0; do
    echo "== FUNGEN_CUDA_ATTN=$v: YOLO12s vs the CPU path at batch 1"
    envs=(FUNGEN_CUDA_ATTN=1)
    [ $v != default ] && envs=(FUNGEN_CUDA_ATTN=$v)
    env "${envs[@]}" timeout 30 fungen_gpu_bench --model "$m" --batches 1 --iterations 1 2>&1 |
      grep -E '^check|FAILED|error|mismatch' | head -n 8
  done
fi
if [[ $parts == *" bench "* ]]; then
  for v in 0 default 0 default; do
    echo "== FUNGEN_CUDA_ATTN=$v: batches 1, 128"
    envs=(FUNGEN_CUDA_ATTN=1)
    [ $v = 0 ] && envs=(FUNGEN_CUDA_ATTN=0)
    env "${envs[@]}" timeout 25 fungen_gpu_bench --model "$m" --no-check --batches 1,128 \
      --iterations 20 2>&1 | grep -E '^\||FAILED|error'
  done
fi
if [[ $parts == *" profile "* ]]; then
  echo "== profile, batch 128, default (graphs off): attention steps"
  FUNGEN_CUDA_PROFILE=1 timeout 35 fungen_gpu_bench --model "$m" --no-check --batches 128 \
    --iterations 3 > "$out/attn_profile128.txt" 2>&1
  grep -E 'ms per run|^\|' "$out/attn_profile128.txt" | head -n 4
  grep -E 'attn/' "$out/attn_profile128.txt" | head -n 30
  echo "-- attention steps summed (ms per run):"
  grep -E 'attn/MatMul_1 \(attention' "$out/attn_profile128.txt" | head -n 8
fi
exit 0
