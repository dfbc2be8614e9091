#!/usr/bin/env bash
# Issue 5, session 4 (run by bench/gpu/device_run.sh's fungen stage, or alone): YOLO11n
#  1. multi-stream capture (FUNGEN_CUDA_LANES, default 4) against one stream, batches 1/32/128,
#     alternating processes (batch-1 times vary by ~5% from process to process);
#  2. the attention transposes folded into cuBLAS (FUNGEN_CUDA_FOLD_TRANSPOSE=0: not);
#  3. 1080p BGR host frame -> host detections (fungen_pipeline_bench) at batch 1, lanes 4 and 1.
set -uo pipefail
out=${OUT:-/tmp/out}
m=${LANES_MODEL:-/opt/models/yolo11n_640_dyn.onnx}
[ -f "$m" ] || { echo "lanes: $m missing, skipped"; exit 0; }
row() { grep -E '^\| [0-9]|check fp(16|32) run 2'; }
FUNGEN_LOG=info FUNGEN_CUDA_LANES_DUMP=1 timeout 60 fungen_gpu_bench --model "$m" --no-check \
  --batches 1 --iterations 5 > "$out/lanes_dump_b1.txt" 2>&1
grep -E 'cuda lanes' "$out/lanes_dump_b1.txt" | head -n 3
for rep in 1 2; do
  for v in FUNGEN_CUDA_LANES=1 FUNGEN_CUDA_LANES=4 FUNGEN_CUDA_LANES=2 FUNGEN_CUDA_FOLD_TRANSPOSE=0; do
    echo "== $v (rep $rep)"
    env $v timeout 90 fungen_gpu_bench --model "$m" --no-check --batches 1,32,128 --iterations 30 2>&1 | row
  done
done
echo "== frame -> detections (pipeline, lanes 4 then 1)"
for v in FUNGEN_CUDA_LANES=4 FUNGEN_CUDA_LANES=1; do
  env $v timeout 60 fungen_pipeline_bench --model "$m" --batches 1 2>&1 | grep -E '^ +(model|sum)|FAIL' | head -n 6
done
