#!/usr/bin/env bash
# bench/gpu/device_run.sh `check` stage: the detector's GPU pre/post-processing against the CPU
# path (fused letterbox, GPU NMS: mask, per-box and grouped, Detector::detect with and without it
# on the same engine; a failing detect check prints a stage-by-stage diagnosis).
for m in ${MODELS:-yolo11n}; do
  for p in fp16 fp32; do
    fungen_pipeline_bench --model /opt/models/${m}_640_dyn.onnx --precision $p --check-only
  done
done
for nms in perbox grouped; do
  FUNGEN_GPU_NMS=$nms fungen_pipeline_bench --model /opt/models/yolo11n_640_dyn.onnx --check-only
done
# The mask NMS without its top-candidates pass (every image through the full sort and bitmask).
FUNGEN_GPU_NMS_TOPK=0 fungen_pipeline_bench --model /opt/models/yolo11n_640_dyn.onnx --check-only
