// The stem fused into the 3x3 stride-2 convolution reading it (conv_stemfuse.cuh). Shared
// memory of a CTA: the A halo (one 32-byte row per pixel and 16 channels, per chunk of 16
// channels), B's weights of every chunk (9 taps x tile_n rows of 32 bytes), and the input copy
// ([3][kIH][kIW] fp16), whose bytes then hold the staged output tile of the epilogue.
#include <cuda_fp16.h>

#include <atomic>
#include <climits>
#include <cstring>
#include <type_traits>
#include <vector>

#include "backends/cuda/conv_mma.cuh"
#include "backends/cuda/conv_stem.cuh"
#include "backends/cuda/conv_stemfuse.cuh"
#include "backends/cuda/conv_stemfuse_geom.h"
#include "backends/cuda/conv_tile3.cuh"

namespace fungen::cuda {
namespace {

using namespace mma;
namespace sf = stemfuse;

constexpr int kThreads = 128, kTH = 8, kKC = kTile3ChunkC, kRowBytes = 32;
constexpr int kTaps = kStemCin * kStemK * kStemK;

struct Params {
  const void* x;
  const __half* w;
  const float* bias;
  __half* out;
  __half* out2;
  IgemmDesc d;  // B; d.h x d.w is A's map
  int in_h, in_w;
  bool a_silu;
  int cout_pad, n_tiles, tiles_x, tiles_y, tiles;
  StemWeights wa;
  const uint32_t* wa_mma;  // the mma variant's packed stem weights (pack_stemfuse_mma_weights)
};

template <int TW, int BN, int kCh>
struct Cfg {
  using G = sf::Geom<kTH, TW>;
  static constexpr int kBM = kTH * TW, kWM = kBM / 4, kMI = kWM / 16, kNI = BN / 8;
  static constexpr int kHaloBytes = (G::kHaloRows * kRowBytes + 127) / 128 * 128;
  static constexpr int kBBytes = 9 * BN * kRowBytes;
  static constexpr int kInBytes = kStemCin * G::kIH * G::kIW * 2;
  static constexpr int kLdc = BN + 8;
  static constexpr int kStagingBytes = kBM * kLdc * 2;
  static constexpr int kTailBytes = kInBytes > kStagingBytes ? kInBytes : kStagingBytes;
  static constexpr int kWOffset = kCh * kHaloBytes, kInOffset = kWOffset + kCh * kBBytes;
  static constexpr int kSmem = kInOffset + kTailBytes;
  static_assert(kSmem <= 99 * 1024 && kWM % 16 == 0 && BN % 16 == 0 && BN <= kTile3PadN);
  static_assert(G::kIW % 8 == 0 && kInOffset % 16 == 0);
};

// The stem's SiLU, as the band kernel computes it (conv_stem.cu), not conv_mma.cuh's.
__device__ __forceinline__ float stem_silu(float v) {
  return __fdividef(v, 1.0f + __expf(-v));
}

// Step 2: the input copy, one 16-byte (fp16) or 4-element (fp32, rounded to fp16) vector each,
// kBatch loads of a thread in flight before their stores (a CTA has nothing else to overlap the
// copy with; other CTAs of the SM compute meanwhile).
template <class TIn>
struct InVec {
  using Raw = std::conditional_t<std::is_same_v<TIn, float>, float4, uint4>;
  static constexpr int kElems = std::is_same_v<TIn, float> ? 4 : 8;
  __device__ __forceinline__ static Raw load(const TIn* p) {
    return __ldg(reinterpret_cast<const Raw*>(p));
  }
  __device__ __forceinline__ static Raw zero() { return Raw{0, 0, 0, 0}; }
  __device__ __forceinline__ static void store(__half* dst, const Raw& r) {
    if constexpr (std::is_same_v<TIn, float>) {
      __half2 h[2] = {__floats2half2_rn(r.x, r.y), __floats2half2_rn(r.z, r.w)};
      *reinterpret_cast<uint2*>(dst) = *reinterpret_cast<const uint2*>(h);
    } else {
      *reinterpret_cast<uint4*>(dst) = r;
    }
  }
};

template <class TIn, int TW>
__device__ __forceinline__ void copy_input(const Params& p, __half* in, int img, int oy0, int ox0,
                                           int tid) {
  using G = sf::Geom<kTH, TW>;
  using V = InVec<TIn>;
  constexpr int kVecs = G::kIW / V::kElems, kTotal = kStemCin * G::kIH * kVecs;
  constexpr int kPer = (kTotal + kThreads - 1) / kThreads, kBatch = 8;
  const TIn* x =
      static_cast<const TIn*>(p.x) + static_cast<int64_t>(img) * kStemCin * p.in_h * p.in_w;
  const int iy0 = sf::in_row0(oy0), ix0 = sf::in_col0(ox0);
#pragma unroll 1
  for (int k0 = 0; k0 < kPer; k0 += kBatch) {
    typename V::Raw r[kBatch];
#pragma unroll
    for (int j = 0; j < kBatch; ++j) {
      const int i = tid + (k0 + j) * kThreads;
      const int row = i / kVecs, v = i - row * kVecs;  // row = plane * kIH + copy row
      const int plane = row / G::kIH, iy = iy0 + row - plane * G::kIH, ix = ix0 + v * V::kElems;
      const bool ok = i < kTotal && static_cast<unsigned>(iy) < static_cast<unsigned>(p.in_h) &&
                      static_cast<unsigned>(ix) < static_cast<unsigned>(p.in_w);
      r[j] =
          ok ? V::load(x + (static_cast<int64_t>(plane) * p.in_h + iy) * p.in_w + ix) : V::zero();
    }
#pragma unroll
    for (int j = 0; j < kBatch; ++j) {
      const int i = tid + (k0 + j) * kThreads;
      if (i < kTotal) {
        const int row = i / kVecs, v = i - row * kVecs;
        V::store(in + row * G::kIW + v * V::kElems, r[j]);
      }
    }
  }
}

// Step 3: A's 16 channels of chunk q at halo row hp (inside A's map), the band kernel's order:
// from the bias, taps (plane, ky, kx), fmaf per channel; SiLU; fp16.
template <int TW, int q>
__device__ __forceinline__ void stem_pixel(const Params& p, const __half* in, int hr, int col,
                                           uint4 (&u)[2]) {
  using G = sf::Geom<kTH, TW>;
  float acc[16];
#pragma unroll
  for (int k = 0; k < 16; ++k) acc[k] = p.wa.bias[q * 16 + k];
#pragma unroll
  for (int s = 0; s < kStemCin * kStemK; ++s) {  // s = plane * 3 + ky
    const __half* r =
        in + ((s / kStemK) * G::kIH + sf::in_row(hr, s % kStemK)) * G::kIW + sf::in_col(col, 0);
#pragma unroll
    for (int kx = 0; kx < kStemK; ++kx) {
      const float x = __half2float(r[kx]);
      const int tap = s * kStemK + kx;
#pragma unroll
      for (int k = 0; k < 16; ++k) acc[k] = fmaf(x, p.wa.w[(q * kTaps + tap) * 16 + k], acc[k]);
    }
  }
  if (p.a_silu) {
#pragma unroll
    for (int k = 0; k < 16; ++k) acc[k] = stem_silu(acc[k]);
  }
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    __half2* hv = reinterpret_cast<__half2*>(&u[h]);
#pragma unroll
    for (int k = 0; k < 4; ++k)
      hv[k] = __floats2half2_rn(acc[8 * h + 2 * k], acc[8 * h + 2 * k + 1]);
  }
}

// Step 3, mma variant: the halo's pixels as an implicit GEMM on tensor cores (M: halo pixels
// in 16-row tiles, a warp's tiles warp, warp + 4, ...; N: kCh x 16 channels; K: the 27 taps
// padded to 32), A fragments gathered from the input copy by half loads (mma_a_k / mma_a_row),
// fp16 products accumulated in fp32 from the bias, SiLU, fp16 into tile3's halo layout.
template <int TW, int kCh>
__device__ __forceinline__ void stem_mma(const Params& p, const __half* in, unsigned char* smem,
                                         int oy0, int ox0, int warp, int lane) {
  using G = sf::Geom<kTH, TW>;
  constexpr int kHaloBytes = Cfg<TW, 16, kCh>::kHaloBytes;
  constexpr int kMT = (G::kHaloRows + 15) / 16;
  uint32_t b[kCh][8];
  float bias[kCh][4];  // [ni * 2 + h]: channel ni * 8 + 2 t + h
#pragma unroll
  for (int q = 0; q < kCh; ++q) {
    const uint32_t* w = p.wa_mma + q * sf::kMmaChunkWords;
    const uint4 lo = __ldg(reinterpret_cast<const uint4*>(w + lane * 8));
    const uint4 hi = __ldg(reinterpret_cast<const uint4*>(w + lane * 8 + 4));
    b[q][0] = lo.x, b[q][1] = lo.y, b[q][2] = lo.z, b[q][3] = lo.w;
    b[q][4] = hi.x, b[q][5] = hi.y, b[q][6] = hi.z, b[q][7] = hi.w;
#pragma unroll
    for (int i = 0; i < 4; ++i)
      bias[q][i] = __uint_as_float(__ldg(w + 256 + (i >> 1) * 8 + sf::mma_c_col(lane, i)));
  }
  // The lane's taps: offsets [ks][reg >> 1][h] from a pixel's base, and masks of taps >= 27.
  int toff[2][2][2];
  uint32_t mask[2][2];
#pragma unroll
  for (int ks = 0; ks < 2; ++ks)
#pragma unroll
    for (int c = 0; c < 2; ++c) {
      mask[ks][c] = 0;
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int k = sf::mma_a_k(lane, ks, 2 * c, h);
        toff[ks][c][h] = k < sf::kMmaK ? sf::mma_tap_offset(k, G::kIH, G::kIW) : 0;
        mask[ks][c] |= k < sf::kMmaK ? 0xffffu << (16 * h) : 0u;
      }
    }
  const unsigned short* ins = reinterpret_cast<const unsigned short*>(in);
#pragma unroll 1
  for (int mt = warp; mt < kMT; mt += kThreads / 32) {
    int base[2], hp[2];
    bool keep[2];
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      hp[i] = mt * 16 + sf::mma_a_row(lane, i);
      const int h = hp[i] < G::kHaloRows ? hp[i] : G::kHaloRows - 1;
      const int hr = h / G::kHW, col = sf::halo_col(h - hr * G::kHW, TW);
      base[i] = sf::mma_pixel_offset(hr, col, G::kIW);
      const int ay = sf::a_row(oy0, hr), ax = sf::a_col(ox0, col);
      keep[i] = hp[i] < G::kHaloRows && static_cast<unsigned>(ay) < static_cast<unsigned>(p.d.h) &&
                static_cast<unsigned>(ax) < static_cast<unsigned>(p.d.w);
    }
    float acc[kCh][2][4];
#pragma unroll
    for (int q = 0; q < kCh; ++q)
#pragma unroll
      for (int ni = 0; ni < 2; ++ni)
#pragma unroll
        for (int i = 0; i < 4; ++i) acc[q][ni][i] = bias[q][ni * 2 + (i & 1)];
#pragma unroll
    for (int ks = 0; ks < 2; ++ks) {
      uint32_t a[4];
#pragma unroll
      for (int reg = 0; reg < 4; ++reg) {
        const int r = reg & 1, c = reg >> 1;
        const uint32_t v = static_cast<uint32_t>(ins[base[r] + toff[ks][c][0]]) |
                           static_cast<uint32_t>(ins[base[r] + toff[ks][c][1]]) << 16;
        a[reg] = v & mask[ks][c];
      }
#pragma unroll
      for (int q = 0; q < kCh; ++q)
#pragma unroll
        for (int ni = 0; ni < 2; ++ni)
          mma16816(acc[q][ni], a, b[q][sf::mma_b_word(ks, ni, 0)], b[q][sf::mma_b_word(ks, ni, 1)]);
    }
#pragma unroll
    for (int q = 0; q < kCh; ++q)
#pragma unroll
      for (int ni = 0; ni < 2; ++ni)
#pragma unroll
        for (int i = 0; i < 2; ++i) {
          if (hp[i] >= G::kHaloRows) continue;
          float v0 = acc[q][ni][2 * i], v1 = acc[q][ni][2 * i + 1];
          if (p.a_silu) {
            v0 = stem_silu(v0);
            v1 = stem_silu(v1);
          }
          const __half2 h2 = keep[i] ? __floats2half2_rn(v0, v1) : __floats2half2_rn(0.0f, 0.0f);
          *reinterpret_cast<__half2*>(smem + q * kHaloBytes + swz32(hp[i], ni) + 4 * (lane & 3)) =
              h2;
        }
  }
}

