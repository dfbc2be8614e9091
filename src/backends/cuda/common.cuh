// common.cuh — device helpers shared by the kernels (.cu files only): fp16/fp32 loads and
// stores in fp32 arithmetic, and the launch shape of grid-stride loops.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

namespace fungen::cuda {

__device__ __forceinline__ float load(const float* p, int64_t i) {
  return p[i];
}
__device__ __forceinline__ float load(const __half* p, int64_t i) {
  return __half2float(p[i]);
}
__device__ __forceinline__ void store(float* p, int64_t i, float v) {
  p[i] = v;
}
__device__ __forceinline__ void store(__half* p, int64_t i, float v) {
  p[i] = __float2half_rn(v);
}

// kN consecutive elements of T <-> fp32; kN * sizeof(T) == 16 uses one 16-byte access (the
// caller guarantees the alignment), otherwise kN scalar accesses.
template <class T, int kN>
__device__ __forceinline__ void load_n(const T* p, float* v) {
  if constexpr (kN * sizeof(T) == 16) {
    uint4 u = *reinterpret_cast<const uint4*>(p);
    if constexpr (sizeof(T) == 2) {
      const __half2* h = reinterpret_cast<const __half2*>(&u);
      for (int k = 0; k < kN / 2; ++k) {
        float2 f = __half22float2(h[k]);
        v[2 * k] = f.x;
        v[2 * k + 1] = f.y;
      }
    } else {
      const float* f = reinterpret_cast<const float*>(&u);
      for (int k = 0; k < kN; ++k) v[k] = f[k];
    }
  } else {
    for (int k = 0; k < kN; ++k) v[k] = load(p, k);
  }
}

template <class T, int kN>
__device__ __forceinline__ void store_n(T* p, const float* v) {
  if constexpr (kN * sizeof(T) == 16) {
    uint4 u;
    if constexpr (sizeof(T) == 2) {
      __half2* h = reinterpret_cast<__half2*>(&u);
      for (int k = 0; k < kN / 2; ++k) h[k] = __floats2half2_rn(v[2 * k], v[2 * k + 1]);
    } else {
      float* f = reinterpret_cast<float*>(&u);
      for (int k = 0; k < kN; ++k) f[k] = v[k];
    }
    *reinterpret_cast<uint4*>(p) = u;
  } else {
    for (int k = 0; k < kN; ++k) store(p, k, v[k]);
  }
}

inline constexpr int kThreads = 256;

// Blocks for a grid-stride loop over n elements (capped: each thread then loops).
inline unsigned blocks_for(int64_t n) {
  int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(std::clamp<int64_t>(b, 1, 65535L * 8));
}

#define FUNGEN_GRID_STRIDE(i, n)                                                         \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

}  // namespace fungen::cuda
