// conv_stemfuse_geom.h — the index math of the fused stem kernel (conv_stemfuse.cuh), plain
// constexpr C++ so that the kernel and its CPU test (tests/unit/test_stemfuse_geom.cpp) use the
// same functions. Names: A is the stem (3 -> C_a, 3x3 stride 2 pads 1, on the model input), B
// the 3x3 stride-2 convolution reading A's output (pads 1). A CTA computes TH x TW output pixels
// of B from (oy0, ox0) of one image; it needs A's output on the halo of HH x HW pixels from
// (2 oy0 - 1, 2 ox0 - 1), which it computes from the input rows / columns under it, copied once
// into shared memory from input row 4 oy0 - 3 and column 4 ox0 - 8 (a multiple of 8: whole
// 16-byte vectors of fp16 or fp32 input, never straddling the image edge when W % 8 == 0).
#pragma once

namespace fungen::cuda::stemfuse {

template <int TH, int TW>
struct Geom {
  static constexpr int kHH = 2 * TH + 1, kHW = 2 * TW + 1;  // A halo: tile3's at stride 2
  static constexpr int kHaloRows = kHH * kHW;
  static constexpr int kIH = 2 * kHH + 1;  // input rows under the halo
  static constexpr int kIW = 4 * TW + 8;   // input columns copied (the first 5 unused)
};

// Halo column (A column minus 2 ox0 - 1) stored at halo position p: even columns first, then odd
// ones (tile3's stride-2 order, conv_tile3.cu halo_col).
constexpr int halo_col(int p, int tw) {
  return p < tw + 1 ? 2 * p : 2 * (p - (tw + 1)) + 1;
}
// Halo position of output column px * 2 + s (tap s) minus px (tile3's tap_col_offset, S = 2).
constexpr int tap_col_offset(int s, int tw) {
  return s == 0 ? 0 : s == 1 ? tw + 1 : 1;
}

// A pixel of halo row hr / column col of the tile at (oy0, ox0).
constexpr int a_row(int oy0, int hr) {
  return 2 * oy0 - 1 + hr;
}
constexpr int a_col(int ox0, int col) {
  return 2 * ox0 - 1 + col;
}

// The input copy: its first image row and column.
constexpr int in_row0(int oy0) {
  return 4 * oy0 - 3;
}
constexpr int in_col0(int ox0) {
  return 4 * ox0 - 8;
}
// Row / column in the copy of A's tap (ky, kx) for halo row hr / column col: input row
// 2 * a_row - 1 + ky minus in_row0, column 2 * a_col - 1 + kx minus in_col0.
constexpr int in_row(int hr, int ky) {
  return 2 * hr + ky;
}
constexpr int in_col(int col, int kx) {
  return 2 * col + kx + 5;
}

// The tensor-core stem (conv_stemfuse.cuh, the mma variant): per CTA an implicit GEMM, M = the
// halo's pixels (hp, 16 per m16n8k16 tile), N = A's channels (n8 fragments), K = A's 27 taps in
// the band order (plane, ky, kx) padded to 32 (two k16 steps; taps 27..31 have zero weights and
// zero A values). kMmaK is the tap count, kMmaChunkWords the 32-bit words of one 16-channel
// chunk's packed weights: B fragments [lane][ks][ni][reg] (8 words a lane) then 16 fp32 biases.
constexpr int kMmaK = 27;
constexpr int kMmaChunkWords = 32 * 8 + 16;
// Offset in the input copy ([3][ih][iw]) of tap k from the pixel's base (mma_pixel_offset).
constexpr int mma_tap_offset(int k, int ih, int iw) {
  return ((k / 9) * ih + (k / 3) % 3) * iw + k % 3;
}
// The copy offset of tap (0, 0, 0) of halo row hr / column col (in_row / in_col of tap 0).
constexpr int mma_pixel_offset(int hr, int col, int iw) {
  return in_row(hr, 0) * iw + in_col(col, 0);
}
// m16n8k16 fragments of a lane (PTX mma.m16n8k16 .f16 layouts, g = lane / 4, t = lane % 4): A
// register reg (0..3) half h holds row g + 8 (reg & 1), column (K) ks * 16 + 2 t + 8 (reg >> 1)
// + h; B register reg (0..1) half h holds K row ks * 16 + 2 t + 8 reg + h, column (N) g; C
// element i (0..3) row g + 8 (i >> 1), column 2 t + (i & 1).
constexpr int mma_a_row(int lane, int reg) {
  return (lane >> 2) + 8 * (reg & 1);
}
constexpr int mma_a_k(int lane, int ks, int reg, int h) {
  return ks * 16 + 2 * (lane & 3) + 8 * (reg >> 1) + h;
}
constexpr int mma_b_k(int lane, int ks, int reg, int h) {
  return ks * 16 + 2 * (lane & 3) + 8 * reg + h;
}
constexpr int mma_b_n(int lane) {
  return lane >> 2;
}
constexpr int mma_c_row(int lane, int i) {
  return (lane >> 2) + 8 * (i >> 1);
}
constexpr int mma_c_col(int lane, int i) {
  return 2 * (lane & 3) + (i & 1);
}
// Word of B register reg of k step ks and n8 fragment ni in a lane's 8 packed words.
constexpr int mma_b_word(int ks, int ni, int reg) {
  return ks * 4 + ni * 2 + reg;
}

static_assert(in_row(0, 0) == 2 * a_row(0, 0) - 1 - in_row0(0));
static_assert(in_col(0, 0) == 2 * a_col(0, 0) - 1 - in_col0(0));
static_assert(in_row(Geom<8, 16>::kHH - 1, 2) == Geom<8, 16>::kIH - 1);
static_assert(in_col(Geom<8, 16>::kHW - 1, 2) == Geom<8, 16>::kIW - 1);
static_assert(in_col(Geom<8, 8>::kHW - 1, 2) == Geom<8, 8>::kIW - 1);
static_assert(mma_pixel_offset(0, 0, 72) + mma_tap_offset(kMmaK - 1, 35, 72) ==
              (2 * 35 + in_row(0, 2)) * 72 + in_col(0, 2));

}  // namespace fungen::cuda::stemfuse