// CTAs per SM the registers are capped for: 3, or 2 for the mma variant where 3 CTAs' shared
// memory exceeds an SM's 228 KB anyway (16x64 tiles, two chunks: 88 KB; 3 spilled there).
template <int TW, int BN, int kCh, bool kMma>
constexpr int min_ctas() {
  return kMma && 3 * (Cfg<TW, BN, kCh>::kSmem + 1024) > 228 * 1024 ? 2 : 3;
}

template <class TIn, int TW, int BN, int kCh, bool kMma>
__global__ void __launch_bounds__(kThreads, (min_ctas<TW, BN, kCh, kMma>()))
    stemfuse_kernel(const Params p) {
  using C = Cfg<TW, BN, kCh>;
  using G = typename C::G;
  extern __shared__ __align__(128) unsigned char smem[];
  const IgemmDesc& d = p.d;
  const int tid = static_cast<int>(threadIdx.x), lane = tid & 31, warp = tid >> 5;
  // Tile -> (N tile, spatial tile, image), N tiles of one spatial tile consecutive (tile3's).
  int t = static_cast<int>(blockIdx.x);
  const int n0 = (t % p.n_tiles) * BN;
  t /= p.n_tiles;
  const int ox0 = (t % p.tiles_x) * TW;
  t /= p.tiles_x;
  const int oy0 = (t % p.tiles_y) * kTH, img = t / p.tiles_y;

  // 1. B's weights, every chunk, [chunk][tap][cout_pad][16] -> chunk q at kWOffset + q * kBBytes.
  const uint32_t sw = smem_addr(smem + C::kWOffset);
  for (int i = tid; i < kCh * 9 * BN * 2; i += kThreads) {
    const int row = i >> 1, ch = i & 1;  // row = (chunk * 9 + tap) * BN + n
    const int kt = row / BN, n = row - kt * BN;
    cp_async16_cg(sw + (kt / 9) * C::kBBytes + swz32(row - (kt / 9) * 9 * BN, ch),
                  p.w + (static_cast<int64_t>(kt) * p.cout_pad + n0 + n) * kKC + ch * 8);
  }
  cp_async_commit();
  // 2. The input under the halo.
  __half* in = reinterpret_cast<__half*>(smem + C::kInOffset);
  copy_input<TIn, TW>(p, in, img, oy0, ox0, tid);
  __syncthreads();
  // 3. A on the halo: tile3's layout, zero outside A's map (B's padding).
  if constexpr (kMma) {
    stem_mma<TW, kCh>(p, in, smem, oy0, ox0, warp, lane);
  } else {
    for (int hp = tid; hp < G::kHaloRows; hp += kThreads) {
      const int hr = hp / G::kHW, col = sf::halo_col(hp - hr * G::kHW, TW);
      const int ay = sf::a_row(oy0, hr), ax = sf::a_col(ox0, col);
      const bool inside = static_cast<unsigned>(ay) < static_cast<unsigned>(d.h) &&
                          static_cast<unsigned>(ax) < static_cast<unsigned>(d.w);
      uint4 u[2] = {make_uint4(0, 0, 0, 0), make_uint4(0, 0, 0, 0)};
      if (inside) stem_pixel<TW, 0>(p, in, hr, col, u);
      *reinterpret_cast<uint4*>(smem + swz32(hp, 0)) = u[0];
      *reinterpret_cast<uint4*>(smem + swz32(hp, 1)) = u[1];
      if constexpr (kCh == 2) {
        u[0] = u[1] = make_uint4(0, 0, 0, 0);
        if (inside) stem_pixel<TW, 1>(p, in, hr, col, u);
        *reinterpret_cast<uint4*>(smem + C::kHaloBytes + swz32(hp, 0)) = u[0];
        *reinterpret_cast<uint4*>(smem + C::kHaloBytes + swz32(hp, 1)) = u[1];
      }
    }
  }
  cp_async_wait<0>();
  __syncthreads();  // halo and weights in place; the input copy is free for the staged tile

  // 4. tile3's main loop (conv_tile3.cu compute(), stride 2) over the chunks in order.
  int abase[C::kMI];
#pragma unroll
  for (int mi = 0; mi < C::kMI; ++mi) {
    const int pl = warp * C::kWM + mi * 16 + (lane & 15);
    const int py = pl / TW, px = pl - py * TW;
    abase[mi] = py * 2 * G::kHW + px;
  }
  const int achunk = lane >> 4;
  const int brow = (lane & 7) + ((lane >> 4) << 3), bchunk = (lane >> 3) & 1;
  float acc[C::kMI][C::kNI][4];
  zero_acc(acc);
#pragma unroll
  for (int kc = 0; kc < kCh; ++kc) {
    const uint32_t sa = smem_addr(smem + kc * C::kHaloBytes);
    const uint32_t sb = sw + kc * C::kBBytes;
    mma_3x3_swz32<C::kMI, C::kNI, BN>(acc, sa, sb, abase, achunk, brow, bchunk, G::kHW,
                                      [](int s) { return sf::tap_col_offset(s, TW); });
  }
  __half* tile = in;
  stage_accumulators<C::kMI, C::kNI>(acc, tile, C::kLdc, warp * C::kWM, 0, n0, p.bias, d.cout,
                                     d.silu, lane);
  __syncthreads();
  const int oh = d.oh, ow = d.ow, pix0 = img * oh * ow;
  const auto pixel = [=](int r) {
    const int oy = oy0 + r / TW, ox = ox0 + r % TW;
    return oy < oh && ox < ow ? pix0 + oy * ow + ox : -1;
  };
  const EpilogueOut o{nullptr, p.out, d.cout, oh * ow, d.out_ld, false, 0, p.out2, d.out2_ld};
  store_tile<C::kBM, BN, kThreads>(tile, C::kLdc, pixel, n0, o, tid);
}

