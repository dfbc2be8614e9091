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
static_assert(kShortLen == kMaxExpectLen, "the expectation kernel holds a line in registers");
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

// inner == 1, rows of exactly kLen elements (YOLO's DFL after its transpose: 16): one thread per
// row, the row read and written as 16-byte vectors.
template <class T, int kLen>
__global__ void softmax_rows_vec(const uint4* x, uint4* y, int64_t rows) {
  constexpr int kVecs = kLen * static_cast<int>(sizeof(T)) / 16;
  FUNGEN_GRID_STRIDE(r, rows) {
    uint4 u[kVecs];
#pragma unroll
    for (int k = 0; k < kVecs; ++k) u[k] = x[r * kVecs + k];
    T* v = reinterpret_cast<T*>(u);
    float f[kLen];
    float m = -FLT_MAX;
    for (int k = 0; k < kLen; ++k) {
      f[k] = load(v, k);
      m = fmaxf(m, f[k]);
    }
    float sum = 0.0f;
    for (int k = 0; k < kLen; ++k) {
      f[k] = __expf(f[k] - m);
      sum += f[k];
    }
    const float inv = 1.0f / sum;
    for (int k = 0; k < kLen; ++k) store(v, k, f[k] * inv);
    for (int k = 0; k < kVecs; ++k) y[r * kVecs + k] = u[k];
  }
}

// YOLO's DFL in one pass: y[g, a] = sum_k softmax_k(x[g, k, a]) * w[k] + bias over short lines
// (len <= kShortLen) across an inner axis — the Softmax and the 1x1 Conv that follows it.
template <class T>
__global__ void softmax_expect_kernel(const T* x, T* y, SoftmaxWeights w, int64_t groups, int len,
                                      int64_t inner) {
  const int64_t lines = groups * inner;
  FUNGEN_GRID_STRIDE(l, lines) {
    const int64_t g = l / inner, a = l - g * inner;
    const int64_t base = g * len * inner + a;
    float v[kShortLen];
    float m = -FLT_MAX;
#pragma unroll
    for (int k = 0; k < kShortLen; ++k) {
      if (k < len) {
        v[k] = load(x, base + k * inner);
        m = fmaxf(m, v[k]);
      }
    }
    float sum = 0.0f, acc = 0.0f;
#pragma unroll
    for (int k = 0; k < kShortLen; ++k) {
      if (k < len) {
        const float e = __expf(v[k] - m);
        sum += e;
        acc += e * w.w[k];
      }
    }
    store(y, l, acc / sum + w.bias);
  }
}

bool aligned16(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

template <class T>
void dispatch(const T* x, T* y, int64_t outer, int64_t len, int64_t inner, cudaStream_t s) {
  const int64_t lines = outer * inner;
  if (inner == 1 && len == 16 && aligned16(x) && aligned16(y)) {
    softmax_rows_vec<T, 16><<<blocks_for(lines), kThreads, 0, s>>>(
        reinterpret_cast<const uint4*>(x), reinterpret_cast<uint4*>(y), lines);
  } else if (inner == 1 && len >= 32) {
    softmax_rows_warp<<<blocks_for(lines * 32), kThreads, 0, s>>>(x, y, lines, len);
  } else if (len <= kShortLen) {
    softmax_short_kernel<<<blocks_for(lines), kThreads, 0, s>>>(x, y, outer, len, inner);
  } else {
    softmax_kernel<<<blocks_for(lines), kThreads, 0, s>>>(x, y, outer, len, inner);
  }
}

}  // namespace

void launch_softmax_expectation(Elem e, const void* x, void* y, const SoftmaxWeights& w,
                                int64_t groups, int len, int64_t inner, cudaStream_t stream) {
  const int64_t lines = groups * inner;
  if (lines == 0 || len <= 0 || len > kMaxExpectLen) return;
  if (e == Elem::kF16) {
    softmax_expect_kernel<<<blocks_for(lines), kThreads, 0, stream>>>(
        static_cast<const __half*>(x), static_cast<__half*>(y), w, groups, len, inner);
  } else {
    softmax_expect_kernel<<<blocks_for(lines), kThreads, 0, stream>>>(
        static_cast<const float*>(x), static_cast<float*>(y), w, groups, len, inner);
  }
}

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
