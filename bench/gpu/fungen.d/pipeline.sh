#!/usr/bin/env bash
# bench/gpu/device_run.sh `fungen` stage: 1080p BGR frame in host memory → detections in host
# memory through Detector::detect on the GPU pipeline (latency at batch 1, img/s at 8 and 32).
for m in ${MODELS:-yolo11n}; do
  fungen_pipeline_bench --model /opt/models/${m}_640_dyn.onnx --batches ${PIPELINE_BATCHES:-1,8,32}
done
# The grouped NMS variant (32 candidates per block pass) through the detector, for comparison.
for m in ${MODELS:-yolo11n}; do
  FUNGEN_GPU_NMS=grouped fungen_pipeline_bench --model /opt/models/${m}_640_dyn.onnx --batches 1 --iterations 100
done