template <class TIn, int TW, int BN, int kCh, bool kMma>
cudaError_t launch(Params p, cudaStream_t stream) {
  using C = Cfg<TW, BN, kCh>;
  p.n_tiles = (p.d.cout + BN - 1) / BN;
  p.tiles_x = (p.d.ow + TW - 1) / TW;
  p.tiles_y = (p.d.oh + kTH - 1) / kTH;
  const int64_t tiles = static_cast<int64_t>(p.d.n) * p.tiles_y * p.tiles_x * p.n_tiles;
  if (tiles > INT_MAX / 2) return cudaErrorInvalidConfiguration;
  p.tiles = static_cast<int>(tiles);
  if (tiles == 0) return cudaSuccess;
  if (C::kSmem > 48 * 1024) {
    // Opted in once per device (bit = ordinal) at the first launch there (the plan-time timing
    // or the eager first run, not inside a graph capture), as conv_tile3.cu does.
    static std::atomic<uint64_t> opted_in{0};
    int dev = 0;
    if (const cudaError_t e = cudaGetDevice(&dev); e != cudaSuccess) return e;
    const uint64_t bit = dev < 64 ? uint64_t{1} << dev : 0;
    if ((opted_in.load() & bit) == 0) {
      const cudaError_t e =
          cudaFuncSetAttribute(stemfuse_kernel<TIn, TW, BN, kCh, kMma>,
                               cudaFuncAttributeMaxDynamicSharedMemorySize, C::kSmem);
      if (e != cudaSuccess) return e;
      opted_in.fetch_or(bit);
    }
  }
  stemfuse_kernel<TIn, TW, BN, kCh, kMma>
      <<<dim3(static_cast<unsigned>(tiles)), kThreads, static_cast<size_t>(C::kSmem), stream>>>(p);
  return cudaGetLastError();
}

