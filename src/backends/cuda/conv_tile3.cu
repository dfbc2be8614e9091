// Tensor-core 3x3 convolution from a shared-memory input halo (conv_tile3.cuh). One CTA of four
// warps computes TH x TW output pixels of one image (the GEMM rows, TH * TW = BM) x BN output
// channels; warp w the BM / 4 rows from w * BM / 4, all BN columns. Per chunk of 16 input
// channels (a 3-stage cp.async pipeline, 2 when a stage is large):
//  - the halo: HH x HW input pixels ((TH - 1) * S + 3 by (TW - 1) * S + 3) x 16 channels, one
//    32-byte shared row per pixel, zero-filled outside the image and past C_in. At stride 2 the
//    halo's columns are stored even ones first, then odd ones, so that the 8 output pixels of one
//    ldmatrix phase read 8 consecutive halo rows at every tap, as at stride 1;
//  - the weights of the chunk: 9 taps x BN rows of 16 channels (32 bytes), from the packed
//    layout [chunk][tap][cout_pad][16] (L2; the same for every CTA); loaded once per CTA, after
//    the halo stages, when C_in <= 16 and its tiles share the N tile (w_resident).
// Shared rows are 32 bytes, their two 16-byte halves swapped on rows with bit 2 set: any 8
// consecutive rows hit the 8 distinct 16-byte bank groups (ldmatrix without conflicts).
// Then per tap (r, s): A = the halo rows of the warp's pixels shifted by (r, s), B = the tap's
// weight rows; mma.sync m16n8k16. The epilogue is conv_mma.cuh's.
// Index math: tools/cuda_tile3_emulate.py replays it in numpy.
#include <cuda_fp16.h>

#include <atomic>
#include <climits>

#include "backends/cuda/conv_mma.cuh"
#include "backends/cuda/conv_tile3.cuh"

