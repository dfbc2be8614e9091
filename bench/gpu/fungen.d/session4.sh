#!/usr/bin/env bash
# Issue 5, session 4: everything merged so far, in one call (binaries on PATH, models exported).
#  unit     every CUDA test; then again with FUNGEN_CUDA_IGEMM=1 FUNGEN_CUDA_PERSIST=1 (every conv
#           the kernels take on igemm / the persistent 1x1 kernel)
#  check    fungen_gpu_bench correctness (CPU fp32 vs cuda fp16/fp32, 3 runs) on YOLO11n and
#           YOLO12s, and the batch-1/32/128 timings with every default on
#  ab       one switch off at a time (alternating with defaults; S4_AB lists them)
#  profile  the per-step b128 profile with defaults: $OUT/profile128_s4.txt
#  pipeline 1080p BGR host frame -> host detections, batch 1
# S4_PARTS selects (default: all).
set -uo pipefail
out=${OUT:-/tmp/out}
m=${S4_MODEL:-/opt/models/yolo11n_640_dyn.onnx}
parts=${S4_PARTS:-unit check ab profile pipeline}
has() { [[ " $parts " == *" $1 "* ]]; }
row() { grep -E '^\| [0-9]|check fp(16|32) run 2|FAILED'; }
if has unit; then
  echo "== unit (defaults)"
  tgz=${S4_MODELS_TGZ:-.devcarry-p2/models37.tgz}  # weight-stripped test exports (head tests)
  if [ -f "$tgz" ] && [ ! -d /tmp/m37 ]; then tar xzf "$tgz" -C /tmp; fi
  FUNGEN_TEST_MODELS=/tmp/m37:/opt/models FUNGEN_TEST_YOLO11N="$m" timeout 240 fungen_unit_tests \
    --gtest_filter='*Cuda*:*Gpu*:*GPU*:*Stem*:*Dual*' \
    > "$out/unit_s4.txt" 2>&1; grep -E '^\[  (PASSED|FAILED) |tests ran|^\[  FAILED' "$out/unit_s4.txt" | head -n 20
  echo "== unit (FUNGEN_CUDA_IGEMM=1 FUNGEN_CUDA_PERSIST=1 FUNGEN_CUDA_TILE3=1)"
  FUNGEN_TEST_YOLO11N="$m" FUNGEN_CUDA_IGEMM=1 FUNGEN_CUDA_PERSIST=1 FUNGEN_CUDA_TILE3=1 timeout 200 fungen_unit_tests \
    --gtest_filter='*Cuda*:*Stem*:*Dual*:-*Autotune*' > "$out/unit_s4_igemm.txt" 2>&1
  grep -E '^\[  (PASSED|FAILED) |tests ran|^\[  FAILED' "$out/unit_s4_igemm.txt" | head -n 20
fi
if has check; then
  for mm in "$m" /opt/models/yolo12s_640_dyn.onnx; do
    [ -f "$mm" ] || continue
    echo "== $(basename "$mm") defaults"
    timeout 150 fungen_gpu_bench --model "$mm" --batches 1,32,128 --iterations 30 2>&1 | row
  done
fi
if has ab; then
  for v in ${S4_AB:-FUNGEN_CUDA_HEAD=0 FUNGEN_CUDA_STEM=old FUNGEN_CUDA_LANES=1 FUNGEN_CUDA_PERSIST=0}; do
    echo "== $v"
    env $v timeout 90 fungen_gpu_bench --model "$m" --no-check --batches 1,128 --iterations 30 2>&1 | row
    echo "== defaults"
    timeout 90 fungen_gpu_bench --model "$m" --no-check --batches 1,128 --iterations 30 2>&1 | row
  done
fi
if has profile; then
  FUNGEN_CUDA_PROFILE=1 timeout 90 fungen_gpu_bench --model "$m" --no-check --batches 128 \
    --iterations 3 > "$out/profile128_s4.txt" 2>&1
  grep -E '^ +[0-9]' "$out/profile128_s4.txt" | head -n 30
fi
if has pipeline; then
  echo "== frame -> detections (pipeline, batch 1)"
  timeout 60 fungen_pipeline_bench --model "$m" --batches 1 2>&1 | tee "$out/pipeline_s4.txt" |
    grep -E '^ +(model|sum|upload|letterbox|detections|download)|FAIL|PASS pipeline' | head -n 8
fi
