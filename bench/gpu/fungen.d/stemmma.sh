#!/usr/bin/env bash
# Issue 5, branch stemmma: the fused stem kernel's mma variant (conv_stemfuse.cu, stem_mma: the
# stem 3->16 as an implicit GEMM on tensor cores, fp16 operands, fp32 accumulation) beside the
# exact one (the band kernel's fp32 FMAs, bit for bit the unfused pair). FUNGEN_CUDA_STEMFUSE:
# unset = timed at plan build (both variants' tiles vs the band kernel + tile3; algorithm 1 exact,
# 2 mma), exact (or 1) / mma forced, 0 never. One machine, one call, ~2-3 minutes (parts 1-3;
# part 4 only when asked, ~30 s more):
#   1. unit tests: StemFuseGeom (CPU index / fragment math), CudaStemFuseTest (exact vs unfused
#      bit for bit, mma and exact vs the reference, run() vs enqueue() bit for bit for both);
#   2. YOLO11n vs the CPU path at batch 1 with each variant forced (exact, mma);
#   3. fungen_gpu_bench at batch 128: default, =exact, =mma, =0, twice; the default's choice
#      lines (FUNGEN_LOG=info: "cuda autotune: /model.0/conv/Conv -> stemfuse mma|exact|unfused");
#   4. the per-step profile at batch 128 (graphs off) with =mma and =exact: the fused step's line
#      ($OUT/stemmma_profile_{mma,exact}.txt).
# STEMMMA_PARTS picks parts (default "unit check bench"; add "profile" for part 4).
# Device (binaries on PATH):
#   OUT=$OUT STEMMMA_MODEL=/opt/models/yolo11n_640_dyn.onnx bash bench/gpu/fungen.d/stemmma.sh
set -uo pipefail
out=${OUT:-/tmp/out}
mkdir -p "$out"
m=${STEMMMA_MODEL:-/opt/models/yolo11n_640_dyn.onnx}
parts=" ${STEMMMA_PARTS:-unit check bench} "
[ -f "$m" ] || { echo "stemmma: $m missing, skipped"; exit 0; }
if [[ $parts == *" unit "* ]] && command -v fungen_unit_tests >/dev/null; then
  echo "== stemmma unit tests (StemFuseGeom, CudaStemFuseTest)"
  timeout 80 fungen_unit_tests --gtest_filter='*StemFuse*' > "$out/unit_stemmma.txt" 2>&1
  echo "exit $?"
  grep -E '^\[  (PASSED|FAILED) |FAILED|tests ran|Failure|Expected|Which is|seed|differ|mma' \
    "$out/unit_stemmma.txt" | head -n 40
fi
if [[ $parts == *" check "* ]]; then
  for v in exact mma; do
    echo "== FUNGEN_CUDA_STEMFUSE=$v: YOLO11n vs the CPU path at batch 1"
    FUNGEN_CUDA_STEMFUSE=$v FUNGEN_LOG=info timeout 30 fungen_gpu_bench --model "$m" --batches 1 \
      --iterations 10 > "$out/stemmma_check_$v.txt" 2>&1
    echo "exit $?"
    grep -E '^\||check|FAILED|error|mismatch|stemfuse' "$out/stemmma_check_$v.txt" | head -n 12
  done
fi
if [[ $parts == *" bench "* ]]; then
  for round in 1 2; do
    for v in default exact mma 0; do
      echo "== round $round, FUNGEN_CUDA_STEMFUSE=$v: batch 128"
      envs=(FUNGEN_LOG=info)
      [ $v = default ] || envs+=(FUNGEN_CUDA_STEMFUSE=$v)
      env "${envs[@]}" timeout 18 fungen_gpu_bench --model "$m" --no-check --batches 128 \
        --iterations 30 > "$out/stemmma_bench_${v}_$round.txt" 2>&1
      grep -E '^\||FAILED|error|model\.0/conv/Conv ->' "$out/stemmma_bench_${v}_$round.txt" |
        head -n 8
    done
  done
fi
if [[ $parts == *" profile "* ]]; then
  for v in mma exact; do
    echo "== profile, batch 128, FUNGEN_CUDA_STEMFUSE=$v (graphs off): model.0 / model.1 steps"
    FUNGEN_CUDA_STEMFUSE=$v FUNGEN_CUDA_PROFILE=1 timeout 20 fungen_gpu_bench --model "$m" \
      --no-check --batches 128 --iterations 3 > "$out/stemmma_profile_$v.txt" 2>&1
    grep -E 'ms per run' "$out/stemmma_profile_$v.txt" | head -n 2
    grep -E 'model\.[01]/|stem|cast input' "$out/stemmma_profile_$v.txt" | head -n 6
  done
fi
exit 0
