#!/usr/bin/env bash
# Issue 5 (cuda backend speed): the per-step profile of YOLO11n at batch 128 (FUNGEN_CUDA_PROFILE=1:
# graphs off, steps ranked by device ms, node names and kernels; in $OUT/profile128.txt) and the
# A/B switches of the cuda backend against the default: FUNGEN_CUDA_DIRECT=0 (depthwise and
# first-layer convs back on cuDNN), FUNGEN_CUDA_CONV_ALGO=find (cuDNN's timed search instead of
# its heuristic), FUNGEN_CUDA_FP16_ALGOS=all (fp16 convs may take cuDNN's FFT/Winograd again, as
# in v3), FUNGEN_CUDA_GEMM1X1=1 (1x1 convs as cuBLAS GEMMs; checked against the CPU too, and
# profiled at b128 in $OUT/profile128_gemm1x1.txt). Run by bench/gpu/device_run.sh's fungen
# stage (fungen_gpu_bench on PATH).
# FUNGEN_CUDA_FUSED=1 (cuDNN runtime fusion) is left out: its plans take ~25 s to build at b128.
set -uo pipefail
out=${OUT:-/tmp/out}
m=${CUDA_VARIANTS_MODEL:-/opt/models/yolo11n_640_dyn.onnx}
[ -f "$m" ] || { echo "cuda_variants: $m missing, skipped"; exit 0; }
echo "== cuda profile, batch 128 (graphs off)"
FUNGEN_CUDA_PROFILE=1 fungen_gpu_bench --model "$m" --no-check --batches 128 --iterations 3 \
  > "$out/profile128.txt" 2>&1
head -n 45 "$out/profile128.txt"
for v in FUNGEN_CUDA_DIRECT=0 FUNGEN_CUDA_CONV_ALGO=find FUNGEN_CUDA_FP16_ALGOS=all; do
  echo "== $v"
  env "$v" fungen_gpu_bench --model "$m" --no-check --batches 1,128 --iterations 20 2>&1 | grep '^|'
done
echo "== FUNGEN_CUDA_GEMM1X1=1 (1x1 convs as cuBLAS GEMMs): check vs CPU, then timing"
FUNGEN_CUDA_GEMM1X1=1 fungen_gpu_bench --model "$m" --batches 1,128 --iterations 20 2>&1 |
  grep -E '^\||check|FAILED'
echo "== FUNGEN_CUDA_GEMM1X1=check: each GEMM against cuDNN's convolution of the same operands"
FUNGEN_CUDA_GEMM1X1=check fungen_gpu_bench --model "$m" --batches 1 --iterations 1 \
  > "$out/gemm1x1_check.txt" 2>&1
grep -E '^check' "$out/gemm1x1_check.txt"
echo "(the 12 largest of $(grep -c 'gemm1x1 check' "$out/gemm1x1_check.txt") GEMM-vs-cuDNN lines; all in gemm1x1_check.txt)"
grep 'gemm1x1 check' "$out/gemm1x1_check.txt" | sort -t' ' -k11 -g -r | head -n 12
FUNGEN_CUDA_GEMM1X1=1 FUNGEN_CUDA_PROFILE=1 fungen_gpu_bench --model "$m" --no-check --batches 128 \
  --iterations 3 > "$out/profile128_gemm1x1.txt" 2>&1
head -n 45 "$out/profile128_gemm1x1.txt"
