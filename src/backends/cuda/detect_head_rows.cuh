// detect_head_rows.cuh — the Detect head kernel for the anchor-major input (head_rows.h): one
// block of kRowsThreads threads takes kRowsAnchors consecutive anchors a0.. of one image b. Their
// input rows are one contiguous run of n * ld elements of X [B, A, ld] (box logits at columns
// [0, 4 * bins), class logits at [cls_offset, cls_offset + nc)), copied to shared memory with
// 16-byte loads, each row `head_rows_stride` words apart (an odd number: the lanes of a warp,
// one row each, read distinct banks). Then warp j (0..3) computes side j's DFL softmax-expectation
// for anchor a0 + lane, every warp a quarter of the class sigmoids (lanes along anchors: 128-byte
// stores of y rows), and after a barrier warp k writes box row k of the folded decode (the same
// math as detect_head.cu's kernel: y[k][a] = s[a] * (m0[k] . d) + c[k][a]).
// The block's work is a __device__ function here, its __global__ wrapper and launch in
// detect_head.cu, so that a host build can run the same source (tests/unit/
// test_cuda_head_rows_host.cpp with cuda_host_emulation.h).
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cfloat>
#include <cstdint>

#include "backends/cuda/detect_head.cuh"

// nvcc unrolls; a host build (the CPU test) does without.
#ifdef __CUDACC__
#define FUNGEN_ROWS_UNROLL _Pragma("unroll")
#else
#define FUNGEN_ROWS_UNROLL
#endif

namespace fungen::cuda {

inline constexpr int kRowsAnchors = 32;   // anchors per block: one per lane
inline constexpr int kRowsThreads = 128;  // 4 warps: one per box side, then per box row
inline constexpr int kRowsLoads = 4;      // 16-byte loads a thread has in flight

// 32-bit words between rows in shared memory: the row (ld elements, ld a multiple of 8), plus one
// (constexpr: the host sizes the shared memory with it, the kernel indexes with it).
constexpr int head_rows_stride(int ld, int elem_bytes) {
  return ld * elem_bytes / 4 + 1;
}
// Dynamic shared memory of a block.
inline size_t head_rows_smem_bytes(int ld, int elem_bytes) {
  return static_cast<size_t>(kRowsAnchors) * head_rows_stride(ld, elem_bytes) * 4;
}

namespace rows_detail {

__device__ __forceinline__ float to_float(float v) {
  return v;
}
__device__ __forceinline__ float to_float(__half v) {
  return __half2float(v);
}
__device__ __forceinline__ void put(float* p, float v) {
  *p = v;
}
__device__ __forceinline__ void put(__half* p, float v) {
  *p = __float2half_rn(v);
}
// m0[k][j] with k a register: selects among constant indices (a kernel parameter indexed by a
// register may be copied to local memory).
__device__ __forceinline__ float m0_at(const HeadKernelDesc& d, int k, int j) {
  return k == 0 ? d.m0[j] : k == 1 ? d.m0[4 + j] : k == 2 ? d.m0[8 + j] : d.m0[12 + j];
}

}  // namespace rows_detail

// Anchors a0 .. a0 + min(32, A - a0) - 1 of image b. `rows`: head_rows_smem_bytes of shared
// memory; `dist`: 4 * kRowsAnchors floats of shared memory. KB >= d.bins (bins in registers).
// Index math: the block's input run starts at element (b * A + a0) * ld (64-bit), offsets inside
// it and inside image b's output ((4 + nc) * A, checked by the launch) are 32-bit.
template <class TIn, class TOut, int KB>
__device__ __forceinline__ void head_rows_block(const TIn* __restrict__ x,
                                                const float* __restrict__ table,
                                                TOut* __restrict__ y, const HeadKernelDesc& d,
                                                int64_t b, int a0, uint32_t* rows, float* dist) {
  using rows_detail::put;
  using rows_detail::to_float;
  const int A = d.anchors, ld = d.ld, nc = d.classes;
  const int tid = static_cast<int>(threadIdx.x), warp = tid >> 5, lane = tid & 31;
  const int n = A - a0 < kRowsAnchors ? A - a0 : kRowsAnchors;
  const int stride = head_rows_stride(ld, static_cast<int>(sizeof(TIn)));
  // 1. The n rows, 16 bytes (chunk) at a time; a chunk never crosses a row (ld % 8 == 0).
  constexpr int kChunkElems = 16 / static_cast<int>(sizeof(TIn));
  const int row_chunks = ld / kChunkElems, total = n * row_chunks;
  const uint4* src = reinterpret_cast<const uint4*>(x + (b * A + a0) * static_cast<int64_t>(ld));
  for (int q0 = tid; q0 < total; q0 += kRowsLoads * kRowsThreads) {
    uint4 v[kRowsLoads] = {};  // (set where q < total, read only there)
    FUNGEN_ROWS_UNROLL
    for (int u = 0; u < kRowsLoads; ++u) {
      const int q = q0 + u * kRowsThreads;
      if (q < total) v[u] = src[q];
    }
    FUNGEN_ROWS_UNROLL
    for (int u = 0; u < kRowsLoads; ++u) {
      const int q = q0 + u * kRowsThreads;
      if (q < total) {
        const int r = q / row_chunks, c = q - r * row_chunks;
        uint32_t* dst = rows + r * stride + c * 4;
        dst[0] = v[u].x;
        dst[1] = v[u].y;
        dst[2] = v[u].z;
        dst[3] = v[u].w;
      }
    }
  }
  __syncthreads();
  const TIn* row = reinterpret_cast<const TIn*>(rows + lane * stride);
  TOut* yb = y + b * static_cast<int64_t>(4 + nc) * A;
  // 2. Side `warp` of anchor a0 + lane: max, then the exp-sums over the bins.
  if (lane < n) {
    const TIn* xj = row + warp * d.bins;
    float v[KB];
    float m = -FLT_MAX;
    FUNGEN_ROWS_UNROLL
    for (int i = 0; i < KB; ++i) {
      if (i < d.bins) {
        v[i] = to_float(xj[i]);
        m = fmaxf(m, v[i]);
      }
    }
    float sum = 0.0f, acc = 0.0f;
    FUNGEN_ROWS_UNROLL
    for (int i = 0; i < KB; ++i) {
      if (i < d.bins) {
        const float e = __expf(v[i] - m);
        sum += e;
        acc += e * d.w[i];
      }
    }
    dist[warp * kRowsAnchors + lane] = acc / sum + d.bias;
  }
  // 3. Class sigmoids: warp w takes classes w, w + 4, ...; a warp's store is 32 consecutive
  // anchors of one output row.
  if (lane < n) {
    const TIn* xc = row + d.cls_offset;
    TOut* yc = yb + 4 * A + a0 + lane;
    for (int c = warp; c < nc; c += 4) put(yc + c * A, 1.0f / (1.0f + __expf(-to_float(xc[c]))));
  }
  __syncthreads();  // the 4 sides are in `dist`
  // 4. Box row k = warp.
  if (lane < n) {
    const int k = warp, a = a0 + lane;
    float v = 0.0f;
    FUNGEN_ROWS_UNROLL
    for (int j = 0; j < 4; ++j) v += rows_detail::m0_at(d, k, j) * dist[j * kRowsAnchors + lane];
    put(yb + k * A + a, table[a] * v + table[(1 + k) * A + a]);
  }
}

}  // namespace fungen::cuda
