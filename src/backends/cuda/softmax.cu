#include <cfloat>

#include "backends/cuda/common.cuh"
#include "backends/cuda/softmax.cuh"

namespace fungen::cuda {
namespace {

// Generic: one thread per (outer, inner) line, three passes over `len` elements (max, sum,
// write); the faster variants below take the shapes YOLO has.
template <class T>
__global__ void softmax_kernel(const T* x, T* y, int64_t outer, int64_t len, int64_t inner) {
  int64_t lines = outer * inner;
  FUNGEN_GRID_STRIDE(l, lines) {
    int64_t o = l / inner, in = l - o * inner;
    int64_t base = o * len * inner + in;
    float m = -FLT_MAX;
    for (int64_t k = 0; k < len; ++k) m = fmaxf(m, load(x, base + k * inner));
    float sum = 0.0f;
    for (int64_t k = 0; k < len; ++k) sum += __expf(load(x, base + k * inner) - m);
    float inv = 1.0f / sum;
    for (int64_t k = 0; k < len; ++k) {
      store(y, base + k * inner, __expf(load(x, base + k * inner) - m) * inv);
    }
  }
}

// inner == 1 (attention rows): one warp per row, lanes striding along it, shuffle reductions.
template <class T>
__global__ void softmax_rows_warp(const T* x, T* y, int64_t rows, int64_t len) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x / 32);
  for (int64_t r = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32; r < rows;
       r += warps) {
    const T* xr = x + r * len;
    T* yr = y + r * len;
    float m = -FLT_MAX;
    for (int64_t k = lane; k < len; k += 32) m = fmaxf(m, load(xr, k));
    for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
    float sum = 0.0f;
    for (int64_t k = lane; k < len; k += 32) sum += __expf(load(xr, k) - m);
    for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
    const float inv = 1.0f / sum;
    for (int64_t k = lane; k < len; k += 32) store(yr, k, __expf(load(xr, k) - m) * inv);
  }
}

// Short lines across an inner axis (YOLO's DFL, len 16): one thread per line, the line held
// in registers, so x is read once.
constexpr int kShortLen = 32;
template <class T>
__global__ void softmax_short_kernel(const T* x, T* y, int64_t outer, int64_t len, int64_t inner) {
  int64_t lines = outer * inner;
  FUNGEN_GRID_STRIDE(l, lines) {
    const int64_t o = l / inner, in = l - o * inner;
    const int64_t base = o * len * inner + in;
    float v[kShortLen];
    float m = -FLT_MAX;
#pragma unroll
    for (int k = 0; k < kShortLen; ++k) {
      if (k < len) {
        v[k] = load(x, base + k * inner);
        m = fmaxf(m, v[k]);
      }
    }
    float sum = 0.0f;
#pragma unroll
    for (int k = 0; k < kShortLen; ++k) {
      if (k < len) {
        v[k] = __expf(v[k] - m);
        sum += v[k];
      }
    }
    const float inv = 1.0f / sum;
#pragma unroll
    for (int k = 0; k < kShortLen; ++k) {
      if (k < len) store(y, base + k * inner, v[k] * inv);
    }
  }
}

template <class T>
void dispatch(const T* x, T* y, int64_t outer, int64_t len, int64_t inner, cudaStream_t s) {
  const int64_t lines = outer * inner;
  if (inner == 1 && len >= 32) {
    softmax_rows_warp<<<blocks_for(lines * 32), kThreads, 0, s>>>(x, y, lines, len);
  } else if (len <= kShortLen) {
    softmax_short_kernel<<<blocks_for(lines), kThreads, 0, s>>>(x, y, outer, len, inner);
  } else {
    softmax_kernel<<<blocks_for(lines), kThreads, 0, s>>>(x, y, outer, len, inner);
  }
}

}  // namespace

void launch_softmax(Elem e, const void* x, void* y, int64_t outer, int64_t len, int64_t inner,
                    cudaStream_t stream) {
  int64_t lines = outer * inner;
  if (lines == 0 || len == 0) return;
  if (e == Elem::kF16)
    dispatch(static_cast<const __half*>(x), static_cast<__half*>(y), outer, len, inner, stream);
  else
    dispatch(static_cast<const float*>(x), static_cast<float*>(y), outer, len, inner, stream);
}

}  // namespace fungen::cuda
