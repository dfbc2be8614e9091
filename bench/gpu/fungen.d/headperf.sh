#!/usr/bin/env bash
# Issue 5: the Detect head kernel toward its memory floor (detect_head.cu: HeadKernel::kSplit, box
# blocks and streaming class blocks in one launch, the default; FUNGEN_CUDA_HEAD_KERNEL=old the
# first kernel). Floor of YOLO11n 640x640 at batch 128: read 128 x 144 x 8400 x 2 B (310 MB),
# write 128 x 84 x 8400 x 4 B (361 MB): ~0.22 ms at 3.0 TB/s. One machine, one call, ~2 min:
#   1. the head unit tests (*CudaHead*: the kernel launched directly, both variants, vs the
#      formula in double on fresh inputs (CudaHeadKernel); the synthetic heads vs the reference
#      backend, now also with FUNGEN_CUDA_HEAD_KERNEL=old (CudaHead); the matcher (CudaHeadMatch);
#      exported models, fused vs unfused and, fp16, vs the old kernel (CudaHeadModels, on
#      FUNGEN_TEST_MODELS=/tmp/m37:/opt/models; /tmp/m37 unpacked from $HEADPERF_MODELS_TGZ,
#      default .devcarry/models37.tgz, when it exists));
#   2. fungen_gpu_bench --no-check at batches 1 and 128, 30 iterations, new then old kernel;
#   3. per-step profiles at batch 128 (FUNGEN_CUDA_PROFILE=1), new and old: the head step's time
#      ($OUT/profile128_headperf_{new,old}.txt).
# Run by bench/gpu/device_run.sh's fungen stage (binaries on PATH), or by hand:
#   OUT=/tmp/out bash bench/gpu/fungen.d/headperf.sh
set -uo pipefail
out=${OUT:-/tmp/out}
mkdir -p "$out"
m=${HEADPERF_MODEL:-/opt/models/yolo11n_640_dyn.onnx}
tgz=${HEADPERF_MODELS_TGZ:-.devcarry/models37.tgz}
[ -f "$m" ] || { echo "headperf: $m missing, skipped"; exit 0; }
if [ -f "$tgz" ] && [ ! -d /tmp/m37 ]; then tar xzf "$tgz" -C /tmp; fi
if command -v fungen_unit_tests >/dev/null; then
  echo "== head unit tests (*CudaHead*)"
  FUNGEN_TEST_MODELS=${FUNGEN_TEST_MODELS:-/tmp/m37:/opt/models} timeout 100 fungen_unit_tests \
    --gtest_filter='*CudaHead*' > "$out/unit_headperf.txt" 2>&1
  echo "exit $?"
  grep -E '^\[  (PASSED|FAILED) |^\[  SKIPPED \] [0-9]+ test|FAILED|tests ran|Failure|Which is|rel_l2|differ|first at' \
    "$out/unit_headperf.txt" | head -n 40
fi
for k in new old; do
  echo "== FUNGEN_CUDA_HEAD_KERNEL=$k: timings at batches 1 and 128"
  FUNGEN_CUDA_HEAD_KERNEL=$k timeout 45 fungen_gpu_bench --model "$m" --no-check --batches 1,128 \
    --iterations 30 2>&1 | grep -E '^\||error'
done
for k in new old; do
  FUNGEN_CUDA_HEAD_KERNEL=$k FUNGEN_CUDA_PROFILE=1 timeout 45 fungen_gpu_bench --model "$m" \
    --no-check --batches 128 --iterations 3 > "$out/profile128_headperf_$k.txt" 2>&1
  echo "== profile b128, FUNGEN_CUDA_HEAD_KERNEL=$k (floor ~0.22 ms at 3.0 TB/s)"
  grep -E 'cuda profile:|detect head' "$out/profile128_headperf_$k.txt" | head -n 4
done
