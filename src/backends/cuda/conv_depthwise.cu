#include <atomic>
#include <cstdlib>
#include <cstring>

#include "backends/cuda/common.cuh"
#include "backends/cuda/conv_depthwise.cuh"

namespace fungen::cuda {
namespace {

constexpr int kRowThreads = 128;

std::atomic<int> g_rows_lowered{0};

__device__ __forceinline__ float silu(float v) {
  return v / (1.0f + __expf(-v));
}

// The shape in 32-bit fields (depthwise_run_length checked that every index fits).
struct RowsDesc {
  uint32_t items;   // threads with work: n * oh * runs * groups
  uint32_t groups;  // 16-byte channel vectors per pixel: c / kN
  uint32_t runs;    // runs per output row: ceil(ow / kR)
  uint32_t oh, ow, h, w, c, out_ld;
  int ph, pw;
  bool silu;
};

// Blocks per multiprocessor asked of ptxas: 4 (at most 128 registers) keeps its own register
// choice from spilling (fp16 3x3 run 4 spilled at 72); the fp16 7x7 run 8 needs ~156.
template <class T, int kK, int kR>
constexpr int min_blocks() {
  return sizeof(T) == 2 && kK * kR > 40 ? 1 : 4;
}

// Thread i: channel vector g = i % groups (fastest, so a warp reads whole pixels), run r of
// output row `line` = n * oh + oy: output pixels [r kR, r kR + kR) of that row (those < ow).
template <class T, int kK, int kS, int kR>
__global__ void __launch_bounds__(kRowThreads, (min_blocks<T, kK, kR>()))
    depthwise_rows_kernel(const T* __restrict__ x, const float* __restrict__ w,
                          const float* __restrict__ bias, const T* __restrict__ z,
                          T* __restrict__ out, const RowsDesc q) {
  constexpr int kN = 16 / sizeof(T);
  constexpr int kCols = (kR - 1) * kS + kK;  // input columns under one run
  const uint32_t i = blockIdx.x * kRowThreads + threadIdx.x;
  if (i >= q.items) return;
  const uint32_t row = i / q.groups, c = (i - row * q.groups) * kN;
  const uint32_t line = row / q.runs, ox0 = (row - line * q.runs) * kR;
  const uint32_t n = line / q.oh, oy = line - n * q.oh;

  float acc[kR][kN];
  {
    float b[kN];
    if (bias) {
#pragma unroll
      for (int k = 0; k < kN; k += 4) {
        const float4 b4 = __ldg(reinterpret_cast<const float4*>(bias + c + k));
        b[k] = b4.x;
        b[k + 1] = b4.y;
        b[k + 2] = b4.z;
        b[k + 3] = b4.w;
      }
    } else {
#pragma unroll
      for (int k = 0; k < kN; ++k) b[k] = 0.0f;
    }
#pragma unroll
    for (int j = 0; j < kR; ++j) {
#pragma unroll
      for (int k = 0; k < kN; ++k) acc[j][k] = b[k];
    }
  }

  const int ix0 = static_cast<int>(ox0) * kS - q.pw;
#pragma unroll
  for (int ky = 0; ky < kK; ++ky) {
    const int iy = static_cast<int>(oy) * kS - q.ph + ky;
    if (static_cast<uint32_t>(iy) >= q.h) continue;  // also iy < 0: padding rows add nothing
    // This kernel row's weights, [kx][k]: loaded once for the whole run.
    float wk[kK][kN];
#pragma unroll
    for (int kx = 0; kx < kK; ++kx) {
      const float* src = w + (ky * kK + kx) * q.c + c;
#pragma unroll
      for (int k = 0; k < kN; k += 4) {
        const float4 w4 = __ldg(reinterpret_cast<const float4*>(src + k));
        wk[kx][k] = w4.x;
        wk[kx][k + 1] = w4.y;
        wk[kx][k + 2] = w4.z;
        wk[kx][k + 3] = w4.w;
      }
    }
    const uint32_t row_base = (n * q.h + static_cast<uint32_t>(iy)) * q.w;
#pragma unroll
    for (int t = 0; t < kCols; ++t) {
      const int ix = ix0 + t;
      if (static_cast<uint32_t>(ix) >= q.w) continue;  // padding columns add nothing
      float v[kN];
      load_n<T, kN>(x + (row_base + static_cast<uint32_t>(ix)) * q.c + c, v);
      // Column t is tap kx = t - j kS of output j: every (j, kx) pair is a compile-time one.
#pragma unroll
      for (int j = 0; j < kR; ++j) {
        const int kx = t - j * kS;
        if (kx < 0 || kx >= kK) continue;
#pragma unroll
        for (int k = 0; k < kN; ++k) acc[j][k] = fmaf(v[k], wk[kx][k], acc[j][k]);
      }
    }
  }

  const uint32_t p0 = line * q.ow + ox0;  // output pixel of acc[0]
#pragma unroll
  for (int j = 0; j < kR; ++j) {
    if (ox0 + j >= q.ow) break;
    if (q.silu) {
#pragma unroll
      for (int k = 0; k < kN; ++k) acc[j][k] = silu(acc[j][k]);
    }
    const uint32_t p = p0 + j;
    if (z) {
      float r[kN];
      load_n<T, kN>(z + p * q.c + c, r);
#pragma unroll
      for (int k = 0; k < kN; ++k) acc[j][k] += r[k];
    }
    store_n<T, kN>(out + p * q.out_ld + c, acc[j]);
  }
}

// The (K, S) pairs taken, one row per kernel family; the run lengths 8, 4, 2.
bool shape_taken(int k, int s) {
  return (k == 3 && (s == 1 || s == 2)) || (k == 5 && (s == 1 || s == 2)) || (k == 7 && s == 1);
}

int64_t runs_of(int64_t ow, int r) {
  return (ow + r - 1) / r;
}

bool aligned16(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

template <class T, int kK, int kS>
void launch_k(int run, const T* x, const float* w, const float* bias, const T* z, T* out,
              const RowsDesc& q, cudaStream_t s) {
  const unsigned blocks = (q.items + kRowThreads - 1) / kRowThreads;
  if (run == 8)
    depthwise_rows_kernel<T, kK, kS, 8><<<blocks, kRowThreads, 0, s>>>(x, w, bias, z, out, q);
  else if (run == 4)
    depthwise_rows_kernel<T, kK, kS, 4><<<blocks, kRowThreads, 0, s>>>(x, w, bias, z, out, q);
  else
    depthwise_rows_kernel<T, kK, kS, 2><<<blocks, kRowThreads, 0, s>>>(x, w, bias, z, out, q);
}

template <class T>
void launch_t(int k, int stride, int run, const T* x, const float* w, const float* bias, const T* z,
              T* out, const RowsDesc& q, cudaStream_t s) {
  if (k == 3 && stride == 1)
    launch_k<T, 3, 1>(run, x, w, bias, z, out, q, s);
  else if (k == 3)
    launch_k<T, 3, 2>(run, x, w, bias, z, out, q, s);
  else if (k == 5 && stride == 1)
    launch_k<T, 5, 1>(run, x, w, bias, z, out, q, s);
  else if (k == 5)
    launch_k<T, 5, 2>(run, x, w, bias, z, out, q, s);
  else
    launch_k<T, 7, 1>(run, x, w, bias, z, out, q, s);
}

}  // namespace

int depthwise_run_length(const DirectConvDesc& d, Elem e, int sms, const char* env) {
  if (env && std::strcmp(env, "old") == 0) return 0;
  const int64_t vec = e == Elem::kF16 ? 8 : 4;
  if (d.kh != d.kw || d.sh != d.sw || !shape_taken(d.kh, d.sh)) return 0;
  if (d.cin != d.cout || d.cout % vec != 0 || d.out_ld % vec != 0) return 0;
  if (d.n * d.oh * d.ow == 0) return 0;
  const int64_t limit = int64_t{1} << 31;
  const int64_t pixels = d.n * d.oh * d.ow;
  // Every element index, and every thread index (rounded up to whole blocks), in 31 bits; the
  // column index of a run's last tap stays below 2^30 as well.
  if (pixels * d.out_ld >= limit || pixels * d.cout >= limit || d.n * d.h * d.w * d.cin >= limit ||
      d.h >= (1 << 30) || d.w >= (1 << 30) || d.ow >= (1 << 28))
    return 0;
  const int64_t groups = d.cout / vec;
  auto items = [&](int r) { return d.n * d.oh * runs_of(d.ow, r) * groups; };
  if (items(2) + kRowThreads >= limit) return 0;
  const int forced = env ? std::atoi(env) : 0;
  if (forced == 8 || forced == 4 || forced == 2) return forced;
  // The longest run that keeps >= 85% of its pixels inside the row and gives every
  // multiprocessor two blocks; none when even run 2 does not.
  for (int r : {8, 4, 2}) {
    const double used = static_cast<double>(d.ow) / static_cast<double>(runs_of(d.ow, r) * r);
    if (used >= 0.85 && items(r) >= int64_t{2} * kRowThreads * sms) return r;
  }
  return 0;
}

bool launch_depthwise_rows(Elem e, int run, const void* x, const float* w, const float* bias,
                           const void* z, void* out, const DirectConvDesc& d, cudaStream_t stream) {
  if (!aligned16(x) || !aligned16(out) || (z && !aligned16(z)) || !aligned16(w) ||
      (bias && !aligned16(bias)))
    return false;
  const int vec = e == Elem::kF16 ? 8 : 4;
  RowsDesc q;
  q.groups = static_cast<uint32_t>(d.cout / vec);
  q.runs = static_cast<uint32_t>(runs_of(d.ow, run));
  q.items = static_cast<uint32_t>(d.n * d.oh * q.runs * q.groups);
  q.oh = static_cast<uint32_t>(d.oh);
  q.ow = static_cast<uint32_t>(d.ow);
  q.h = static_cast<uint32_t>(d.h);
  q.w = static_cast<uint32_t>(d.w);
  q.c = static_cast<uint32_t>(d.cout);
  q.out_ld = static_cast<uint32_t>(d.out_ld);
  q.ph = d.ph;
  q.pw = d.pw;
  q.silu = d.silu;
  if (q.items == 0) return true;
  if (e == Elem::kF16) {
    launch_t<__half>(d.kh, d.sh, run, static_cast<const __half*>(x), w, bias,
                     static_cast<const __half*>(z), static_cast<__half*>(out), q, stream);
  } else {
    launch_t<float>(d.kh, d.sh, run, static_cast<const float*>(x), w, bias,
                    static_cast<const float*>(z), static_cast<float*>(out), q, stream);
  }
  return true;
}

int depthwise_rows_lowered() {
  return g_rows_lowered.load();
}
void count_depthwise_rows() {
  ++g_rows_lowered;
}

}  // namespace fungen::cuda
