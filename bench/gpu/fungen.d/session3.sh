#!/usr/bin/env bash
# Issue 5, session 3 (run by bench/gpu/device_run.sh's fungen stage): YOLO11n
#  1. the per-step profile at batch 128 with every default on (DFL head in one kernel, stem
#     kernel, 32-bit depthwise indices, per-conv igemm/cuDNN choice): $OUT/profile128_final.txt;
#  2. A/B of the DFL fusion (FUNGEN_CUDA_DFL=0) at batches 1 and 128;
#  3. 1080p BGR host frame -> host detections (fungen_pipeline_bench) at batches 1, 8, 32.
set -uo pipefail
out=${OUT:-/tmp/out}
m=${SESSION3_MODEL:-/opt/models/yolo11n_640_dyn.onnx}
[ -f "$m" ] || { echo "session3: $m missing, skipped"; exit 0; }
echo "== profile, batch 128, defaults (graphs off)"
FUNGEN_CUDA_PROFILE=1 timeout 60 fungen_gpu_bench --model "$m" --no-check --batches 128 \
  --iterations 3 > "$out/profile128_final.txt" 2>&1
grep -E '^ +[0-9]' "$out/profile128_final.txt" | head -n 25
echo "== FUNGEN_CUDA_DFL=0 (DFL as transpose + softmax + conv)"
FUNGEN_CUDA_DFL=0 timeout 60 fungen_gpu_bench --model "$m" --batches 1,128 --iterations 20 2>&1 |
  grep -E '^\||check fp(16|32) run 0'
echo "== frame -> detections (pipeline)"
timeout 60 fungen_pipeline_bench --model "$m" --batches 1,8,32 2>&1 | tee "$out/pipeline.txt" | head -n 40
