#!/usr/bin/env bash
# Issue 5, branch headnhwc (gpu-notes "v10"): the Detect head's per-level convs write one
# anchor-major buffer [B, anchors, 144] (NHWC rows, head_rows.h) read by the rows head kernel
# (detect_head_rows.cuh), instead of NCHW pieces of two Concats (FUNGEN_CUDA_HEAD=nchw, v7).
# One machine, one call, ~4 min (each command has a timeout; ~5 min at most):
#   1. unit tests (fresh random inputs): *CudaHead.* (synthetic heads vs the reference backend
#      with FUNGEN_CUDA_HEAD unset = anchor-major, =nchw, =place, =0; counts of heads, rows
#      heads, anchor-major / NCHW placements, no piece copied), *CudaHeadIgemm* (the head convs
#      forced on igemm, plain and persistent: their anchor-major store), *CudaIgemmKernel* (the
#      kernels' image-strided store vs a host convolution, every tile), *CudaHeadRows* (CPU:
#      pieces and the kernel's source on host threads), *CudaHeadMatch*, *Dfl*; then
#      *CudaHeadModels* (the
#      exported models of FUNGEN_TEST_MODELS, default /opt/models, plus /tmp/m37 when
#      $HEAD_MODELS_TGZ exists and HEADNHWC_M37=1: anchor-major and nchw engines vs
#      FUNGEN_CUDA_HEAD=0, batch 1 and 3, fp16/fp32, eager/capture/replay, and vs the CPU);
#   2. fungen_gpu_bench on $HEADNHWC_MODEL: the default checked vs the CPU at batch 1, then
#      batches 1 and 128 timed, default and FUNGEN_CUDA_HEAD=nchw alternating twice;
#   3. the per-step profile at batch 128, default ($OUT/profile128_headnhwc.txt): total, the
#      head's last convs and the head step (with HEADNHWC_OLD_PROFILE=1 also =nchw,
#      $OUT/profile128_headnchw.txt).
# Run by bench/gpu/device_run.sh's fungen stage (binaries on PATH), or by hand:
#   OUT=/tmp/out bash bench/gpu/fungen.d/headnhwc.sh
set -uo pipefail
out=${OUT:-/tmp/out}
mkdir -p "$out"
m=${HEADNHWC_MODEL:-/opt/models/yolo11n_640_dyn.onnx}
tgz=${HEAD_MODELS_TGZ:-.devcarry/models37.tgz}
[ -f "$m" ] || { echo "headnhwc: $m missing, skipped"; exit 0; }
models=${FUNGEN_TEST_MODELS:-/opt/models}
if [ "${HEADNHWC_M37:-0}" = 1 ] && [ -f "$tgz" ]; then
  [ -d /tmp/m37 ] || tar xzf "$tgz" -C /tmp
  models="/tmp/m37:$models"
fi
summary() {  # file
  grep -E '^\[  (PASSED|FAILED) |FAILED|tests ran|Failure|Which is|Expected|rel_l2|error|seed' \
    "$1" | head -n 40
}
if command -v fungen_unit_tests >/dev/null; then
  echo "== head unit tests: synthetic heads (FUNGEN_CUDA_HEAD unset/nchw/place/0), CPU emulation"
  timeout 120 fungen_unit_tests \
    --gtest_filter='*CudaHead.*:*CudaHeadIgemm*:*CudaHeadRows*:*CudaHeadMatch*:*Dfl*:*CudaIgemmKernel*' \
    > "$out/unit_headnhwc.txt" 2>&1
  echo "exit $?"
  summary "$out/unit_headnhwc.txt"
  echo "== CudaHeadModels on $models (anchor-major and nchw engines vs FUNGEN_CUDA_HEAD=0)"
  FUNGEN_TEST_MODELS=$models timeout 90 fungen_unit_tests \
    --gtest_filter='*CudaHeadModels*' > "$out/unit_headnhwc_models.txt" 2>&1
  echo "exit $?"
  summary "$out/unit_headnhwc_models.txt"
fi
echo "== default (anchor-major head input): YOLO11n checked vs the CPU path at batch 1"
timeout 60 fungen_gpu_bench --model "$m" --batches 1 --iterations 5 2>&1 |
  grep -E 'check|FAILED|error|mismatch'
for round in 1 2; do
  for v in default nchw; do
    echo "== round $round, FUNGEN_CUDA_HEAD=$v: batches 1, 128"
    envs=()
    [ $v = nchw ] && envs=(FUNGEN_CUDA_HEAD=nchw)
    env "${envs[@]}" timeout 45 fungen_gpu_bench --model "$m" --no-check --batches 1,128 \
      --iterations 30 2>&1 | grep -E '^\||FAILED|error'
  done
done
profile() {  # label, env assignments...
  local label=$1
  shift
  env "$@" FUNGEN_CUDA_PROFILE=1 timeout 45 fungen_gpu_bench --model "$m" --no-check \
    --batches 128 --iterations 3 > "$out/profile128_$label.txt" 2>&1
  echo "== profile b128 ($label, graphs off): total, the head's last convs, the head step"
  grep -E 'cuda profile:|ms per run' "$out/profile128_$label.txt" | head -n 3
  grep -E 'detect head|cv[23]\.[0-9]\.2/|anchor-major|Concat_2[0-9]|output ' \
    "$out/profile128_$label.txt" | head -n 20
}
profile headnhwc
[ "${HEADNHWC_OLD_PROFILE:-0}" = 1 ] && profile headnchw FUNGEN_CUDA_HEAD=nchw
exit 0
