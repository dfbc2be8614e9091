#!/usr/bin/env bash
# Issue 5, session 4 (run by bench/gpu/device_run.sh's fungen stage, or alone): YOLO11n
#  1. multi-stream capture (FUNGEN_CUDA_LANES, default 4) against one stream, batches 1/32/128;
#  2. the attention transposes folded into cuBLAS (FUNGEN_CUDA_FOLD_TRANSPOSE=0: not);
#  3. cuDNN only (FUNGEN_CUDA_IGEMM=0) against the measured per-conv choice, batch 1 and 128;
#  4. 1080p BGR host frame -> host detections (fungen_pipeline_bench) at batch 1.
set -uo pipefail
out=${OUT:-/tmp/out}
m=${LANES_MODEL:-/opt/models/yolo11n_640_dyn.onnx}
[ -f "$m" ] || { echo "lanes: $m missing, skipped"; exit 0; }
row() { grep -E '^\| [0-9]|check fp(16|32) run 2'; }
for v in FUNGEN_CUDA_LANES=1 FUNGEN_CUDA_FOLD_TRANSPOSE=0 FUNGEN_CUDA_IGEMM=0; do
  echo "== $v"
  env $v timeout 90 fungen_gpu_bench --model "$m" --no-check --batches 1,32,128 --iterations 30 2>&1 | row
  echo "== defaults (same process order)"
  timeout 90 fungen_gpu_bench --model "$m" --no-check --batches 1,32,128 --iterations 30 2>&1 | row
done
echo "== frame -> detections (pipeline, lanes 4 then 1)"
timeout 60 fungen_pipeline_bench --model "$m" --batches 1 2>&1 | tee "$out/pipeline.txt" | grep -E 'sum|model|PASS|FAIL|host' | head -n 20
FUNGEN_CUDA_LANES=1 timeout 60 fungen_pipeline_bench --model "$m" --batches 1 2>&1 | grep -E 'sum|model|PASS|FAIL|host' | head -n 12
