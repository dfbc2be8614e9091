#!/usr/bin/env bash
# bench/gpu/device_run.sh `fungen` stage: 1080p BGR frame in host memory → detections in host
# memory through Detector::detect on the GPU pipeline (latency at batch 1, img/s at 8 and 32),
# after a check of every timed batch against the CPU path; per-stage device times for the mask,
# per-box and grouped NMS at the end.
for m in ${MODELS:-yolo11n}; do
  fungen_pipeline_bench --model /opt/models/${m}_640_dyn.onnx --batches ${PIPELINE_BATCHES:-1,8,32}
done
# cuDNN's heuristic algorithm choice (0.69 ms model-only at batch 1 on the H100 vs 1.77 measured).
for m in ${MODELS:-yolo11n}; do
  FUNGEN_CUDA_CONV_ALGO=heuristic fungen_pipeline_bench --model /opt/models/${m}_640_dyn.onnx \
    --batches 1 --iterations 100
done
# The mask NMS without its top-candidates pass, for comparison (batch 1 latency, breakdown).
for m in ${MODELS:-yolo11n}; do
  FUNGEN_GPU_NMS_TOPK=0 fungen_pipeline_bench --model /opt/models/${m}_640_dyn.onnx --batches 1
done
