#include <atomic>

#include "backends/cuda/common.cuh"
#include "backends/cuda/conv_stem.cuh"

namespace fungen::cuda {
namespace {

constexpr int kPix = 4;                   // output pixels per lane, consecutive along a row
constexpr int kSeg = 8;                   // input columns a lane loads per row: 2 * kPix (stride 2)
constexpr int kWarps = 4;                 // per CTA
constexpr int kRows = kStemCin * kStemK;  // (plane, kernel row) pairs: 9 loads per lane
constexpr int kTaps = kStemCin * kStemK * kStemK;
constexpr unsigned kFull = 0xffffffffu;

// 32-bit geometry (stem_band_fits bounds every index below 2^31).
struct Band {
  int h, w, oh, ow, ohw;
  int groups;  // n * oh * ow / kPix lanes with work
  int out_ld;
};

// The 8 input elements a lane loads per row, as loaded (converted to fp32 when used).
template <class T>
struct Seg;
template <>
struct Seg<__half> {
  uint4 u;
  __device__ __forceinline__ void load(const __half* p) { u = *reinterpret_cast<const uint4*>(p); }
  __device__ __forceinline__ void zero() { u = make_uint4(0, 0, 0, 0); }
  __device__ __forceinline__ uint32_t last_word() const { return u.w; }  // elements 6, 7
  __device__ __forceinline__ static float last_of_word(uint32_t word) {
    __half2 h;
    *reinterpret_cast<uint32_t*>(&h) = word;
    return __high2float(h);
  }
  __device__ __forceinline__ void to_float(float* v) const {
    const __half2* h = reinterpret_cast<const __half2*>(&u);
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const float2 f = __half22float2(h[k]);
      v[2 * k] = f.x;
      v[2 * k + 1] = f.y;
    }
  }
};
template <>
struct Seg<float> {
  float4 a, b;
  __device__ __forceinline__ void load(const float* p) {
    a = *reinterpret_cast<const float4*>(p);
    b = *reinterpret_cast<const float4*>(p + 4);
  }
  __device__ __forceinline__ void zero() { a = b = make_float4(0, 0, 0, 0); }
  __device__ __forceinline__ uint32_t last_word() const { return __float_as_uint(b.w); }
  __device__ __forceinline__ static float last_of_word(uint32_t word) {
    return __uint_as_float(word);
  }
  __device__ __forceinline__ void to_float(float* v) const {
    v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w;
    v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
  }
};

__device__ __forceinline__ float silu(float v) {
  return __fdividef(v, 1.0f + __expf(-v));  // v -> -inf: v / inf = -0
}

// 16 channels of one pixel as 16-byte units of TOut: 2 (fp16) or 4 (fp32).
template <class TOut>
__device__ __forceinline__ void pack16(const float* a, uint4* u) {
  if constexpr (sizeof(TOut) == 2) {
#pragma unroll
    for (int q = 0; q < 2; ++q) {
      __half2* h = reinterpret_cast<__half2*>(&u[q]);
#pragma unroll
      for (int k = 0; k < 4; ++k) h[k] = __floats2half2_rn(a[8 * q + 2 * k], a[8 * q + 2 * k + 1]);
    }
  } else {
#pragma unroll
    for (int q = 0; q < 4; ++q)
      u[q] = make_uint4(__float_as_uint(a[4 * q]), __float_as_uint(a[4 * q + 1]),
                        __float_as_uint(a[4 * q + 2]), __float_as_uint(a[4 * q + 3]));
  }
}

// One chunk of 16 output channels for the lane's 4 pixels, then the warp's 128 pixels x 16
// channels stored through `stage` (32 * kItems units, swizzled: unit i of lane l at slot
// i ^ (l & 7) of its 8-unit row, so neither the lane-major writes nor the warp-major reads
// conflict on banks).
template <class TIn, class TOut, bool kSilu, int kChunk>
__device__ __forceinline__ void stem_chunk(const Seg<TIn>* seg, const float* left,
                                           const StemWeights& p, uint4* stage, TOut* out,
                                           const Band& b, int lane, int warp_pixel0, int pixels) {
  constexpr int kC = 16, kU = kC * static_cast<int>(sizeof(TOut)) / 16, kItems = kPix * kU;
  float acc[kPix][kC];
#pragma unroll
  for (int j = 0; j < kPix; ++j) {
#pragma unroll
    for (int k = 0; k < kC; ++k) acc[j][k] = p.bias[kChunk * kC + k];
  }
#pragma unroll
  for (int s = 0; s < kRows; ++s) {  // s = plane * 3 + kernel row
    float v[kSeg + 1];               // input columns 2 * ox0 - 1 .. 2 * ox0 + 7
    v[0] = left[s];
    seg[s].to_float(v + 1);
#pragma unroll
    for (int kx = 0; kx < kStemK; ++kx) {
      const int tap = s * kStemK + kx;
#pragma unroll
      for (int j = 0; j < kPix; ++j) {
        const float x = v[2 * j + kx];
#pragma unroll
        for (int k = 0; k < kC; ++k)
          acc[j][k] = fmaf(x, p.w[(kChunk * kTaps + tap) * kC + k], acc[j][k]);
      }
    }
  }
#pragma unroll
  for (int j = 0; j < kPix; ++j) {
    if constexpr (kSilu) {
#pragma unroll
      for (int k = 0; k < kC; ++k) acc[j][k] = silu(acc[j][k]);
    }
    uint4 u[kU];
    pack16<TOut>(acc[j], u);
#pragma unroll
    for (int q = 0; q < kU; ++q) {
      const int i = j * kU + q;  // unit of this lane
      stage[lane * kItems + (i ^ (lane & 7))] = u[q];
    }
  }
  __syncwarp();
  constexpr int kV = 16 / static_cast<int>(sizeof(TOut));  // elements per unit
#pragma unroll
  for (int t = 0; t < kItems; ++t) {
    const int i = t * 32 + lane;  // unit of the warp, in output order
    const int pixel = warp_pixel0 + i / kU;
    const uint4 u = stage[i ^ ((i / kItems) & 7)];
    if (pixel < pixels) {
      TOut* dst = out + static_cast<int64_t>(pixel) * b.out_ld + kChunk * kC + (i % kU) * kV;
      *reinterpret_cast<uint4*>(dst) = u;
    }
  }
  __syncwarp();  // the next chunk rewrites the tile
}

template <class TIn, class TOut, bool kSilu, int kChunks>
__global__ void __launch_bounds__(kWarps * 32)
    stem_band_kernel(const TIn* __restrict__ x, TOut* __restrict__ out, const StemWeights p,
                     const Band b) {
  constexpr int kItems = kPix * 16 * static_cast<int>(sizeof(TOut)) / 16;
  __shared__ uint4 stage_all[kWarps][32 * kItems];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int warp_group0 = (blockIdx.x * kWarps + warp) * 32;
  const int g = warp_group0 + lane;
  const bool valid = g < b.groups;
  const int pixel0 = g * kPix;
  const int n = pixel0 / b.ohw, r = pixel0 - n * b.ohw, oy = r / b.ow, ox0 = r - oy * b.ow;
  const int col0 = 2 * ox0;  // first of the lane's 8 columns (the ninth, col0 - 1, on the left)
  Seg<TIn> seg[kRows];
  bool row_in[kRows];
#pragma unroll
  for (int s = 0; s < kRows; ++s) {
    const int ci = s / kStemK, iy = 2 * oy - 1 + s % kStemK;
    row_in[s] = valid && iy >= 0 && iy < b.h;
    if (row_in[s])
      seg[s].load(x + ((n * kStemCin + ci) * b.h + iy) * b.w + col0);
    else
      seg[s].zero();
  }
  // Column col0 - 1: padding at a row start, else the last element of the previous lane (same
  // row: groups never straddle rows), loaded by lane 0 itself.
  float left[kRows];
#pragma unroll
  for (int s = 0; s < kRows; ++s) {
    const uint32_t word = __shfl_up_sync(kFull, seg[s].last_word(), 1);
    float v = Seg<TIn>::last_of_word(word);
    if (lane == 0 && row_in[s] && ox0 > 0) {
      const int ci = s / kStemK, iy = 2 * oy - 1 + s % kStemK;
      v = load(x, static_cast<int64_t>((n * kStemCin + ci) * b.h + iy) * b.w + col0 - 1);
    }
    left[s] = row_in[s] && ox0 > 0 ? v : 0.0f;
  }
  const int pixels = b.groups * kPix, warp_pixel0 = warp_group0 * kPix;
  uint4* stage = stage_all[warp];
  stem_chunk<TIn, TOut, kSilu, 0>(seg, left, p, stage, out, b, lane, warp_pixel0, pixels);
  if constexpr (kChunks == 2)
    stem_chunk<TIn, TOut, kSilu, 1>(seg, left, p, stage, out, b, lane, warp_pixel0, pixels);
}

template <class TIn, class TOut, bool kSilu>
void band(const void* x, const StemWeights& w, void* out, const Band& b, int chunks,
          cudaStream_t s) {
  const int lanes_per_cta = kWarps * 32;
  const unsigned blocks = static_cast<unsigned>((b.groups + lanes_per_cta - 1) / lanes_per_cta);
  auto* xt = static_cast<const TIn*>(x);
  auto* ot = static_cast<TOut*>(out);
  if (chunks == 2)
    stem_band_kernel<TIn, TOut, kSilu, 2><<<blocks, lanes_per_cta, 0, s>>>(xt, ot, w, b);
  else
    stem_band_kernel<TIn, TOut, kSilu, 1><<<blocks, lanes_per_cta, 0, s>>>(xt, ot, w, b);
}

template <class TIn, class TOut>
void band_silu(const void* x, const StemWeights& w, void* out, const Band& b, int chunks, bool silu,
               cudaStream_t s) {
  if (silu)
    band<TIn, TOut, true>(x, w, out, b, chunks, s);
  else
    band<TIn, TOut, false>(x, w, out, b, chunks, s);
}

std::atomic<int> g_band_convs{0};

}  // namespace