template <class TIn, int TW, int kCh, bool kMma>
cudaError_t launch_n(const Params& p, cudaStream_t stream) {
  switch (p.d.tile_n) {
    case 16:
      return launch<TIn, TW, 16, kCh, kMma>(p, stream);
    case 32:
      return launch<TIn, TW, 32, kCh, kMma>(p, stream);
    case 64:
      return launch<TIn, TW, 64, kCh, kMma>(p, stream);
    default:
      return cudaErrorInvalidConfiguration;
  }
}

template <class TIn, bool kMma>
cudaError_t launch_mma(const Params& p, cudaStream_t stream) {
  const bool two = p.d.cin == 32;
  if (p.d.tile_m == 128)
    return two ? launch_n<TIn, 16, 2, kMma>(p, stream) : launch_n<TIn, 16, 1, kMma>(p, stream);
  return two ? launch_n<TIn, 8, 2, kMma>(p, stream) : launch_n<TIn, 8, 1, kMma>(p, stream);
}

template <class TIn>
cudaError_t launch_in(const Params& p, cudaStream_t stream) {
  return p.wa_mma ? launch_mma<TIn, true>(p, stream) : launch_mma<TIn, false>(p, stream);
}

bool aligned16(const void* ptr) {
  return reinterpret_cast<uintptr_t>(ptr) % 16 == 0;
}

