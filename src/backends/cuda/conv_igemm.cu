// Implicit-GEMM convolution on tensor cores (conv_igemm.cuh). One CTA computes a tile_m x tile_n
// block of the output (pixels x output channels); its warps each a WM x WN part with
// mma.sync m16n8k16 (fp16 in, fp32 accumulate). K advances 32 at a time through a 3-4 stage
// cp.async pipeline: the A tile (tile_m pixels x 32 of K) is gathered from the NHWC input in
// 16-byte chunks of 8 channels (zero-filled outside the image, past M or past K), the B tile
// from the packed weights (padded, so never out of bounds). Shared rows are 64 bytes, their four
// 16-byte chunks XOR-swizzled so ldmatrix reads 8 rows without bank conflicts. The epilogue adds
// bias and applies SiLU on the accumulators, stages the fp16 tile in shared memory, then adds the
// residual and stores 16-byte chunks along NHWC rows (with a row stride: Concat slices), or
// pixel runs of each channel (NCHW).
#include <cuda_fp16.h>

#include <atomic>
#include <climits>

#include "backends/cuda/conv_igemm.cuh"
#include "backends/cuda/conv_mma.cuh"
#include "backends/cuda/igemm_pieces.h"

namespace fungen::cuda {
namespace {

using namespace mma;

constexpr int kBK = kIgemmTileK;  // 32 halves: four 16-byte chunks per tile row
constexpr int kRowBytes = kBK * 2;
static_assert(kBK == 32, "mma_k32_swz64 (conv_mma.cuh) takes K tiles of 32 halves");
static_assert(kRowBytes == 64);  // swz64's rows

struct Params {
  const __half* x;
  const __half* w;
  const float* bias;
  const __half* z;
  __half* out;
  IgemmDesc d;
  int m, k_pad, k_tiles;
  int64_t x_ld, z_ld;      // igemm_x_ld / igemm_z_ld: input and residual pixel strides
  __half* out2 = nullptr;  // dual store: the rows again at out2 + m * d.out2_ld (NHWC)
  IgemmPieces pieces{};    // kPieces: the input's channel pieces (igemm_pieces.h), x unused
};

template <int BM, int BN, int WM, int WN>
struct Cfg {
  static constexpr int kWarpsM = BM / WM, kWarpsN = BN / WN;
  static constexpr int kThreads = kWarpsM * kWarpsN * 32;
  static constexpr int kStageBytes = (BM + BN) * kRowBytes;
  static constexpr int kStages = kStageBytes * 4 <= 48 * 1024 ? 4 : 3;
  static constexpr int kARows = BM * 4 / kThreads;  // A rows (one chunk each) per thread
  static constexpr int kRowStep = kThreads / 4;
  static constexpr int kMI = WM / 16, kNI = WN / 8;
  static constexpr int kLdc = BN + 8;  // staged output tile row (halves): conflict-free writes
  static constexpr int kStagingBytes = BM * kLdc * 2;
  static_assert(BM % WM == 0 && BN % WN == 0 && WM % 16 == 0 && WN % 16 == 0);
  static_assert((BM * 4) % kThreads == 0 && kARows >= 1);
  static_assert(kStages * kStageBytes <= 48 * 1024 && kStagingBytes <= 48 * 1024);
  static_assert(BN <= kIgemmPadN);
};

// kPieces: a 1x1 stride-1 unpadded convolution whose input channels come from p.pieces
// (igemm_pieces.h: never-materialized Concat pieces, some upsampled 2x on the fly).
template <int BM, int BN, int WM, int WN, bool kPieces>
__global__ void __launch_bounds__(Cfg<BM, BN, WM, WN>::kThreads) igemm_kernel(const Params p) {
  using C = Cfg<BM, BN, WM, WN>;
  // min(kStages, k_tiles) stages (a 1x1 conv over 32 channels needs one), at least the staged
  // output tile (launch() sizes it).
  extern __shared__ __align__(128) unsigned char smem[];
  const IgemmDesc& d = p.d;
  const int tid = static_cast<int>(threadIdx.x), lane = tid & 31, warp = tid >> 5;
  const int warp_m = warp % C::kWarpsM, warp_n = warp / C::kWarpsM;
  // Consecutive CTAs take the N tiles of one M tile: its activations come from DRAM once, the
  // other N tiles find them in L2 (the weights are small and stay there).
  const int n_tiles = (d.cout + BN - 1) / BN;
  const int mt = static_cast<int>(blockIdx.x) / n_tiles;
  const int m0 = mt * BM, n0 = (static_cast<int>(blockIdx.x) - mt * n_tiles) * BN;
  const int ohw = d.oh * d.ow;

  // A loader: this thread fills chunk `achunk` of rows arow0 + i * kRowStep of every A tile.
  const int achunk = tid & 3, arow0 = tid >> 2;
  const __half* abase[C::kARows];
  int aih[C::kARows], aiw[C::kARows];
#pragma unroll
  for (int i = 0; i < C::kARows; ++i) {
    const int m = m0 + arow0 + i * C::kRowStep;
    if (kPieces && m < p.m) {  // 1x1 s1: aih = the pixel's row over the batch, aiw its column
      const int row = m / d.w;
      abase[i] = p.x;
      aih[i] = row;
      aiw[i] = m - row * d.w;
    } else if (m < p.m) {
      const int img = m / ohw, rem = m - img * ohw, oy = rem / d.ow, ox = rem - oy * d.ow;
      abase[i] = p.x + static_cast<int64_t>(img) * d.h * d.w * p.x_ld;
      aih[i] = oy * d.sh - d.ph;
      aiw[i] = ox * d.sw - d.pw;
    } else {  // past M: every tap reads as outside the image (zeros)
      abase[i] = p.x;
      aih[i] = INT_MIN / 2;
      aiw[i] = 0;
    }
  }
  // Position of this thread's chunk in K = (r, s, c): advanced one tile per load_a call.
  int kc = achunk * 8, kr = 0, ks = 0;
  auto normalize = [&] {
    while (kc >= d.cin) {
      kc -= d.cin;
      if (++ks == d.kw) {
        ks = 0;
        ++kr;
      }
    }
  };
  normalize();

  auto load_a = [&](int stage) {
    const uint32_t sa = smem_addr(smem + stage * C::kStageBytes);
    const bool kvalid = kr < d.kh;
    if constexpr (kPieces) {  // kr 0: channel kc of the input, from its piece
      const IgemmPiece pc = piece_for(p.pieces, kvalid ? kc : 0);
      const __half* base = static_cast<const __half*>(pc.base);
#pragma unroll
      for (int i = 0; i < C::kARows; ++i) {
        const bool ok = kvalid && aih[i] >= 0;
        const __half* src = ok ? base + piece_offset(pc, aih[i], aiw[i], d.w, kc) : base;
        cp_async16_ca(sa + swz64(arow0 + i * C::kRowStep, achunk), src, ok);
      }
    } else {
#pragma unroll
      for (int i = 0; i < C::kARows; ++i) {
        const int ih = aih[i] + kr, iw = aiw[i] + ks;
        const bool ok = kvalid && static_cast<unsigned>(ih) < static_cast<unsigned>(d.h) &&
                        static_cast<unsigned>(iw) < static_cast<unsigned>(d.w);
        const __half* src =
            ok ? abase[i] + (static_cast<int64_t>(ih) * d.w + iw) * p.x_ld + kc : p.x;
        cp_async16_ca(sa + swz64(arow0 + i * C::kRowStep, achunk), src, ok);
      }
    }
    kc += kBK;
    normalize();
  };
  auto load_b = [&](int stage, int kt) {
    const uint32_t sb = smem_addr(smem + stage * C::kStageBytes + BM * kRowBytes);
    for (int i = tid; i < BN * 4; i += C::kThreads) {
      const int row = i >> 2, ch = i & 3;
      const __half* src = p.w + static_cast<int64_t>(n0 + row) * p.k_pad + kt * kBK + ch * 8;
      cp_async16_cg(sb + swz64(row, ch), src);
    }
  };

  float acc[C::kMI][C::kNI][4];
  zero_acc(acc);

  auto compute = [&](int stage) {
    const uint32_t sa = smem_addr(smem + stage * C::kStageBytes);
    const uint32_t sb = sa + BM * kRowBytes;
    mma_k32_swz64<C::kMI, C::kNI, WM, WN>(acc, sa, sb, warp_m, warp_n, lane);
  };

#pragma unroll
  for (int s = 0; s < C::kStages - 1; ++s) {
    if (s < p.k_tiles) {
      load_a(s);
      load_b(s, s);
    }
    cp_async_commit();
  }
  for (int kt = 0; kt < p.k_tiles; ++kt) {
    cp_async_wait<C::kStages - 2>();  // tile kt has landed (this thread's part)
    __syncthreads();                  // ... everyone's, and tile kt-1's stage is free again
    const int next = kt + C::kStages - 1;
    if (next < p.k_tiles) {
      load_a(next % C::kStages);
      load_b(next % C::kStages, next);
    }
    cp_async_commit();
    compute(kt % C::kStages);
  }
  cp_async_wait<0>();
  __syncthreads();  // every warp is done reading the stages: the tile is staged over them

  // Epilogue (conv_mma.cuh): act(acc + bias) staged as fp16 over the stages, then + residual and
  // out to global, NHWC rows or NCHW.
  __half* tile = reinterpret_cast<__half*>(smem);
  stage_accumulators<C::kMI, C::kNI>(acc, tile, C::kLdc, warp_m * WM, warp_n * WN, n0, p.bias,
                                     d.cout, d.silu, lane);
  __syncthreads();
  const int m_end = p.m;
  const auto pixel = [m0, m_end](int r) { return m0 + r < m_end ? m0 + r : -1; };
  const EpilogueOut o{p.z,
                      p.out,
                      d.cout,
                      ohw,
                      d.out_ld,
                      d.nchw_out,
                      p.z_ld,
                      p.out2,
                      d.out2_ld,
                      p.d.nchw_ch_ld,
                      p.d.nchw_batch_ld,
                      d.out_img_ld};
  store_tile<BM, BN, C::kThreads>(tile, C::kLdc, pixel, n0, o, tid);
}

template <int BM, int BN, int WM, int WN, bool kPieces>
cudaError_t launch_as(const Params& p, cudaStream_t s) {
  using C = Cfg<BM, BN, WM, WN>;
  const int64_t tiles = static_cast<int64_t>((p.m + BM - 1) / BM) * ((p.d.cout + BN - 1) / BN);
  if (tiles > INT_MAX) return cudaErrorInvalidConfiguration;
  const dim3 grid(static_cast<unsigned>(tiles));
  const int stages = p.k_tiles < C::kStages ? p.k_tiles : C::kStages;
  const size_t smem = static_cast<size_t>(
      stages * C::kStageBytes > C::kStagingBytes ? stages * C::kStageBytes : C::kStagingBytes);
  igemm_kernel<BM, BN, WM, WN, kPieces><<<grid, C::kThreads, smem, s>>>(p);
  return cudaGetLastError();
}

// Pieces only on the power-of-two tiles (fewer instantiations; igemm_pieces_supports says so).
template <int BM, int BN, int WM, int WN>
cudaError_t launch(const Params& p, cudaStream_t s) {
  if (p.pieces.count > 0) {
    if constexpr (BN == 16 || BN == 32 || BN == 64 || BN == 128) {
      return launch_as<BM, BN, WM, WN, true>(p, s);
    } else {
      return cudaErrorInvalidConfiguration;  // igemm_pieces_supports refuses these tiles
    }
  }
  return launch_as<BM, BN, WM, WN, false>(p, s);
}

bool aligned(const void* p, uintptr_t a) {
  return reinterpret_cast<uintptr_t>(p) % a == 0;
}

std::atomic<int> g_lowered{0};

}  // namespace

bool igemm_supports(const IgemmDesc& d) {
  if (d.n <= 0 || d.h <= 0 || d.w <= 0 || d.oh <= 0 || d.ow <= 0) return false;
  if (d.cin % 8 != 0 || d.cout % 8 != 0 || d.cin <= 0 || d.cout <= 0) return false;
  if (d.kh <= 0 || d.kw <= 0 || d.sh <= 0 || d.sw <= 0 || d.ph < 0 || d.pw < 0) return false;
  if (!d.nchw_out && (d.out_ld < d.cout || d.out_ld % 8 != 0)) return false;
  if (d.out_img_ld != 0 && (d.nchw_out || d.out_img_ld % 8 != 0 ||
                            d.out_img_ld < static_cast<int64_t>(d.oh) * d.ow * d.out_ld))
    return false;
  if (igemm_x_ld(d) < d.cin || igemm_x_ld(d) % 8 != 0) return false;
  if (igemm_z_ld(d) < d.cout || igemm_z_ld(d) % 8 != 0) return false;
  if (d.nchw_out && d.nchw_ch_ld != 0 &&
      (d.nchw_ch_ld < static_cast<int64_t>(d.oh) * d.ow || d.nchw_batch_ld < d.nchw_ch_ld * d.cout))
    return false;
  // 32-bit pixel index (plus a tile of headroom), output rows and image planes.
  const int64_t m = static_cast<int64_t>(d.n) * d.oh * d.ow;
  if (m > INT_MAX - 256 || static_cast<int64_t>(d.oh) * d.ow * d.cout > INT_MAX) return false;
  if (static_cast<int64_t>(d.kh) * d.kw * d.cin > INT_MAX / 2) return false;
  return static_cast<int64_t>(d.h) * d.w <= INT_MAX / 2;  // every tap is bounds-checked anyway
}

bool igemm_pieces_supports(const IgemmDesc& d, const IgemmPieces& ps) {
  if (d.kh != 1 || d.kw != 1 || d.sh != 1 || d.sw != 1 || d.ph != 0 || d.pw != 0) return false;
  if (d.oh != d.h || d.ow != d.w || d.x_ld != 0 || !igemm_supports(d)) return false;
  if (d.tile_n != 16 && d.tile_n != 32 && d.tile_n != 64 && d.tile_n != 128) return false;
  if (ps.count < 1 || ps.count > kIgemmMaxPieces || ps.p[0].c0 != 0) return false;
  for (int i = 0; i < ps.count; ++i) {
    const IgemmPiece& pc = ps.p[i];
    const int end = i + 1 < ps.count ? ps.p[i + 1].c0 : d.cin;
    if (pc.c0 % 8 != 0 || end <= pc.c0 || pc.ld < end - pc.c0 || pc.ld % 8 != 0) return false;
    if (pc.shift != 0 && pc.shift != 1) return false;
    if (pc.shift == 1 && (d.h % 2 != 0 || d.w % 2 != 0)) return false;
    if (reinterpret_cast<uintptr_t>(pc.base) % 16 != 0) return false;
  }
  return static_cast<int64_t>(d.n) * d.h <= INT_MAX / 2;
}

bool igemm_tile_fits(const IgemmDesc& d) {
  if (d.tile_m != 64 && d.tile_m != 128) return false;
  switch (d.tile_n) {
    case 16:
    case 32:
    case 64:
    case 128:
      return true;
    case 48:
    case 80:
    case 96:  // the B loader reads n_tiles * tile_n rows of weights padded to 128 only
      return d.cout % d.tile_n == 0;
    default:
      return false;
  }
}

void choose_igemm_tile(IgemmDesc& d, int sms) {
  d.tile_n = d.cout <= 16 ? 16 : d.cout <= 32 ? 32 : d.cout <= 64 ? 64 : 128;
  const int64_t m = static_cast<int64_t>(d.n) * d.oh * d.ow;
  const int64_t n_tiles = (d.cout + d.tile_n - 1) / d.tile_n;
  d.tile_m = ((m + 127) / 128) * n_tiles < 2 * static_cast<int64_t>(sms) ? 64 : 128;
}

std::vector<uint16_t> pack_igemm_weights(const float* oihw, const IgemmDesc& d) {
  const int k_pad = igemm_k_pad(d);
  std::vector<uint16_t> out(static_cast<size_t>(igemm_cout_pad(d)) * k_pad, 0);
  for (int o = 0; o < d.cout; ++o)
    for (int c = 0; c < d.cin; ++c)
      for (int r = 0; r < d.kh; ++r)
        for (int s = 0; s < d.kw; ++s) {
          const float v = oihw[((static_cast<size_t>(o) * d.cin + c) * d.kh + r) * d.kw + s];
          const __half_raw h = __float2half_rn(v);
          out[static_cast<size_t>(o) * k_pad + static_cast<size_t>(r * d.kw + s) * d.cin + c] = h.x;
        }
  return out;
}

namespace {
cudaError_t launch_any(const IgemmDesc& d, const void* x, const void* w_packed, const float* bias,
                       const void* z, void* out, cudaStream_t stream, void* out2,
                       const IgemmPieces* pieces) {
  if (pieces && !igemm_pieces_supports(d, *pieces)) return cudaErrorInvalidValue;
  if (!igemm_supports(d) || !igemm_tile_fits(d) || !aligned(x, 16) || !aligned(w_packed, 16) ||
      !aligned(out, d.nchw_out ? 2 : 16) || (z && !aligned(z, 16)) || (bias && !aligned(bias, 4))) {
    return cudaErrorInvalidValue;
  }
  if (out2 && (d.nchw_out || d.out2_ld < d.cout || d.out2_ld % 8 != 0 || !aligned(out2, 16)))
    return cudaErrorInvalidValue;
  Params p{static_cast<const __half*>(x),
           static_cast<const __half*>(w_packed),
           bias,
           static_cast<const __half*>(z),
           static_cast<__half*>(out),
           d,
           d.n * d.oh * d.ow,
           igemm_k_pad(d),
           igemm_k_pad(d) / kBK,
           igemm_x_ld(d),
           igemm_z_ld(d)};
  p.out2 = static_cast<__half*>(out2);
  if (pieces) p.pieces = *pieces;
  if (p.d.nchw_ch_ld == 0) {  // packed NCHW
    p.d.nchw_ch_ld = static_cast<int64_t>(d.oh) * d.ow;
    p.d.nchw_batch_ld = p.d.nchw_ch_ld * d.cout;
  }
  const int tm = d.tile_m, tn = d.tile_n;
  if (tm == 128 && tn == 128) return launch<128, 128, 64, 32>(p, stream);
  if (tm == 128 && tn == 64) return launch<128, 64, 32, 32>(p, stream);
  if (tm == 128 && tn == 32) return launch<128, 32, 32, 16>(p, stream);
  if (tm == 128 && tn == 16) return launch<128, 16, 16, 16>(p, stream);
  if (tm == 64 && tn == 128) return launch<64, 128, 32, 32>(p, stream);
  if (tm == 64 && tn == 64) return launch<64, 64, 32, 32>(p, stream);
  if (tm == 64 && tn == 32) return launch<64, 32, 32, 16>(p, stream);
  if (tm == 64 && tn == 16) return launch<64, 16, 16, 16>(p, stream);
  // C_out-sized tiles (YOLO's 80-class head, 48 / 96-channel layers): four warps along M, each
  // the whole tile_n.
  if (tm == 128 && tn == 48) return launch<128, 48, 32, 48>(p, stream);
  if (tm == 128 && tn == 80) return launch<128, 80, 32, 80>(p, stream);
  if (tm == 128 && tn == 96) return launch<128, 96, 32, 96>(p, stream);
  if (tm == 64 && tn == 48) return launch<64, 48, 16, 48>(p, stream);
  if (tm == 64 && tn == 80) return launch<64, 80, 16, 80>(p, stream);
  if (tm == 64 && tn == 96) return launch<64, 96, 16, 96>(p, stream);
  return cudaErrorInvalidConfiguration;
}

}  // namespace

cudaError_t launch_conv_igemm(const IgemmDesc& d, const void* x, const void* w_packed,
                              const float* bias, const void* z, void* out, cudaStream_t stream,
                              void* out2) {
  return launch_any(d, x, w_packed, bias, z, out, stream, out2, nullptr);
}

cudaError_t launch_conv_igemm_pieces(const IgemmDesc& d, const IgemmPieces& pieces,
                                     const void* w_packed, const float* bias, const void* z,
                                     void* out, cudaStream_t stream, void* out2) {
  return launch_any(d, pieces.p[0].base, w_packed, bias, z, out, stream, out2, &pieces);
}

int igemm_convs_lowered() {
  return g_lowered.load();
}
void count_igemm_conv() {
  ++g_lowered;
}

}  // namespace fungen::cuda
