// Persistent 1x1 convolution on tensor cores (conv_igemm_1x1.cuh). Shared memory: the CTA's
// weight slice [K tiles][tile_n rows of 64 bytes], then `stages` activation stages, each
// [K tiles][tile_m rows of 64 bytes] (the swizzled rows of conv_igemm.cu, one 32-wide K tile per
// row), then the staged fp16 output tile. The CTA takes N tile blockIdx % n_tiles and the M tiles
// blockIdx / n_tiles + j * (gridDim / n_tiles): while tile j is multiplied (mma.m16n8k16 from
// ldmatrix fragments, as in conv_igemm.cu) and stored, tiles j+1.. are being loaded.
#include <cuda_fp16.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>
#include <map>
#include <mutex>
#include <tuple>

#include "backends/cuda/conv_igemm_1x1.cuh"
#include "backends/cuda/conv_mma.cuh"
#include "backends/cuda/igemm_pieces.h"

namespace fungen::cuda {
namespace {

using namespace mma;

constexpr int kBK = kIgemmTileK;  // 32 halves: four 16-byte chunks per tile row
constexpr int kRowBytes = kBK * 2;
static_assert(kRowBytes == 64);  // swz64's rows (conv_mma.cuh)

struct Params {
  const __half* x;
  const __half* w;
  const float* bias;
  const __half* z;
  __half* out;
  IgemmDesc d;
  int m, k_pad, k_tiles, m_tiles, n_tiles, stages;
  int64_t x_ld, z_ld;
  IgemmPieces pieces{};  // kPieces: the input's channel pieces (igemm_pieces.h), x unused
  FastDiv by_w{};        // kPieces: pixel -> (row over the batch, column)
};

template <int BM, int BN, int WM, int WN>
struct Cfg {
  static constexpr int kWarpsM = BM / WM, kWarpsN = BN / WN;
  static constexpr int kThreads = kWarpsM * kWarpsN * 32;
  static constexpr int kMI = WM / 16, kNI = WN / 8;
  static constexpr int kLdc = BN + 8;  // staged output row (halves): conflict-free writes
  static_assert(BM % WM == 0 && BN % WN == 0 && WM % 16 == 0 && WN % 16 == 0);
  static_assert(BN <= kIgemmPadN);
};

// Shared bytes of the weight slice, one activation stage, and the staged output tile.
struct Smem {
  int b = 0, a_stage = 0, staging = 0;
  int total(int stages) const { return b + stages * a_stage + staging; }
};
Smem smem_of(int tile_m, int tile_n, int k_tiles) {
  return {k_tiles * tile_n * kRowBytes, k_tiles * tile_m * kRowBytes, tile_m * (tile_n + 8) * 2};
}

template <int BM, int BN, int WM, int WN, bool kPieces>
__global__ void __launch_bounds__(Cfg<BM, BN, WM, WN>::kThreads) persist_kernel(const Params p) {
  using C = Cfg<BM, BN, WM, WN>;
  extern __shared__ __align__(128) unsigned char smem[];
  const IgemmDesc& d = p.d;
  const int tid = static_cast<int>(threadIdx.x), lane = tid & 31, warp = tid >> 5;
  const int warp_m = warp % C::kWarpsM, warp_n = warp / C::kWarpsM;
  const int n0 = static_cast<int>(blockIdx.x) % p.n_tiles * BN;
  const int walkers = static_cast<int>(gridDim.x) / p.n_tiles;
  const int first_mt = static_cast<int>(blockIdx.x) / p.n_tiles;
  const int my_tiles = first_mt < p.m_tiles ? (p.m_tiles - 1 - first_mt) / walkers + 1 : 0;
  const int kt4 = p.k_tiles * 4;  // 16-byte chunks per row of K
  const int b_bytes = p.k_tiles * BN * kRowBytes, a_stage = p.k_tiles * BM * kRowBytes;
  const uint32_t sb = smem_addr(smem);
  const uint32_t sa0 = sb + b_bytes;
  __half* tile = reinterpret_cast<__half*>(smem + b_bytes + p.stages * a_stage);

  // Weights: padded to cout_pad x k_pad, never out of bounds.
  for (int i = tid; i < BN * kt4; i += C::kThreads) {
    const int row = i / kt4, rem = i - row * kt4, kt = rem >> 2, ch = rem & 3;
    const __half* src = p.w + static_cast<int64_t>(n0 + row) * p.k_pad + kt * kBK + ch * 8;
    cp_async16_cg(sb + kt * BN * kRowBytes + swz64(row, ch), src);
  }
  // Activations of local tile j (M tile first_mt + j * walkers) into stage `stage`; consecutive
  // threads take consecutive 16-byte chunks of one pixel's row. Past M or C_in: zeros.
  auto load_a = [&](int stage, int j) {
    const int m0 = (first_mt + j * walkers) * BM;
    const uint32_t sa = sa0 + stage * a_stage;
    for (int i = tid; i < BM * kt4; i += C::kThreads) {
      const int row = i / kt4, rem = i - row * kt4, kt = rem >> 2, ch = rem & 3;
      const int m = m0 + row, k = kt * kBK + ch * 8;
      const bool ok = m < p.m && k < d.cin;
      const __half* src = p.x;
      if constexpr (kPieces) {  // channel k of pixel m from its piece (upsampled or not)
        const IgemmPiece pc = piece_for(p.pieces, ok ? k : 0);
        const int prow = static_cast<int>(p.by_w.div(static_cast<uint32_t>(ok ? m : 0)));
        src = static_cast<const __half*>(pc.base);
        if (ok) src += piece_offset(pc, prow, m - prow * d.w, d.w, k);
      } else if (ok) {
        src = p.x + static_cast<int64_t>(m) * p.x_ld + k;
      }
      cp_async16_cg_zfill(sa + kt * BM * kRowBytes + swz64(row, ch), src, ok);
    }
  };
  for (int s = 0; s < p.stages - 1; ++s) {  // group 0: the weights and tile 0
    if (s < my_tiles) load_a(s, s);
    cp_async_commit();
  }

  for (int j = 0; j < my_tiles; ++j) {
    if (p.stages == 3) {
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();  // tile j landed for all; tile j-1's stage and the staged tile are free
    const int next = j + p.stages - 1;
    if (next < my_tiles) load_a(next % p.stages, next);
    cp_async_commit();

    float acc[C::kMI][C::kNI][4];
    zero_acc(acc);
    const uint32_t sa_j = sa0 + (j % p.stages) * a_stage;
    for (int kt = 0; kt < p.k_tiles; ++kt) {
      const uint32_t sa = sa_j + kt * BM * kRowBytes, sbk = sb + kt * BN * kRowBytes;
      mma_k32_swz64<C::kMI, C::kNI, WM, WN>(acc, sa, sbk, warp_m, warp_n, lane);
    }

    // Epilogue (conv_mma.cuh): act(acc + bias) as fp16 into the staged tile, then + residual and
    // out to global, NHWC rows of out_ld or NCHW.
    stage_accumulators<C::kMI, C::kNI>(acc, tile, C::kLdc, warp_m * WM, warp_n * WN, n0, p.bias,
                                       d.cout, d.silu, lane);
    __syncthreads();
    const int m0 = (first_mt + j * walkers) * BM, m_end = p.m;
    const auto pixel = [m0, m_end](int r) { return m0 + r < m_end ? m0 + r : -1; };
    const EpilogueOut o{p.z,    p.out,   d.cout, d.oh * d.ow,  d.out_ld,        d.nchw_out,
                        p.z_ld, nullptr, 0,      d.nchw_ch_ld, d.nchw_batch_ld, d.out_img_ld};
    store_tile<BM, BN, C::kThreads>(tile, C::kLdc, pixel, n0, o, tid);
  }
  cp_async_wait<0>();  // no copy outlives the CTA (the last groups are empty)
}

struct DeviceLimits {
  int device = 0, sms = 0, optin = 0, per_sm = 0;
};
cudaError_t device_limits(int device, DeviceLimits& l) {
  l.device = device;
  cudaError_t e = cudaDeviceGetAttribute(&l.sms, cudaDevAttrMultiProcessorCount, device);
  if (e == cudaSuccess)
    e = cudaDeviceGetAttribute(&l.optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
  if (e == cudaSuccess)
    e = cudaDeviceGetAttribute(&l.per_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, device);
  return e;
}

// 3 stages when two CTAs of them fit on one multiprocessor, else 2; 0 when 2 do not fit a CTA.
int stages_for(const Smem& s, const DeviceLimits& l) {
  if (s.total(3) <= l.optin && 2 * (s.total(3) + 1024) <= l.per_sm) return 3;
  return s.total(2) <= l.optin ? 2 : 0;
}

// CTAs of `kernel` with `bytes` of dynamic shared memory resident on one multiprocessor of
// `device` (the current one), asked of the runtime once per (kernel, bytes, device) and remembered:
// the launches inside a graph capture then make no occupancy query (the first launch of each is
// eager).
// The first time also lets the kernel use the device's largest dynamic shared memory (`optin`).
cudaError_t resident_ctas(const void* kernel, int threads, int bytes, int device, int optin,
                          int& per_sm) {
  static std::mutex mu;
  static std::map<std::tuple<const void*, int, int>, int> known;
  std::lock_guard<std::mutex> lock(mu);
  auto it = known.find({kernel, bytes, device});
  if (it != known.end()) {
    per_sm = it->second;
    return cudaSuccess;
  }
  cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, optin);
  if (e != cudaSuccess) return e;
  e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, threads,
                                                    static_cast<size_t>(bytes));
  if (e == cudaSuccess) known[{kernel, bytes, device}] = per_sm;
  return e;
}

template <int BM, int BN, int WM, int WN, bool kPieces>
cudaError_t launch_as(Params p, const DeviceLimits& l, cudaStream_t s, int forced_walkers) {
  using C = Cfg<BM, BN, WM, WN>;
  auto* kernel = persist_kernel<BM, BN, WM, WN, kPieces>;
  const Smem sm = smem_of(BM, BN, p.k_tiles);
  p.stages = stages_for(sm, l);
  if (p.stages == 0) return cudaErrorInvalidConfiguration;
  const int bytes = sm.total(p.stages);
  int per_sm = 0;
  cudaError_t e = resident_ctas(reinterpret_cast<const void*>(kernel), C::kThreads, bytes, l.device,
                                l.optin, per_sm);
  if (e != cudaSuccess) return e;
  if (per_sm < 1) return cudaErrorInvalidConfiguration;
  const int64_t resident = static_cast<int64_t>(per_sm) * l.sms;
  const int64_t walkers = std::max<int64_t>(
      1, std::min<int64_t>(p.m_tiles, forced_walkers > 0 ? forced_walkers : resident / p.n_tiles));
  const int64_t grid = walkers * p.n_tiles;
  if (grid > INT_MAX) return cudaErrorInvalidConfiguration;
  kernel<<<static_cast<unsigned>(grid), C::kThreads, static_cast<size_t>(bytes), s>>>(p);
  return cudaGetLastError();
}

// Pieces only on the power-of-two tiles (fewer instantiations; igemm_pieces_supports says so).
template <int BM, int BN, int WM, int WN>
cudaError_t launch(const Params& p, const DeviceLimits& l, cudaStream_t s, int forced_walkers) {
  if (p.pieces.count > 0) {
    if constexpr (BN == 16 || BN == 32 || BN == 64 || BN == 128) {
      return launch_as<BM, BN, WM, WN, true>(p, l, s, forced_walkers);
    } else {
      return cudaErrorInvalidConfiguration;
    }
  }
  return launch_as<BM, BN, WM, WN, false>(p, l, s, forced_walkers);
}

bool aligned(const void* p, uintptr_t a) {
  return reinterpret_cast<uintptr_t>(p) % a == 0;
}

std::atomic<int> g_lowered{0};

}  // namespace

bool igemm_1x1_persist_supports(const IgemmDesc& d, int device) {
  if (d.kh != 1 || d.kw != 1 || d.sh != 1 || d.sw != 1 || d.ph != 0 || d.pw != 0) return false;
  if (d.oh != d.h || d.ow != d.w || !igemm_supports(d) || !igemm_tile_fits(d)) return false;
  DeviceLimits l;
  if (device_limits(device, l) != cudaSuccess) return false;
  return stages_for(smem_of(d.tile_m, d.tile_n, igemm_k_pad(d) / kBK), l) > 0;
}

cudaError_t launch_conv_igemm_1x1_persist(const IgemmDesc& d, const void* x, const void* w_packed,
                                          const float* bias, const void* z, void* out,
                                          cudaStream_t stream, int walkers,
                                          const IgemmPieces* pieces) {
  int device = 0;
  cudaError_t e = cudaGetDevice(&device);
  if (e != cudaSuccess) return e;
  if (pieces && !igemm_pieces_supports(d, *pieces)) return cudaErrorInvalidValue;
  if (pieces) x = pieces->p[0].base;
  if (!igemm_1x1_persist_supports(d, device) || !aligned(x, 16) || !aligned(w_packed, 16) ||
      !aligned(out, d.nchw_out ? 2 : 16) || (z && !aligned(z, 16)) || (bias && !aligned(bias, 4))) {
    return cudaErrorInvalidValue;
  }
  DeviceLimits l;
  e = device_limits(device, l);
  if (e != cudaSuccess) return e;
  const int m = d.n * d.oh * d.ow;
  Params p{static_cast<const __half*>(x),
           static_cast<const __half*>(w_packed),
           bias,
           static_cast<const __half*>(z),
           static_cast<__half*>(out),
           d,
           m,
           igemm_k_pad(d),
           igemm_k_pad(d) / kBK,
           (m + d.tile_m - 1) / d.tile_m,
           (d.cout + d.tile_n - 1) / d.tile_n,
           0,
           igemm_x_ld(d),
           igemm_z_ld(d)};
  if (pieces) {
    p.pieces = *pieces;
    p.by_w = FastDiv(static_cast<uint32_t>(d.w));
  }
  if (p.d.nchw_ch_ld == 0) {  // packed NCHW
    p.d.nchw_ch_ld = static_cast<int64_t>(d.oh) * d.ow;
    p.d.nchw_batch_ld = p.d.nchw_ch_ld * d.cout;
  }
  const int tm = d.tile_m, tn = d.tile_n;
  if (tm == 128 && tn == 128) return launch<128, 128, 64, 32>(p, l, stream, walkers);
  if (tm == 128 && tn == 64) return launch<128, 64, 32, 32>(p, l, stream, walkers);
  if (tm == 128 && tn == 32) return launch<128, 32, 32, 16>(p, l, stream, walkers);
  if (tm == 128 && tn == 16) return launch<128, 16, 16, 16>(p, l, stream, walkers);
  if (tm == 64 && tn == 128) return launch<64, 128, 32, 32>(p, l, stream, walkers);
  if (tm == 64 && tn == 64) return launch<64, 64, 32, 32>(p, l, stream, walkers);
  if (tm == 64 && tn == 32) return launch<64, 32, 32, 16>(p, l, stream, walkers);
  if (tm == 64 && tn == 16) return launch<64, 16, 16, 16>(p, l, stream, walkers);
  if (tm == 128 && tn == 48) return launch<128, 48, 32, 48>(p, l, stream, walkers);
  if (tm == 128 && tn == 80) return launch<128, 80, 32, 80>(p, l, stream, walkers);
  if (tm == 128 && tn == 96) return launch<128, 96, 32, 96>(p, l, stream, walkers);
  if (tm == 64 && tn == 48) return launch<64, 48, 16, 48>(p, l, stream, walkers);
  if (tm == 64 && tn == 80) return launch<64, 80, 16, 80>(p, l, stream, walkers);
  if (tm == 64 && tn == 96) return launch<64, 96, 16, 96>(p, l, stream, walkers);
  return cudaErrorInvalidConfiguration;
}

int igemm_1x1_persist_convs_lowered() {
  return g_lowered.load();
}
void count_igemm_1x1_persist_conv() {
  ++g_lowered;
}

}  // namespace fungen::cuda