namespace fungen::cuda {
namespace {

using namespace mma;

constexpr int kKC = kTile3ChunkC;  // 16 channels: two 16-byte chunks per shared row
constexpr int kRowBytes = kKC * 2;
static_assert(kRowBytes == 32);  // swz32's rows (conv_mma.cuh)

struct Params {
  const __half* x;
  const __half* w;
  const float* bias;
  const __half* z;
  __half* out;
  IgemmDesc d;
  int chunks, cout_pad, n_tiles, tiles_x, tiles_y;
  int tiles;           // n * tiles_y * tiles_x * n_tiles
  int per_cta;         // tiles per CTA: CTA b takes tiles b, b + gridDim.x, ...
  int staging_bytes;   // offset of the staged output tile: 0 (over the stages) or past them
  int w_resident;      // 1: one chunk and one N tile per CTA: the weights loaded once, at w_bytes
  int stage_bytes;     // shared bytes per stage: the halo alone (w_resident) or halo + weights
  int w_bytes;         // w_resident: offset of the weights, after the stages
  int64_t x_ld, z_ld;  // igemm_x_ld / igemm_z_ld: input and residual pixel strides
  __half* out2 = nullptr;  // dual store: the rows again at out2 + m * d.out2_ld (NHWC)
};

// Fewest tiles for per_cta > 1 (~8 CTAs per SM of a 132-SM part, over several waves).
constexpr int64_t kMinTilesForLoop = 4096;

template <int S, int TH, int TW, int BN>
struct Cfg {
  static constexpr int kBM = TH * TW;
  static constexpr int kThreads = 128;
  static constexpr int kWM = kBM / 4;  // rows per warp
  static constexpr int kMI = kWM / 16, kNI = BN / 8;
  static constexpr int kHH = (TH - 1) * S + 3, kHW = (TW - 1) * S + 3;
  static constexpr int kHaloRows = kHH * kHW;
  static constexpr int kHaloBytes = (kHaloRows * kRowBytes + 127) / 128 * 128;
  static constexpr int kBBytes = 9 * BN * kRowBytes;
  static constexpr int kStageBytes = kHaloBytes + kBBytes;
  static constexpr int kStages = kStageBytes * 3 <= 96 * 1024 ? 3 : 2;
  static constexpr int kLdc = BN + 8;  // staged output tile row (halves)
  static constexpr int kStagingBytes = kBM * kLdc * 2;
  // CTAs per SM the registers must allow (65536 / (128 * regs)): memory-bound small tiles want
  // many in flight; 64-wide tiles keep their 128 accumulators per thread unspilled.
  static constexpr int kMinBlocks = kMI == 1 ? (BN == 16   ? 8
                                                : BN == 32 ? 6
                                                           : 3)
                                             : (BN == 16   ? 6
                                                : BN == 32 ? 4
                                                           : 2);
  static_assert(S == 1 || S == 2);
  static_assert(TW % 8 == 0 && kWM % 16 == 0 && BN % 16 == 0 && BN <= kTile3PadN);
  static_assert(kStages * kStageBytes + kStagingBytes <= 99 * 1024);  // sm_86..120
};

// Halo column (0 .. HW-1, input column minus the tile's first) stored at halo position p.
template <int S, int TW>
__device__ __forceinline__ int halo_col(int p) {
  if constexpr (S == 1) {
    return p;
  } else {
    return p < TW + 1 ? 2 * p : 2 * (p - (TW + 1)) + 1;
  }
}
// Halo position of column px * S + s (output column px of the tile, tap s), minus px.
template <int S, int TW>
__device__ __forceinline__ constexpr int tap_col_offset(int s) {
  if constexpr (S == 1) {
    return s;
  } else {
    return s == 0 ? 0 : s == 1 ? TW + 1 : 1;
  }
}

template <int S, int TH, int TW, int BN>
__global__ void __launch_bounds__(128, Cfg<S, TH, TW, BN>::kMinBlocks)
    tile3_kernel(const Params p) {
  using C = Cfg<S, TH, TW, BN>;
  extern __shared__ __align__(128) unsigned char smem[];
  const IgemmDesc& d = p.d;
  const int tid = static_cast<int>(threadIdx.x), lane = tid & 31, warp = tid >> 5;
  // Tile -> (N tile, spatial tile, image), N tiles of one spatial tile consecutive: the halo
  // comes from DRAM once, the other N tiles find it in L2. CTA b takes tiles b + i * gridDim.x
  // (i < per_cta), so the CTAs running together work on neighbouring tiles. Its steps, (tile i,
  // chunk kc) for every i and kc, go through one pipeline: the next tile's halo arrives while
  // this one is computed and stored.
  struct Tile {
    int n0, oy0, ox0, img;
  };
  const auto tile_of = [&](int t) {
    Tile r;
    const int nt = t % p.n_tiles;
    t /= p.n_tiles;
    const int tx = t % p.tiles_x;
    t /= p.tiles_x;
    r.n0 = nt * BN;
    r.ox0 = tx * TW;
    r.oy0 = (t % p.tiles_y) * TH;
    r.img = t / p.tiles_y;
    return r;
  };
  const int first = static_cast<int>(blockIdx.x), stride = static_cast<int>(gridDim.x);
  const int my_tiles = (p.tiles - first + stride - 1) / stride < p.per_cta
                           ? (p.tiles - first + stride - 1) / stride
                           : p.per_cta;
  const int steps = my_tiles * p.chunks;

  auto load = [&](int stage, int step) {
    const int ti = step / p.chunks, kc = step - ti * p.chunks;
    const Tile t = tile_of(first + ti * stride);
    const int iy0 = t.oy0 * S - d.ph, ix0 = t.ox0 * S - d.pw;
    const __half* ximg = p.x + static_cast<int64_t>(t.img) * d.h * d.w * p.x_ld;
    const uint32_t sh = smem_addr(smem + stage * p.stage_bytes);
    const int c0 = kc * kKC;
    for (int i = tid; i < C::kHaloRows * 2; i += C::kThreads) {
      const int hp = i >> 1, ch = i & 1;
      const int hr = hp / C::kHW, col = halo_col<S, TW>(hp - hr * C::kHW);
      const int iy = iy0 + hr, ix = ix0 + col, c = c0 + ch * 8;
      const bool ok = static_cast<unsigned>(iy) < static_cast<unsigned>(d.h) &&
                      static_cast<unsigned>(ix) < static_cast<unsigned>(d.w) && c < d.cin;
      const __half* src = ok ? ximg + (static_cast<int64_t>(iy) * d.w + ix) * p.x_ld + c : p.x;
      cp_async16_cg_zfill(sh + swz32(hp, ch), src, ok);
    }
    if (p.w_resident && step > 0) return;  // loaded with the first step, kept
    const uint32_t sb = p.w_resident ? smem_addr(smem + p.w_bytes) : sh + C::kHaloBytes;
    const __half* wk = p.w + static_cast<int64_t>(kc) * 9 * p.cout_pad * kKC;
    for (int i = tid; i < 9 * BN * 2; i += C::kThreads) {
      const int row = i >> 1, ch = i & 1;  // row = tap * BN + n
      const int tap = row / BN, n = row - tap * BN;
      cp_async16_cg(sb + swz32(row, ch),
                    wk + (static_cast<int64_t>(tap) * p.cout_pad + t.n0 + n) * kKC + ch * 8);
    }
  };

  // ldmatrix A: lane l gives the row of pixel (l & 15) of the fragment, chunk l >> 4. Halo row
  // of the tap (0, 0) for each fragment; a tap adds r * HW + tap_col_offset(s).
  int abase[C::kMI];
#pragma unroll
  for (int mi = 0; mi < C::kMI; ++mi) {
    const int pl = warp * C::kWM + mi * 16 + (lane & 15);
    const int py = pl / TW, px = pl - py * TW;
    abase[mi] = py * S * C::kHW + px;
  }
  const int achunk = lane >> 4;
  const int brow = (lane & 7) + ((lane >> 4) << 3), bchunk = (lane >> 3) & 1;

  float acc[C::kMI][C::kNI][4];
  zero_acc(acc);

  auto compute = [&](int stage) {
    const uint32_t sa = smem_addr(smem + stage * p.stage_bytes);
    const uint32_t sb = p.w_resident ? smem_addr(smem + p.w_bytes) : sa + C::kHaloBytes;
    mma_3x3_swz32<C::kMI, C::kNI, BN>(acc, sa, sb, abase, achunk, brow, bchunk, C::kHW,
                                      [](int s) { return tap_col_offset<S, TW>(s); });
  };

#pragma unroll
  for (int s = 0; s < C::kStages - 1; ++s) {
    if (s < steps) load(s, s);
    cp_async_commit();
  }
  __half* tile = reinterpret_cast<__half*>(smem + p.staging_bytes);
  for (int step = 0, kc = 0, ti = 0; step < steps; ++step) {
    cp_async_wait<C::kStages - 2>();  // step's stage has landed (this thread's part)
    __syncthreads();  // ... everyone's; the previous step's stage and the staged tile are free
    const int next = step + C::kStages - 1;
    if (next < steps) load(next % C::kStages, next);
    cp_async_commit();
    compute(step % C::kStages);
    if (++kc < p.chunks) continue;
    // Tile ti is done: the epilogue (conv_mma.cuh), then the accumulators start the next tile.
    kc = 0;
    const Tile t = tile_of(first + ti * stride);
    ++ti;
    if (p.staging_bytes == 0) {  // staged over the stages: one tile per CTA, the last step
      cp_async_wait<0>();
      __syncthreads();
    }
    stage_accumulators<C::kMI, C::kNI>(acc, tile, C::kLdc, warp * C::kWM, 0, t.n0, p.bias, d.cout,
                                       d.silu, lane);
    __syncthreads();
    const int oh = d.oh, ow = d.ow, pix0 = t.img * oh * ow, oy0 = t.oy0, ox0 = t.ox0;
    const auto pixel = [=](int r) {
      const int oy = oy0 + r / TW, ox = ox0 + r % TW;
      return oy < oh && ox < ow ? pix0 + oy * ow + ox : -1;
    };
    const EpilogueOut o{p.z,    p.out,  d.cout,    oh * ow,      d.out_ld,        d.nchw_out,
                        p.z_ld, p.out2, d.out2_ld, d.nchw_ch_ld, d.nchw_batch_ld, d.out_img_ld};
    store_tile<C::kBM, BN, C::kThreads>(tile, C::kLdc, pixel, t.n0, o, tid);
    zero_acc(acc);
  }
}

template <int S, int TH, int TW, int BN>
cudaError_t launch(Params p, cudaStream_t stream) {
  using C = Cfg<S, TH, TW, BN>;
  p.n_tiles = (p.d.cout + BN - 1) / BN;
  p.tiles_x = (p.d.ow + TW - 1) / TW;
  p.tiles_y = (p.d.oh + TH - 1) / TH;
  const int64_t tiles = static_cast<int64_t>(p.d.n) * p.tiles_y * p.tiles_x * p.n_tiles;
  if (tiles > INT_MAX / 2) return cudaErrorInvalidConfiguration;
  p.tiles = static_cast<int>(tiles);
  // Unless asked (tests): several tiles per CTA where one or two chunks leave a CTA nothing to
  // overlap its loads with, while the grid stays large.
  if (p.per_cta <= 0) p.per_cta = p.chunks > 2 || tiles < kMinTilesForLoop ? 1 : 4 / p.chunks;
  const int64_t blocks = (tiles + p.per_cta - 1) / p.per_cta;
  const int steps = p.chunks * p.per_cta;
  const int stages = steps < C::kStages ? steps : C::kStages;
  // One chunk, and every tile of a CTA in the same N tile (tile b + i * blocks): the weights are
  // loaded with the first step into their own place after the halo stages and read by all.
  p.w_resident = p.chunks == 1 && (p.n_tiles == 1 || blocks % p.n_tiles == 0) ? 1 : 0;
  p.stage_bytes = p.w_resident ? C::kHaloBytes : C::kStageBytes;
  p.w_bytes = p.w_resident ? stages * C::kHaloBytes : 0;
  const int used = stages * p.stage_bytes + (p.w_resident ? C::kBBytes : 0);
  p.staging_bytes = p.per_cta > 1 ? used : 0;
  const int smem = p.per_cta > 1             ? used + C::kStagingBytes
                   : used > C::kStagingBytes ? used
                                             : C::kStagingBytes;
  if (smem > 48 * 1024) {
    // Opted in once per device (bit = ordinal), for the most this kernel ever asks, at its first
    // launch there: the plan-time timing or the eager first run, not inside a graph capture.
    static std::atomic<uint64_t> opted_in{0};
    int dev = 0;
    if (const cudaError_t e = cudaGetDevice(&dev); e != cudaSuccess) return e;
    const uint64_t bit = dev < 64 ? uint64_t{1} << dev : 0;
    if ((opted_in.load() & bit) == 0) {
      constexpr int kMost = C::kStages * C::kStageBytes + C::kStagingBytes;
      const cudaError_t e = cudaFuncSetAttribute(
          tile3_kernel<S, TH, TW, BN>, cudaFuncAttributeMaxDynamicSharedMemorySize, kMost);
      if (e != cudaSuccess) return e;
      opted_in.fetch_or(bit);
    }
  }
  tile3_kernel<S, TH, TW, BN>
      <<<dim3(static_cast<unsigned>(blocks)), C::kThreads, static_cast<size_t>(smem), stream>>>(p);
  return cudaGetLastError();
}

template <int S>
cudaError_t launch_stride(const Params& p, cudaStream_t stream) {
  const int tm = p.d.tile_m, tn = p.d.tile_n;
  if (tm == 128 && tn == 16) return launch<S, 8, 16, 16>(p, stream);
  if (tm == 128 && tn == 32) return launch<S, 8, 16, 32>(p, stream);
  if (tm == 128 && tn == 64) return launch<S, 8, 16, 64>(p, stream);
  if (tm == 64 && tn == 16) return launch<S, 8, 8, 16>(p, stream);
  if (tm == 64 && tn == 32) return launch<S, 8, 8, 32>(p, stream);
  if (tm == 64 && tn == 64) return launch<S, 8, 8, 64>(p, stream);
  return cudaErrorInvalidConfiguration;
}

bool aligned(const void* ptr, uintptr_t a) {
  return reinterpret_cast<uintptr_t>(ptr) % a == 0;
}

std::atomic<int> g_lowered{0};

}  // namespace

bool tile3_supports(const IgemmDesc& d) {
  if (!igemm_supports(d)) return false;
  if (d.kh != 3 || d.kw != 3 || d.ph != 1 || d.pw != 1) return false;
  if (d.sh != d.sw || (d.sh != 1 && d.sh != 2)) return false;
  return (d.h - 1) / d.sh + 1 == d.oh && (d.w - 1) / d.sw + 1 == d.ow;
}

bool tile3_tile_fits(const IgemmDesc& d) {
  return (d.tile_m == 64 || d.tile_m == 128) &&
         (d.tile_n == 16 || d.tile_n == 32 || d.tile_n == 64);
}

void choose_tile3_tile(IgemmDesc& d, int sms) {
  d.tile_n = d.cout <= 16 ? 16 : d.cout <= 32 ? 32 : 64;
  const int64_t n_tiles = (d.cout + d.tile_n - 1) / d.tile_n;
  const int64_t tiles128 = static_cast<int64_t>(d.n) * ((d.oh + 7) / 8) * ((d.ow + 15) / 16);
  const int64_t waste16 = (d.ow + 15) / 16 * 16 - d.ow, waste8 = (d.ow + 7) / 8 * 8 - d.ow;
  const bool few = tiles128 * n_tiles < 2 * static_cast<int64_t>(sms);
  d.tile_m = few || (waste16 - waste8) * 4 > d.ow ? 64 : 128;
}

std::vector<uint16_t> pack_tile3_weights(const float* oihw, const IgemmDesc& d) {
  const int cout_pad = tile3_cout_pad(d);
  std::vector<uint16_t> out(tile3_weight_elems(d), 0);
  for (int o = 0; o < d.cout; ++o)
    for (int c = 0; c < d.cin; ++c)
      for (int t = 0; t < 9; ++t) {
        const float v = oihw[(static_cast<size_t>(o) * d.cin + c) * 9 + t];
        const size_t at = ((static_cast<size_t>(c / kKC) * 9 + t) * cout_pad + o) * kKC + c % kKC;
        const __half_raw h = __float2half_rn(v);
        out[at] = h.x;
      }
  return out;
}

cudaError_t launch_conv_tile3(const IgemmDesc& d, const void* x, const void* w_packed,
                              const float* bias, const void* z, void* out, cudaStream_t stream,
                              int tiles_per_cta, void* out2) {
  if (!tile3_supports(d) || !tile3_tile_fits(d) || tiles_per_cta < 0 || tiles_per_cta > 16 ||
      !aligned(x, 16) || !aligned(w_packed, 16) || !aligned(out, d.nchw_out ? 2 : 16) ||
      (z && !aligned(z, 16)) || (bias && !aligned(bias, 4))) {
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
           tile3_cin_chunks(d),
           tile3_cout_pad(d),
           0,
           0,
           0,
           0,
           tiles_per_cta,
           0,
           0,
           0,
           0,
           igemm_x_ld(d),
           igemm_z_ld(d)};
  p.out2 = static_cast<__half*>(out2);
  return d.sh == 1 ? launch_stride<1>(p, stream) : launch_stride<2>(p, stream);
}

int tile3_convs_lowered() {
  return g_lowered.load();
}
void count_tile3_conv() {
  ++g_lowered;
}

}  // namespace fungen::cuda
