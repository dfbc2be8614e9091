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

// How the greedy NMS runs (all give the CPU's result; see postprocess.cu):
// kMask: the IoU bitmask of all candidate pairs on the whole GPU, then one block per image walks
//   it 64 candidates per step (the fast one; falls back to kPerBox when its workspace would
//   exceed kMaskBudgetBytes);
// kPerBox: one block per image, one block barrier per kept box;
// kGrouped: one block per image, warp 0 decides 32 candidates per pass.
enum class NmsMethod { kMask, kPerBox, kGrouped };

inline constexpr size_t kMaskBudgetBytes = size_t{2} << 30;

struct DetectParams {
  float conf = 0.25f, iou = 0.45f;  // conf and iou in [0, 1] (Detector::detect checks them)
  int max_det = 300, max_nms = 30000;
  bool agnostic = false;
  NmsMethod method = NmsMethod::kMask;
  const uint8_t* allowed = nullptr;  // device flags per class id < num_allowed; null: all classes
  int num_allowed = 0;
};

struct DetectOutput {
  float* dets = nullptr;  // [B][max_det][6]
  int* count = nullptr;   // [B]
};

// Device scratch for raw_detect at this batch and anchor count (one allocation, carved inside);
// includes the kMask bitmask (batch · anchors · ⌈anchors/64⌉ · 8 bytes) when that fits
// kMaskBudgetBytes.
size_t raw_detect_workspace_bytes(int batch, int anchors);
// Whether raw_detect runs kMask at this batch and anchor count when asked to.
bool mask_nms_fits(int batch, int anchors);

// For timing (bench/gpu/pipeline_breakdown.cpp): events raw_detect records on its stream after
// the candidate kernel, after the sort and after the IoU bitmask (the last two with kMask only,
// of its top-candidates pass when that runs, see nms_mask.cu; the other methods sort inside
// their NMS kernel). Null events are not recorded.
struct DetectMarks {
  cudaEvent_t candidates = nullptr, sorted = nullptr, masked = nullptr;
};

// `out` is the head's fp32 output in device memory. Everything is enqueued on `stream`
// (capturable in a CUDA graph); returns a CUDA error code of the launches.
cudaError_t raw_detect(const float* out, int batch, int channels, int anchors,
                       const DetectParams& p, void* workspace, size_t workspace_bytes,
                       const DetectOutput& result, cudaStream_t stream,
                       const DetectMarks* marks = nullptr);

cudaError_t end_to_end_detect(const float* out, int batch, int rows, int cols,
                              const DetectParams& p, const DetectOutput& result,
                              cudaStream_t stream);

}  // namespace fungen::cuda
