// YOLO's Detect head tail in one kernel (detect_head.cuh). Threads run along anchors, so every
// load and store of a warp is one contiguous run of a channel row; blockIdx.y picks the part of
// an anchor's work: 0 the DFL softmax-expectation of the 4 sides (max, then exp-sums, as
// softmax.cu's expectation kernel) and the box decode, 1.. a chunk of kClassChunk class scores
// (more threads in flight at batch 1).
#include <cfloat>
#include <climits>
#include <cstdint>

#include "backends/cuda/common.cuh"
#include "backends/cuda/detect_head.cuh"
#include "backends/cuda/detect_head_rows.cuh"

namespace fungen::cuda {
namespace {

constexpr int kHeadThreads = 128;
constexpr int kClassChunk = 16;

// KB: bins held in registers (>= d.bins): every load of a side (and of a class chunk) is issued
// before the arithmetic that needs it, so at batch 1, where few threads run, a thread waits for
// memory once per side (4) or class chunk (1) rather than once per element. At most 80 registers
// (6 blocks of 128 per SM; ptxas, sm_90: no spills in fp32, 12 bytes in fp16 at KB 16): the
// kernel streams memory, resident warps matter more than a few spilled values.
template <class TIn, class TOut, int KB>
__global__ void __launch_bounds__(kHeadThreads, 6)
    detect_head_kernel(const TIn* __restrict__ box_x, const TIn* __restrict__ cls_x,
                       const float* __restrict__ table, TOut* __restrict__ y, HeadKernelDesc d) {
  const int a = static_cast<int>(blockIdx.x) * kHeadThreads + static_cast<int>(threadIdx.x);
  if (a >= d.anchors) return;
  const int64_t A = d.anchors;
  const int part = static_cast<int>(blockIdx.y);
  for (int64_t b = blockIdx.z; b < d.batch; b += gridDim.z) {
    TOut* yb = y + b * (4 + d.classes) * A + a;
    if (part == 0) {
      const TIn* xb = box_x + b * 4 * d.bins * A + a;
      float dist[4];
#pragma unroll 1
      for (int j = 0; j < 4; ++j) {  // one side at a time: few registers, more warps resident
        const TIn* xj = xb + static_cast<int64_t>(j) * d.bins * A;
        float v[KB];
        float m = -FLT_MAX;
#pragma unroll
        for (int i = 0; i < KB; ++i) {
          if (i < d.bins) {
            v[i] = load(xj, static_cast<int64_t>(i) * A);
            m = fmaxf(m, v[i]);
          }
        }
        float sum = 0.0f, acc = 0.0f;
#pragma unroll
        for (int i = 0; i < KB; ++i) {
          if (i < d.bins) {
            const float e = __expf(v[i] - m);
            sum += e;
            acc += e * d.w[i];
          }
        }
        dist[j] = acc / sum + d.bias;
      }
      const float s = table[a];
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        const float v = d.m0[4 * k] * dist[0] + d.m0[4 * k + 1] * dist[1] +
                        d.m0[4 * k + 2] * dist[2] + d.m0[4 * k + 3] * dist[3];
        store(yb, k * A, s * v + table[(1 + k) * A + a]);
      }
    } else {
      const int c0 = (part - 1) * kClassChunk;
      const TIn* cb = cls_x + b * d.classes * A + a;
      float v[kClassChunk];
#pragma unroll
      for (int q = 0; q < kClassChunk; ++q) {
        if (c0 + q < d.classes) v[q] = load(cb, static_cast<int64_t>(c0 + q) * A);
      }
#pragma unroll
      for (int q = 0; q < kClassChunk; ++q) {
        if (c0 + q < d.classes)
          store(yb, static_cast<int64_t>(4 + c0 + q) * A, 1.0f / (1.0f + __expf(-v[q])));
      }
    }
  }
}

template <class TIn, class TOut>
void launch(const void* box_x, const void* cls_x, const float* table, void* y,
            const HeadKernelDesc& d, cudaStream_t s) {
  const unsigned parts = 1 + static_cast<unsigned>((d.classes + kClassChunk - 1) / kClassChunk);
  const dim3 grid(static_cast<unsigned>((d.anchors + kHeadThreads - 1) / kHeadThreads), parts,
                  static_cast<unsigned>(d.batch < 65535 ? d.batch : 65535));
  auto* bx = static_cast<const TIn*>(box_x);
  auto* cx = static_cast<const TIn*>(cls_x);
  auto* out = static_cast<TOut*>(y);
  if (d.bins <= 16)
    detect_head_kernel<TIn, TOut, 16><<<grid, kHeadThreads, 0, s>>>(bx, cx, table, out, d);
  else
    detect_head_kernel<TIn, TOut, kHeadMaxBins>
        <<<grid, kHeadThreads, 0, s>>>(bx, cx, table, out, d);
}

// Anchor-major input (detect_head_rows.cuh): blockIdx.x the anchor block, images along y.
template <class TIn, class TOut, int KB>
__global__ void __launch_bounds__(kRowsThreads)
    detect_head_rows_kernel(const TIn* __restrict__ x, const float* __restrict__ table,
                            TOut* __restrict__ y, HeadKernelDesc d) {
  extern __shared__ uint32_t rows[];
  __shared__ float dist[4 * kRowsAnchors];
  const int a0 = static_cast<int>(blockIdx.x) * kRowsAnchors;
  for (int64_t b = blockIdx.y; b < d.batch; b += gridDim.y) {
    head_rows_block<TIn, TOut, KB>(x, table, y, d, b, a0, rows, dist);
    __syncthreads();  // the next image reuses rows and dist
  }
}

template <class TIn, class TOut>
cudaError_t launch_rows(const void* x, const float* table, void* y, const HeadKernelDesc& d,
                        cudaStream_t s) {
  const dim3 grid(static_cast<unsigned>((d.anchors + kRowsAnchors - 1) / kRowsAnchors),
                  static_cast<unsigned>(d.batch < 65535 ? d.batch : 65535));
  const size_t smem = head_rows_smem_bytes(d.ld, static_cast<int>(sizeof(TIn)));
  auto* xi = static_cast<const TIn*>(x);
  auto* out = static_cast<TOut*>(y);
  if (d.bins <= 16)
    detect_head_rows_kernel<TIn, TOut, 16><<<grid, kRowsThreads, smem, s>>>(xi, table, out, d);
  else
    detect_head_rows_kernel<TIn, TOut, kHeadMaxBins>
        <<<grid, kRowsThreads, smem, s>>>(xi, table, out, d);
  return cudaGetLastError();
}

bool sizes_ok(const HeadKernelDesc& d) {
  return d.batch > 0 && d.anchors > 0 && d.classes > 0 && d.bins > 0 && d.bins <= kHeadMaxBins &&
         static_cast<int64_t>(4 + d.classes) * d.anchors <= INT32_MAX &&
         static_cast<int64_t>(4 * d.bins) * d.anchors <= INT32_MAX;
}

}  // namespace