std::atomic<int> g_lowered{0};

}  // namespace

bool stemfuse_supports(const DirectConvDesc& a, const IgemmDesc& b) {
  DirectConvDesc packed = a;
  packed.out_ld = a.cout;
  return stem_band_fits(packed) && (a.cout == 16 || a.cout == 32) && tile3_supports(b) &&
         b.sh == 2 && b.n == a.n && b.h == a.oh && b.w == a.ow && b.cin == a.cout &&
         (b.x_ld == 0 || b.x_ld == b.cin) && b.z_ld == 0 && !b.nchw_out &&
         static_cast<int64_t>(a.n) * kStemCin * a.h * a.w < (int64_t{1} << 31);
}

cudaError_t launch_conv_stemfuse(Elem in, const DirectConvDesc& a, const StemWeights& wa,
                                 const IgemmDesc& b, const void* x, const void* w_packed,
                                 const float* bias, void* out, void* out2, cudaStream_t stream,
                                 const void* wa_mma) {
  if (!stemfuse_supports(a, b) || !tile3_tile_fits(b) || !aligned16(x) || !aligned16(w_packed) ||
      (wa_mma && !aligned16(wa_mma)) || !aligned16(out) ||
      (bias && reinterpret_cast<uintptr_t>(bias) % 4 != 0) ||
      (in != Elem::kF16 && in != Elem::kF32)) {
    return cudaErrorInvalidValue;
  }
  if (out2 && (b.out2_ld < b.cout || b.out2_ld % 8 != 0 || !aligned16(out2)))
    return cudaErrorInvalidValue;
  Params p{};
  p.x = x;
  p.w = static_cast<const __half*>(w_packed);
  p.bias = bias;
  p.out = static_cast<__half*>(out);
  p.out2 = static_cast<__half*>(out2);
  p.d = b;
  p.in_h = static_cast<int>(a.h);
  p.in_w = static_cast<int>(a.w);
  p.a_silu = a.silu;
  p.cout_pad = tile3_cout_pad(b);
  p.wa = wa;
  p.wa_mma = static_cast<const uint32_t*>(wa_mma);
  return in == Elem::kF32 ? launch_in<float>(p, stream) : launch_in<__half>(p, stream);
}

