// igemm_pieces.h — the input of a 1x1 stride-1 convolution read from the pieces of a channel
// Concat that is never materialized (lower_upfuse.cpp): channels [c0, next piece's c0) of the
// conv input come from piece p's own NHWC buffer, either a map of the conv's size (shift 0) or
// one of half its height and width, upsampled 2x nearest on the fly (shift 1: pixel (y, x) reads
// source pixel (y >> 1, x >> 1); YOLO's Resize -> Concat -> 1x1 conv of the neck). Used by the
// igemm and persistent 1x1 kernels' A loaders (conv_igemm.cu, conv_igemm_1x1.cu). Plain C++ with
// host+device qualifiers under nvcc, so the index math is tested on the host too
// (test_cuda_upfuse_index.cpp).
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define FUNGEN_HD __host__ __device__ __forceinline__
#else
#define FUNGEN_HD inline
#endif

namespace fungen::cuda {

inline constexpr int kIgemmMaxPieces = 4;

struct IgemmPiece {
  const void* base = nullptr;  // fp16: the piece's pixel 0 (its channel 0)
  int64_t ld = 0;              // elements between its pixels (>= its channels, multiple of 8)
  int c0 = 0;                  // the conv input channel its channel 0 is (multiple of 8)
  int shift = 0;               // 0: the conv's map; 1: half of it, upsampled 2x nearest
};

// Pieces in channel order: p[0].c0 == 0, c0 increasing; count 0: no pieces (the plain input).
struct IgemmPieces {
  int count = 0;
  IgemmPiece p[kIgemmMaxPieces];
};

// The piece channel k (multiple of 8, < C_in) lies in: the last one with c0 <= k, copied out
// with constant indices only, unrolled over the fixed maximum (a dynamic index into the kernel
// parameters would make the compiler copy them to local memory).
FUNGEN_HD IgemmPiece piece_for(const IgemmPieces& ps, int k) {
  IgemmPiece r = ps.p[0];
#if defined(__CUDACC__)
#pragma unroll
#endif
  for (int i = 1; i < kIgemmMaxPieces; ++i) {
    if (i < ps.count && k >= ps.p[i].c0) r = ps.p[i];
  }
  return r;
}

// Element offset, within piece `pc`, of channel k of conv input pixel (row, x), row = image *
// H + y over the batch (H, W the conv's map, both even when a piece has shift 1: then
// row >> 1 = image * H / 2 + y / 2).
FUNGEN_HD int64_t piece_offset(const IgemmPiece& pc, int row, int x, int w, int k) {
  const int s = pc.shift;
  return (static_cast<int64_t>(row >> s) * (w >> s) + (x >> s)) * pc.ld + (k - pc.c0);
}

// Unsigned division by a divisor fixed at launch, for 32-bit dividends: n / d =
// (t + ((n - t) >> 1)) >> (l - 1), t = high word of n * mul, l = ceil(log2 d), mul =
// floor(2^32 (2^l - d) / d) + 1 (the round-up method, exact for every 32-bit n); d 1: n.
struct FastDiv {
  uint32_t d = 1, mul = 0;
  int l = 0;
  FastDiv() = default;
  explicit FastDiv(uint32_t divisor) : d(divisor) {
    while ((uint64_t{1} << l) < divisor) ++l;
    if (l > 0)
      mul = static_cast<uint32_t>(((uint64_t{1} << 32) * ((uint64_t{1} << l) - divisor)) / divisor +
                                  1);
  }
  FUNGEN_HD uint32_t div(uint32_t n) const {
    if (l == 0) return n;
#if defined(__CUDA_ARCH__)
    const uint32_t t = __umulhi(n, mul);
#else
    const uint32_t t = static_cast<uint32_t>((static_cast<uint64_t>(n) * mul) >> 32);
#endif
    return (t + ((n - t) >> 1)) >> (l - 1);
  }
};

}  // namespace fungen::cuda