bool head_rows_supported(Elem e, const HeadKernelDesc& d) {
  const int es = e == Elem::kF16 ? 2 : 4;
  return sizes_ok(d) && d.ld % 8 == 0 && d.cls_offset % 8 == 0 && d.cls_offset >= 4 * d.bins &&
         d.cls_offset + d.classes <= d.ld && 5 * static_cast<int64_t>(d.anchors) <= INT32_MAX &&
         static_cast<int64_t>(kRowsAnchors) * d.ld <= INT32_MAX &&
         head_rows_smem_bytes(d.ld, es) <= 48 * 1024;
}

cudaError_t launch_detect_head_rows(Elem e, bool out_f32, const void* x, const float* table,
                                    void* y, const HeadKernelDesc& d, cudaStream_t stream) {
  if (!head_rows_supported(e, d) || reinterpret_cast<uintptr_t>(x) % 16 != 0)
    return cudaErrorInvalidValue;
  if (e == Elem::kF16)
    return out_f32 ? launch_rows<__half, float>(x, table, y, d, stream)
                   : launch_rows<__half, __half>(x, table, y, d, stream);
  return launch_rows<float, float>(x, table, y, d, stream);
}

cudaError_t launch_detect_head(Elem e, bool out_f32, const void* box_x, const void* cls_x,
                               const float* table, void* y, const HeadKernelDesc& d,
                               cudaStream_t stream) {
  if (!sizes_ok(d)) return cudaErrorInvalidValue;
  if (e == Elem::kF16) {
    if (out_f32)
      launch<__half, float>(box_x, cls_x, table, y, d, stream);
    else
      launch<__half, __half>(box_x, cls_x, table, y, d, stream);
  } else {
    launch<float, float>(box_x, cls_x, table, y, d, stream);
  }
  return cudaGetLastError();
}

}  // namespace fungen::cuda