std::vector<uint32_t> pack_stemfuse_mma_weights(const StemWeights& w, int cout) {
  const int chunks = cout / 16;
  std::vector<uint32_t> out(static_cast<size_t>(chunks) * sf::kMmaChunkWords, 0);
  auto half_bits = [](float v) -> uint32_t {
    const __half_raw h = __float2half_rn(v);
    return h.x;
  };
  for (int q = 0; q < chunks; ++q) {
    uint32_t* c = out.data() + static_cast<size_t>(q) * sf::kMmaChunkWords;
    for (int lane = 0; lane < 32; ++lane)
      for (int ks = 0; ks < 2; ++ks)
        for (int ni = 0; ni < 2; ++ni)
          for (int reg = 0; reg < 2; ++reg) {
            uint32_t word = 0;
            for (int h = 0; h < 2; ++h) {
              const int k = sf::mma_b_k(lane, ks, reg, h), n = ni * 8 + sf::mma_b_n(lane);
              if (k < sf::kMmaK) word |= half_bits(w.w[(q * kTaps + k) * 16 + n]) << (16 * h);
            }
            c[lane * 8 + sf::mma_b_word(ks, ni, reg)] = word;
          }
    for (int n = 0; n < 16; ++n) std::memcpy(&c[256 + n], &w.bias[q * 16 + n], sizeof(float));
  }
  return out;
}

int stemfuse_convs_lowered() {
  return g_lowered.load();
}
void count_stemfuse_conv() {
  ++g_lowered;
}

}  // namespace fungen::cuda
