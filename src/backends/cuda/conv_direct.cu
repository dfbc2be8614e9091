#include "backends/cuda/common.cuh"
#include "backends/cuda/conv_direct.cuh"

namespace fungen::cuda {
namespace {

__device__ __forceinline__ float silu(float v) {
  return v / (1.0f + __expf(-v));
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

// One thread: output pixel p, channels [c, c + kN).
template <class T, bool kSilu, int kN>
__global__ void depthwise_kernel(const T* __restrict__ x, const float* __restrict__ w,
                                 const float* __restrict__ bias, const T* __restrict__ z,
                                 T* __restrict__ out, DirectConvDesc d) {
  const int64_t groups = d.cout / kN, total = d.n * d.oh * d.ow * groups;
  FUNGEN_GRID_STRIDE(i, total) {
    const int64_t p = i / groups, c = (i - p * groups) * kN;
    const int64_t ox = p % d.ow, t = p / d.ow, oy = t % d.oh, n = t / d.oh;
    float acc[kN];
    for (int k = 0; k < kN; ++k) acc[k] = bias ? bias[c + k] : 0.0f;
    for (int ky = 0; ky < d.kh; ++ky) {
      const int64_t iy = oy * d.sh - d.ph + ky;
      if (iy < 0 || iy >= d.h) continue;
      for (int kx = 0; kx < d.kw; ++kx) {
        const int64_t ix = ox * d.sw - d.pw + kx;
        if (ix < 0 || ix >= d.w) continue;
        float v[kN];
        load_n<T, kN>(x + ((n * d.h + iy) * d.w + ix) * d.cin + c, v);
        const float* wk = w + (ky * d.kw + kx) * d.cout + c;
        for (int k = 0; k < kN; ++k) acc[k] = fmaf(v[k], __ldg(wk + k), acc[k]);
      }
    }
    if constexpr (kSilu) {
      for (int k = 0; k < kN; ++k) acc[k] = silu(acc[k]);
    }
    if (z) {
      float r[kN];
      load_n<T, kN>(z + p * d.cout + c, r);
      for (int k = 0; k < kN; ++k) acc[k] += r[k];
    }
    store_n<T, kN>(out + p * d.out_ld + c, acc);
  }
}

// One thread: output pixel p, output channels [chunk * 16, chunk * 16 + 16); x plain NCHW,
// weights staged in shared memory as [cin][kh][kw][cout].
template <class T, bool kSilu>
__global__ void small_cin_kernel(const T* __restrict__ x, const float* __restrict__ w,
                                 const float* __restrict__ bias, T* __restrict__ out,
                                 DirectConvDesc d, bool vec_store) {
  extern __shared__ float sw[];
  const int64_t wn = d.cin * d.kh * d.kw * d.cout;
  for (int64_t k = threadIdx.x; k < wn; k += blockDim.x) sw[k] = w[k];
  __syncthreads();
  constexpr int kC = kDirectCoutChunk;
  const int64_t pixels = d.n * d.oh * d.ow, total = pixels * (d.cout / kC);
  FUNGEN_GRID_STRIDE(i, total) {
    const int64_t chunk = i / pixels, p = i - chunk * pixels;
    const int64_t ox = p % d.ow, t = p / d.ow, oy = t % d.oh, n = t / d.oh;
    const int64_t c0 = chunk * kC;
    float acc[kC];
    for (int k = 0; k < kC; ++k) acc[k] = bias ? bias[c0 + k] : 0.0f;
    for (int64_t ci = 0; ci < d.cin; ++ci) {
      const T* xc = x + (n * d.cin + ci) * d.h * d.w;
      for (int ky = 0; ky < d.kh; ++ky) {
        const int64_t iy = oy * d.sh - d.ph + ky;
        if (iy < 0 || iy >= d.h) continue;
        for (int kx = 0; kx < d.kw; ++kx) {
          const int64_t ix = ox * d.sw - d.pw + kx;
          if (ix < 0 || ix >= d.w) continue;
          const float v = load(xc, iy * d.w + ix);
          const float* wk = sw + ((ci * d.kh + ky) * d.kw + kx) * d.cout + c0;
          for (int k = 0; k < kC; ++k) acc[k] = fmaf(v, wk[k], acc[k]);
        }
      }
    }
    if constexpr (kSilu) {
      for (int k = 0; k < kC; ++k) acc[k] = silu(acc[k]);
    }
    T* dst = out + p * d.out_ld + c0;
    constexpr int kV = 16 / sizeof(T);
    if (vec_store) {
      for (int k = 0; k < kC; k += kV) store_n<T, kV>(dst + k, acc + k);
    } else {
      for (int k = 0; k < kC; ++k) store(dst, k, acc[k]);
    }
  }
}

bool aligned16(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

template <class T, bool kSilu>
void depthwise(const T* x, const float* w, const float* bias, const T* z, T* out,
               const DirectConvDesc& d, cudaStream_t s) {
  constexpr int kN = 16 / sizeof(T);
  const bool vec = d.cout % kN == 0 && d.out_ld % kN == 0 && aligned16(x) && aligned16(out) &&
                   (!z || aligned16(z));
  const int64_t pixels = d.n * d.oh * d.ow;
  if (vec) {
    depthwise_kernel<T, kSilu, kN>
        <<<blocks_for(pixels * d.cout / kN), kThreads, 0, s>>>(x, w, bias, z, out, d);
  } else {
    depthwise_kernel<T, kSilu, 1>
        <<<blocks_for(pixels * d.cout), kThreads, 0, s>>>(x, w, bias, z, out, d);
  }
}

template <class T, bool kSilu>
void small_cin(const T* x, const float* w, const float* bias, T* out, const DirectConvDesc& d,
               cudaStream_t s) {
  const bool vec = d.out_ld % (16 / sizeof(T)) == 0 && aligned16(out);
  const size_t smem = static_cast<size_t>(d.cin * d.kh * d.kw * d.cout) * sizeof(float);
  const int64_t total = d.n * d.oh * d.ow * (d.cout / kDirectCoutChunk);
  small_cin_kernel<T, kSilu><<<blocks_for(total), kThreads, smem, s>>>(x, w, bias, out, d, vec);
}

}  // namespace

void launch_depthwise_conv(Elem e, const void* x, const float* w, const float* bias, const void* z,
                           void* out, const DirectConvDesc& d, cudaStream_t stream) {
  if (d.n * d.oh * d.ow * d.cout == 0) return;
  if (e == Elem::kF16) {
    auto* xt = static_cast<const __half*>(x);
    auto* zt = static_cast<const __half*>(z);
    auto* ot = static_cast<__half*>(out);
    if (d.silu)
      depthwise<__half, true>(xt, w, bias, zt, ot, d, stream);
    else
      depthwise<__half, false>(xt, w, bias, zt, ot, d, stream);
  } else {
    auto* xt = static_cast<const float*>(x);
    auto* zt = static_cast<const float*>(z);
    auto* ot = static_cast<float*>(out);
    if (d.silu)
      depthwise<float, true>(xt, w, bias, zt, ot, d, stream);
    else
      depthwise<float, false>(xt, w, bias, zt, ot, d, stream);
  }
}

void launch_small_cin_conv(Elem e, const void* x, const float* w, const float* bias, void* out,
                           const DirectConvDesc& d, cudaStream_t stream) {
  if (d.n * d.oh * d.ow * d.cout == 0) return;
  if (e == Elem::kF16) {
    auto* xt = static_cast<const __half*>(x);
    auto* ot = static_cast<__half*>(out);
    if (d.silu)
      small_cin<__half, true>(xt, w, bias, ot, d, stream);
    else
      small_cin<__half, false>(xt, w, bias, ot, d, stream);
  } else {
    auto* xt = static_cast<const float*>(x);
    auto* ot = static_cast<float*>(out);
    if (d.silu)
      small_cin<float, true>(xt, w, bias, ot, d, stream);
    else
      small_cin<float, false>(xt, w, bias, ot, d, stream);
  }
}

}  // namespace fungen::cuda
