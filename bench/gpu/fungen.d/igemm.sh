#!/usr/bin/env bash
# Issue 5: the own implicit-GEMM tensor-core convolution (FUNGEN_CUDA_IGEMM=1, conv_igemm.cuh)
# against the default (cuDNN conv + epilogue kernel), on one machine in one call:
#   1. its unit tests (fresh random inputs vs the reference backend) when fungen_unit_tests is there,
#      and the other cuda unit tests with the switch on;
#   2. fungen_gpu_bench check vs the CPU path and timings at batches 1, 32, 128, default then igemm;
#   3. per-step profiles at batch 128 both ways ($OUT/profile128_cudnn.txt, profile128_igemm.txt)
#      joined per conv node by bench/gpu/profile_compare.py ($OUT/igemm_vs_cudnn.txt).
# Run by bench/gpu/device_run.sh's fungen stage (binaries on PATH), or by hand:
#   OUT=/tmp/out IGEMM_MODEL=/opt/models/yolo11n_640_dyn.onnx bash bench/gpu/fungen.d/igemm.sh
set -uo pipefail
out=${OUT:-/tmp/out}
mkdir -p "$out"
m=${IGEMM_MODEL:-/opt/models/yolo11n_640_dyn.onnx}
extra=${IGEMM_BENCH_ARGS:-}  # e.g. --refill-weights for weight-stripped models
here=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$m" ] || { echo "igemm: $m missing, skipped"; exit 0; }
if command -v fungen_unit_tests >/dev/null; then
  echo "== igemm unit tests"
  fungen_unit_tests --gtest_filter='*Igemm*' > "$out/unit_igemm.txt" 2>&1
  grep -E '^\[  (PASSED|FAILED) |FAILED|tests ran' "$out/unit_igemm.txt" | tail -n 25
  # Every other cuda test with the switch on (poisoned arena, several batches per engine, C2f,
  # YOLO12s convs...); the igemm and autotune (CudaIgemmAutotune) tests unset the variable when
  # they end: excluded.
  echo "== all cuda unit tests with FUNGEN_CUDA_IGEMM=1"
  FUNGEN_CUDA_IGEMM=1 timeout 150 fungen_unit_tests --gtest_filter='*Cuda*:-*Igemm*' \
    > "$out/unit_cuda_with_igemm.txt" 2>&1
  grep -E '^\[  (PASSED|FAILED) |FAILED|tests ran' "$out/unit_cuda_with_igemm.txt" | tail -n 25
fi
for v in FUNGEN_CUDA_IGEMM=0 FUNGEN_CUDA_IGEMM=1; do
  echo "== $v: check vs CPU, then timing"
  env "$v" fungen_gpu_bench --model "$m" $extra --batches 1,32,128 --iterations 20 2>&1 |
    grep -E '^\||check|FAILED|error'
done
for v in cudnn igemm; do
  flag=0; [ $v = igemm ] && flag=1
  FUNGEN_CUDA_IGEMM=$flag FUNGEN_CUDA_PROFILE=1 fungen_gpu_bench --model "$m" $extra --no-check \
    --batches 128 --iterations 3 > "$out/profile128_$v.txt" 2>&1
done
python3 "$here/profile_compare.py" "$out/profile128_cudnn.txt" "$out/profile128_igemm.txt" \
  > "$out/igemm_vs_cudnn.txt"
echo "== per conv at batch 128 (ms per run, graphs off): cuDNN conv + epilogue vs igemm"
head -n 100 "$out/igemm_vs_cudnn.txt"
# Optional tuning: IGEMM_TILES="128x64 128x128 64x64" times b128 with every igemm conv forced to
# each tile (FUNGEN_CUDA_IGEMM_TILE), for the per-shape choice in choose_igemm_tile.
for t in ${IGEMM_TILES:-}; do
  echo "== FUNGEN_CUDA_IGEMM=1 FUNGEN_CUDA_IGEMM_TILE=$t"
  FUNGEN_CUDA_IGEMM=1 FUNGEN_CUDA_IGEMM_TILE=$t fungen_gpu_bench --model "$m" $extra --no-check \
    --batches 128 --iterations 20 2>&1 | grep -E '^\||error'
done
