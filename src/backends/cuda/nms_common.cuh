// nms_common.cuh — what postprocess.cu and nms_mask.cu share (.cu files only): the workspace
// layout, the candidate sort and the IoU test with the exact float operations of
// detect/postprocess.cpp (_rn intrinsics: no FMA contraction, so results match the CPU's bits).
#pragma once

#include <cstddef>
#include <cstdint>

#include "backends/cuda/postprocess.cuh"

namespace fungen::cuda {

inline constexpr float kClassOffset = 7680.f;  // Ultralytics' max_wh, as postprocess.cpp
inline constexpr int kNmsThreads = 1024;

inline int anchor_bits(int anchors) {
  int bits = 1;
  while ((int64_t{1} << bits) < anchors) ++bits;
  return bits;
}

inline size_t align256(size_t n) {
  return (n + 255) & ~size_t{255};
}

inline int next_pow2(int n) {
  int p = 1;
  while (p < n) p <<= 1;
  return p;
}

// 64-bit words per row of the kMask bitmask.
inline int mask_words_of(int anchors) {
  return (anchors + 63) / 64;
}

inline size_t mask_bytes(int batch, int anchors) {
  return static_cast<size_t>(batch) * anchors * mask_words_of(anchors) * 8;
}

// The workspace, carved in this order.
struct Workspace {
  int* count = nullptr;                    // [B] candidates per image
  unsigned long long* keys_in = nullptr;   // [B*A] compacted candidate keys (kMask: sorted)
  unsigned long long* keys_big = nullptr;  // [B*P] sort space when shared memory is too small
  float4* boxes = nullptr;                 // [B*A] by anchor: x1, y1, x2, y2
  float* scores = nullptr;                 // [B*A]
  int* classes = nullptr;                  // [B*A]
  float4* shifted = nullptr;               // [B*A] by rank: class-offset boxes
  int* n_nms = nullptr;                    // [B] candidates that enter NMS (kMask)
  int* done = nullptr;                     // [B] kMask: 1 once the top-candidates pass decided
  unsigned long long* mask = nullptr;      // [B*A][mask_words_of(A)] (kMask), null if too big
};

inline Workspace carve(void* base, int batch, int anchors) {
  auto* p = static_cast<char*>(base);
  size_t n = static_cast<size_t>(batch) * anchors;
  Workspace w;
  auto take = [&](size_t bytes) {
    void* r = p;
    p += align256(bytes);
    return r;
  };
  w.count = static_cast<int*>(take(sizeof(int) * batch));
  w.keys_in = static_cast<unsigned long long*>(take(8 * n));
  w.keys_big =
      static_cast<unsigned long long*>(take(8 * static_cast<size_t>(batch) * next_pow2(anchors)));
  w.boxes = static_cast<float4*>(take(sizeof(float4) * n));
  w.scores = static_cast<float*>(take(sizeof(float) * n));
  w.classes = static_cast<int*>(take(sizeof(int) * n));
  w.shifted = static_cast<float4*>(take(sizeof(float4) * n));
  w.n_nms = static_cast<int*>(take(sizeof(int) * batch));
  w.done = static_cast<int*>(take(sizeof(int) * batch));
  if (mask_bytes(batch, anchors) <= kMaskBudgetBytes)
    w.mask = static_cast<unsigned long long*>(take(mask_bytes(batch, anchors)));
  return w;
}

// Bytes carve() hands out (plus slack for the base's alignment).
inline size_t workspace_bytes_of(int batch, int anchors) {
  size_t n = static_cast<size_t>(batch) * anchors;
  size_t bytes = 3 * align256(sizeof(int) * batch) + align256(8 * n) +
                 align256(8 * static_cast<size_t>(batch) * next_pow2(anchors)) +
                 2 * align256(sizeof(float4) * n) + 2 * align256(4 * n) + 256;
  if (mask_bytes(batch, anchors) <= kMaskBudgetBytes) bytes += align256(mask_bytes(batch, anchors));
  return bytes;
}

__device__ __forceinline__ int next_pow2_device(int n) {
  int p = 1;
  while (p < n) p <<= 1;
  return p;
}

// Ascending bitonic sort of n (a power of two) keys by one block.
__device__ __forceinline__ void bitonic_sort(unsigned long long* k, int n) {
  for (int size = 2; size <= n; size <<= 1) {
    for (int stride = size >> 1; stride > 0; stride >>= 1) {
      for (int i = threadIdx.x; i < n; i += blockDim.x) {
        int j = i ^ stride;
        if (j > i) {
          unsigned long long a = k[i], b = k[j];
          bool ascending = (i & size) == 0;
          if ((a > b) == ascending) k[i] = b, k[j] = a;
        }
      }
      __syncthreads();
    }
  }
}

// Image `b`'s candidate keys sorted ascending (score descending, then anchor) in `keys` (shared
// memory when `in_smem`, else its keys_big slice), and its first n (max_nms) boxes class-offset
// into w.shifted by rank. Returns n. Called by every thread of the block.
__device__ __forceinline__ int sort_candidates(unsigned long long* keys, int anchors, int abits,
                                               const DetectParams& p, const Workspace& w, int b) {
  const int64_t base = static_cast<int64_t>(b) * anchors;
  const int n_all = w.count[b];
  const int sorted_n = next_pow2_device(n_all);
  for (int k = threadIdx.x; k < sorted_n; k += blockDim.x)
    keys[k] = k < n_all ? w.keys_in[base + k] : ~0ull;
  __syncthreads();
  bitonic_sort(keys, sorted_n);
  int n = n_all;
  if (p.max_nms > 0 && n > p.max_nms) n = p.max_nms;
  const unsigned long long amask = (1ull << abits) - 1;
  for (int j = threadIdx.x; j < n; j += blockDim.x) {
    int a = static_cast<int>(keys[j] & amask);
    float4 box = w.boxes[base + a];
    if (!p.agnostic) {
      float off = __fmul_rn(static_cast<float>(w.classes[base + a]), kClassOffset);
      box = make_float4(__fadd_rn(box.x, off), __fadd_rn(box.y, off), __fadd_rn(box.z, off),
                        __fadd_rn(box.w, off));
    }
    w.shifted[base + j] = box;
  }
  __syncthreads();
  return n;
}

// postprocess.cpp iou(), operation for operation.
__device__ __forceinline__ float iou(float4 a, float4 b) {
  float area_a = __fmul_rn(__fsub_rn(a.z, a.x), __fsub_rn(a.w, a.y));
  float area_b = __fmul_rn(__fsub_rn(b.z, b.x), __fsub_rn(b.w, b.y));
  float x2 = b.z < a.z ? b.z : a.z, x1 = a.x < b.x ? b.x : a.x;
  float y2 = b.w < a.w ? b.w : a.w, y1 = a.y < b.y ? b.y : a.y;
  float ww = __fsub_rn(x2, x1), hh = __fsub_rn(y2, y1);
  ww = 0.f < ww ? ww : 0.f;
  hh = 0.f < hh ? hh : 0.f;
  float inter = __fmul_rn(ww, hh);
  return __fdiv_rn(inter, __fsub_rn(__fadd_rn(area_a, area_b), inter));
}

// iou(a, b) > thr for thr >= 0, skipping the division when the boxes do not overlap: then the
// CPU's IoU is 0, -0 or NaN (empty union), none of which is > thr, so the answer is the same.
__device__ __forceinline__ bool iou_above(float4 a, float4 b, float thr) {
  float x2 = b.z < a.z ? b.z : a.z, x1 = a.x < b.x ? b.x : a.x;
  if (!(__fsub_rn(x2, x1) > 0.f)) return false;
  float y2 = b.w < a.w ? b.w : a.w, y1 = a.y < b.y ? b.y : a.y;
  if (!(__fsub_rn(y2, y1) > 0.f)) return false;
  return iou(a, b) > thr;
}

// kMask NMS (nms_mask.cu) after the candidates kernel: sort, bitmask, walk; fills `r`.
cudaError_t launch_mask_nms(int batch, int anchors, int abits, const DetectParams& p,
                            const Workspace& w, const DetectOutput& r, int optin_smem,
                            cudaStream_t stream, const DetectMarks* marks);

}  // namespace fungen::cuda
