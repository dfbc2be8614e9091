#!/usr/bin/env bash
# Session 5's short look at branches stemmma and dwfuse in one call (binaries on PATH, see
# bench/gpu/session5_test.sh): their unit tests, YOLO11n vs the CPU at batch 1 with each forced,
# the autotune's choices, and batch 128 default vs each switched off. ~3 minutes.
set -uo pipefail
out=${OUT:-/tmp/out}; mkdir -p "$out"
m=${S5_MODEL:-/opt/models/yolo11n_640_dyn.onnx}
row() { grep -E '^\| [0-9]|check fp16 run 2|FAILED|rror'; }
echo "== unit tests: *StemFuse*:*Dwfuse*"
timeout 150 fungen_unit_tests --gtest_filter='*StemFuse*:*Dwfuse*' > "$out/unit_s5fuse.txt" 2>&1
echo "exit $?"
grep -E '^\[  (PASSED|FAILED) |^\[  FAILED|Failure' "$out/unit_s5fuse.txt" | head -n 20
for v in FUNGEN_CUDA_STEMFUSE=mma FUNGEN_CUDA_DWFUSE=1; do
  echo "== $v: YOLO11n vs the CPU, batch 1"
  env $v timeout 30 fungen_gpu_bench --model "$m" --batches 1 --iterations 10 2>&1 | row
done
echo "== default: the autotune's choices (batch 128)"
FUNGEN_LOG=info timeout 30 fungen_gpu_bench --model "$m" --no-check --batches 128 --iterations 30 \
  2>&1 | grep -E 'stemfuse|dwfuse|depthwise input|^\| [0-9]' | cut -c1-240 | sort -u | head -n 20
for v in FUNGEN_CUDA_DWFUSE=0 FUNGEN_CUDA_STEMFUSE=exact; do
  echo "== $v, then default (batch 1, 128)"
  env $v timeout 25 fungen_gpu_bench --model "$m" --no-check --batches 1,128 --iterations 30 2>&1 | row
  timeout 25 fungen_gpu_bench --model "$m" --no-check --batches 1,128 --iterations 30 2>&1 | row
done