bool stem_band_fits(const DirectConvDesc& d) {
  return stem_conv_fits(d) && d.sh == 2 && d.sw == 2 && d.ph == 1 && d.pw == 1 && d.w % 8 == 0 &&
         d.ow * 2 == d.w && d.oh == (d.h - 1) / 2 + 1 && d.out_ld % 8 == 0 && d.out_ld >= d.cout &&
         d.n * d.oh * d.ow + kWarps * 32 * kPix < (int64_t{1} << 31);
}

bool launch_stem_band(Elem in, Elem e, const void* x, const StemWeights& w, void* out,
                      const DirectConvDesc& d, cudaStream_t stream) {
  auto aligned16 = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  if (!stem_band_fits(d) || !aligned16(x) || !aligned16(out)) return false;
  if (in == Elem::kF16 && e == Elem::kF32) return false;
  Band b;
  b.h = static_cast<int>(d.h);
  b.w = static_cast<int>(d.w);
  b.oh = static_cast<int>(d.oh);
  b.ow = static_cast<int>(d.ow);
  b.ohw = b.oh * b.ow;
  b.groups = static_cast<int>(d.n * d.oh * d.ow / kPix);
  b.out_ld = static_cast<int>(d.out_ld);
  if (b.groups == 0) return true;
  const int chunks = static_cast<int>(d.cout / 16);
  if (in == Elem::kF16)
    band_silu<__half, __half>(x, w, out, b, chunks, d.silu, stream);
  else if (e == Elem::kF16)
    band_silu<float, __half>(x, w, out, b, chunks, d.silu, stream);
  else
    band_silu<float, float>(x, w, out, b, chunks, d.silu, stream);
  return true;
}

int stem_band_convs_lowered() {
  return g_band_convs.load();
}
void count_stem_band_conv() {
  ++g_band_convs;
}

}  // namespace fungen::cuda
