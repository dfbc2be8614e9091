// postprocess.cuh — YOLO detections on the GPU with the semantics of detect/postprocess.cpp, so
// only the detections cross PCIe. Raw heads [B, 4+nc, A]: best class per anchor, score > conf,
// class filter, a stable sort by score (ties: anchor order), at most max_nms candidates,
// class-offset greedy NMS in float32 (IoU > iou suppresses), at most max_det kept. End-to-end
// heads [B, K, cols]: score > conf, class filter, the first max_det rows in order.
// Each image's result is `count[b]` rows of 6 floats (x1, y1, x2, y2, score, class) in
// model-input pixels at dets + b·max_det·6, in the order the CPU path returns them.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace fungen::cuda {

struct DetectParams {
  float conf = 0.25f, iou = 0.45f;  // conf and iou in [0, 1] (Detector::detect checks them)
  int max_det = 300, max_nms = 30000;
  bool agnostic = false;
  bool grouped = false;  // NMS decides 32 candidates per block pass (same result; see .cu)
  const uint8_t* allowed = nullptr;  // device flags per class id < num_allowed; null: all classes
  int num_allowed = 0;
};

struct DetectOutput {
  float* dets = nullptr;  // [B][max_det][6]
  int* count = nullptr;   // [B]
};

// Device scratch for raw_detect at this batch and anchor count (one allocation, carved inside).
size_t raw_detect_workspace_bytes(int batch, int anchors);

// `out` is the head's fp32 output in device memory. Everything is enqueued on `stream`
// (capturable in a CUDA graph); returns a CUDA error code of the launches.
cudaError_t raw_detect(const float* out, int batch, int channels, int anchors,
                       const DetectParams& p, void* workspace, size_t workspace_bytes,
                       const DetectOutput& result, cudaStream_t stream);

cudaError_t end_to_end_detect(const float* out, int batch, int rows, int cols,
                              const DetectParams& p, const DetectOutput& result,
                              cudaStream_t stream);

}  // namespace fungen::cuda
