// igemm_dw.h — the input of a 1x1 stride-1 convolution computed on the fly by the 3x3 depthwise
// convolution (stride 1, pads 1, + bias, + SiLU) that produced it (lower_dwfuse.cpp): the igemm
// kernel's A loader (conv_igemm.cu, kDw) computes each 16-byte chunk of 8 channels of its A tile
// from the depthwise input instead of loading it, so the depthwise output never exists. The
// arithmetic is the depthwise kernels' (conv_depthwise.cu, conv_direct.cu): fp32 accumulators
// from the bias, fmaf over the taps in (ky, kx) order, padding taps skipped, then SiLU and a
// round to fp16; the values are those kernels' bits. Plain C++ with host+device qualifiers
// under nvcc, so the index math is tested on the host too (test_cuda_dwfuse_index.cpp).
#pragma once

#include <climits>
#include <cstdint>

#include "backends/cuda/igemm_pieces.h"  // FUNGEN_HD

namespace fungen::cuda {

inline constexpr int kDwK = 3;  // 3x3, stride 1, pads 1: the map keeps its size

// The depthwise convolution the A loader runs: x NHWC fp16 with C (the 1x1's C_in) channels per
// pixel (dense rows), the conv's map (H, W); w fp32 [ky][kx][C] (lower_conv_direct's layout),
// bias fp32 [C] or null.
struct IgemmDw {
  const void* x = nullptr;
  const float* w = nullptr;
  const float* bias = nullptr;
  bool silu = false;
};

// One A row (output pixel m of n * h * w) as the loader keeps it: the element offset of its
// image in x, and the top-left tap's row and column (y - 1, x - 1); past M the row is far
// outside the image (every tap is padding: a zero row).
struct DwRow {
  int64_t image = 0;
  int y0 = INT_MIN / 2, x0 = 0;
};

FUNGEN_HD DwRow dw_row(int m, int m_total, int h, int w, int c) {
  DwRow r;
  if (m < m_total) {
    const int hw = h * w, img = m / hw, rem = m - img * hw, y = rem / w;
    r.image = static_cast<int64_t>(img) * hw * c;
    r.y0 = y - 1;
    r.x0 = rem - y * w - 1;
  }
  return r;
}

// Element offset in x of channel kc of tap (ky, kx) of row r, or -1 for a padding tap.
FUNGEN_HD int64_t dw_tap(const DwRow& r, int ky, int kx, int h, int w, int c, int kc) {
  const int iy = r.y0 + ky, ix = r.x0 + kx;
  if (static_cast<unsigned>(iy) >= static_cast<unsigned>(h) ||
      static_cast<unsigned>(ix) >= static_cast<unsigned>(w))
    return -1;
  return r.image + (static_cast<int64_t>(iy) * w + ix) * c + kc;
}

// Offset of channel kc's weight of tap (ky, kx) in w.
FUNGEN_HD int dw_weight(int ky, int kx, int c, int kc) {
  return (ky * kDwK + kx) * c + kc;
}

}  // namespace fungen::cuda
