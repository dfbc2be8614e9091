#include "backends/cuda/common.cuh"
#include "backends/cuda/conv_direct.cuh"

namespace fungen::cuda {
namespace {

__device__ __forceinline__ float silu(float v) {
  return v / (1.0f + __expf(-v));
}

// One thread: output pixel p, channels [c, c + kN). I: the index type (32-bit when every index
// fits: 64-bit divisions cost more than the convolution's arithmetic).
template <class T, bool kSilu, int kN, class I>
__global__ void depthwise_kernel(const T* __restrict__ x, const float* __restrict__ w,
                                 const float* __restrict__ bias, const T* __restrict__ z,
                                 T* __restrict__ out, DirectConvDesc d) {
  const I groups = static_cast<I>(d.cout / kN), ow = static_cast<I>(d.ow),
          oh = static_cast<I>(d.oh);
  const I h = static_cast<I>(d.h), wd = static_cast<I>(d.w), cin = static_cast<I>(d.cin);
  const I total = static_cast<I>(d.n) * oh * ow * groups;
  const I stride = static_cast<I>(gridDim.x) * blockDim.x;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const I p = i / groups, c = (i - p * groups) * kN;
    const I t = p / ow, ox = p - t * ow, n = t / oh, oy = t - n * oh;
    float acc[kN];
    for (int k = 0; k < kN; ++k) acc[k] = bias ? bias[c + k] : 0.0f;
    for (int ky = 0; ky < d.kh; ++ky) {
      const int iy = static_cast<int>(oy) * d.sh - d.ph + ky;
      if (iy < 0 || iy >= static_cast<int>(h)) continue;
      for (int kx = 0; kx < d.kw; ++kx) {
        const int ix = static_cast<int>(ox) * d.sw - d.pw + kx;
        if (ix < 0 || ix >= static_cast<int>(wd)) continue;
        float v[kN];
        load_n<T, kN>(x + ((n * h + static_cast<I>(iy)) * wd + static_cast<I>(ix)) * cin + c, v);
        const float* wk = w + (ky * d.kw + kx) * d.cout + c;
        if constexpr (kN % 4 == 0) {  // c and cout multiples of 4: 16-byte aligned weights
#pragma unroll
          for (int k = 0; k < kN; k += 4) {
            const float4 w4 = __ldg(reinterpret_cast<const float4*>(wk + k));
            acc[k] = fmaf(v[k], w4.x, acc[k]);
            acc[k + 1] = fmaf(v[k + 1], w4.y, acc[k + 1]);
            acc[k + 2] = fmaf(v[k + 2], w4.z, acc[k + 2]);
            acc[k + 3] = fmaf(v[k + 3], w4.w, acc[k + 3]);
          }
        } else {
          for (int k = 0; k < kN; ++k) acc[k] = fmaf(v[k], __ldg(wk + k), acc[k]);
        }
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
  extern __shared__ float4 sw4[];  // float4: 16-byte aligned, read 4 weights at a time
  float* sw = reinterpret_cast<float*>(sw4);
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
          // cout and c0 are multiples of 16: the 16 weights are 64-byte aligned.
          const float4* wk = sw4 + (((ci * d.kh + ky) * d.kw + kx) * d.cout + c0) / 4;
#pragma unroll
          for (int k = 0; k < kC / 4; ++k) {
            const float4 w4 = wk[k];
            acc[4 * k] = fmaf(v, w4.x, acc[4 * k]);
            acc[4 * k + 1] = fmaf(v, w4.y, acc[4 * k + 1]);
            acc[4 * k + 2] = fmaf(v, w4.z, acc[4 * k + 2]);
            acc[4 * k + 3] = fmaf(v, w4.w, acc[4 * k + 3]);
          }
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

// One output pixel, channels [16 kChunk, 16 kChunk + 16): every index into the parameter block
// is a compile-time constant, so the multiplies read their weights straight from the constant
// bank.
template <class T, bool kSilu, int kChunk>
__device__ __forceinline__ void stem_pixel(const T* __restrict__ x, T* __restrict__ out,
                                           const StemWeights& p, const DirectConvDesc& d, int n,
                                           int oy, int ox, int64_t pixel, bool vec_store) {
  constexpr int kC = 16;
  float acc[kC];
#pragma unroll
  for (int k = 0; k < kC; ++k) acc[k] = p.bias[kChunk * kC + k];
  const int iy0 = oy * d.sh - d.ph, ix0 = ox * d.sw - d.pw;
  const int h = static_cast<int>(d.h), w = static_cast<int>(d.w);
#pragma unroll
  for (int ci = 0; ci < kStemCin; ++ci) {
    const T* xc = x + (static_cast<int64_t>(n) * kStemCin + ci) * d.h * d.w;
#pragma unroll
    for (int ky = 0; ky < kStemK; ++ky) {
      const int iy = iy0 + ky;
      const bool row_in = iy >= 0 && iy < h;
#pragma unroll
      for (int kx = 0; kx < kStemK; ++kx) {
        const int ix = ix0 + kx;
        const float v =
            row_in && ix >= 0 && ix < w ? load(xc, static_cast<int64_t>(iy) * w + ix) : 0.0f;
        constexpr int kTaps = kStemCin * kStemK * kStemK;
        const int tap = (ci * kStemK + ky) * kStemK + kx;
#pragma unroll
        for (int k = 0; k < kC; ++k) acc[k] = fmaf(v, p.w[(kChunk * kTaps + tap) * kC + k], acc[k]);
      }
    }
  }
  if constexpr (kSilu) {
#pragma unroll
    for (int k = 0; k < kC; ++k) acc[k] = silu(acc[k]);
  }
  T* dst = out + pixel * d.out_ld + kChunk * kC;
  constexpr int kV = 16 / sizeof(T);
  if (vec_store) {
#pragma unroll
    for (int k = 0; k < kC; k += kV) store_n<T, kV>(dst + k, acc + k);
  } else {
#pragma unroll
    for (int k = 0; k < kC; ++k) store(dst, k, acc[k]);
  }
}

// blockIdx.y: the 16-channel chunk; 32-bit pixel arithmetic (the caller checks the range).
template <class T, bool kSilu>
__global__ void __launch_bounds__(kThreads)
    stem_kernel(const T* __restrict__ x, T* __restrict__ out, const StemWeights p,
                const DirectConvDesc d, int pixels, bool vec_store) {
  const int ohw = static_cast<int>(d.oh * d.ow), ow = static_cast<int>(d.ow);
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < pixels; i += gridDim.x * blockDim.x) {
    const int n = i / ohw, r = i - n * ohw, oy = r / ow, ox = r - oy * ow;
    if (blockIdx.y == 0)
      stem_pixel<T, kSilu, 0>(x, out, p, d, n, oy, ox, i, vec_store);
    else
      stem_pixel<T, kSilu, 1>(x, out, p, d, n, oy, ox, i, vec_store);
  }
}

template <class T, bool kSilu>
void stem(const T* x, const StemWeights& w, T* out, const DirectConvDesc& d, cudaStream_t s) {
  const bool vec = d.out_ld % (16 / sizeof(T)) == 0 && aligned16(out);
  const int pixels = static_cast<int>(d.n * d.oh * d.ow);
  const dim3 grid(blocks_for(pixels), static_cast<unsigned>(d.cout / 16));
  stem_kernel<T, kSilu><<<grid, kThreads, 0, s>>>(x, out, w, d, pixels, vec);
}

template <class T, bool kSilu>
void depthwise(const T* x, const float* w, const float* bias, const T* z, T* out,
               const DirectConvDesc& d, cudaStream_t s) {
  constexpr int kN = 16 / sizeof(T);
  const bool vec = d.cout % kN == 0 && d.out_ld % kN == 0 && aligned16(x) && aligned16(out) &&
                   (!z || aligned16(z));
  const int64_t pixels = d.n * d.oh * d.ow;
  // 32-bit indices when every element index (input, output row, grid-stride step) fits.
  const int64_t limit = int64_t{1} << 31;
  const bool narrow =
      pixels * std::max(d.out_ld, d.cout) < limit && d.n * d.h * d.w * d.cin < limit &&
      pixels * d.cout + 2 * kThreads * static_cast<int64_t>(blocks_for(pixels * d.cout)) < limit;
  if (vec && narrow) {
    depthwise_kernel<T, kSilu, kN, uint32_t>
        <<<blocks_for(pixels * d.cout / kN), kThreads, 0, s>>>(x, w, bias, z, out, d);
  } else if (vec) {
    depthwise_kernel<T, kSilu, kN, int64_t>
        <<<blocks_for(pixels * d.cout / kN), kThreads, 0, s>>>(x, w, bias, z, out, d);
  } else {
    depthwise_kernel<T, kSilu, 1, int64_t>
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

bool stem_conv_fits(const DirectConvDesc& d) {
  return d.cin == kStemCin && d.kh == kStemK && d.kw == kStemK && d.cout % 16 == 0 &&
         d.cout <= kStemMaxCout && d.n * d.oh * d.ow < (int64_t{1} << 31) &&
         d.n * d.cin * d.h * d.w < (int64_t{1} << 31) && d.h < (1 << 30) && d.w < (1 << 30);
}

void launch_stem_conv(Elem e, const void* x, const StemWeights& w, void* out,
                      const DirectConvDesc& d, cudaStream_t stream) {
  if (d.n * d.oh * d.ow == 0) return;
  if (e == Elem::kF16) {
    auto* xt = static_cast<const __half*>(x);
    auto* ot = static_cast<__half*>(out);
    if (d.silu)
      stem<__half, true>(xt, w, ot, d, stream);
    else
      stem<__half, false>(xt, w, ot, d, stream);
  } else {
    auto* xt = static_cast<const float*>(x);
    auto* ot = static_cast<float*>(out);
    if (d.silu)
      stem<float, true>(xt, w, ot, d, stream);
    else
      stem<float, false>(xt, w, ot, d, stream);
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
