// conv_igemm.cuh — the backend's own tensor-core convolution for NHWC fp16 (fp32 accumulation),
// an implicit GEMM: M = N*OH*OW output pixels, N = C_out, K = KH*KW*C_in, the FusedConv epilogue
// folded in (out = act(conv + bias) + z, act identity or SiLU, z the residual).
//  - x: NHWC fp16, C_in % 8 == 0 (16-byte rows of 8 channels, the unit cp.async loads), pixel
//    p at x + p * x_ld (x_ld = C_in, or the row of a Concat output with x pointing at the slice a
//    Split piece lies in; x_ld % 8 == 0);
//  - weights: packed once by pack_igemm_weights into fp16 [cout_pad][k_pad] with
//    k = (r * KW + s) * C_in + c (K contiguous, zero padding to the tile multiples);
//  - z (or null): NHWC fp16 rows at z + m * z_ld (z_ld = C_out, or a Concat row; z_ld % 8 == 0);
//  - out: NHWC rows at out + m * out_ld (out_ld = C_out, or the row of a Concat output with out
//    pointing at the slice), or NCHW ([n][C_out][OH*OW]) when nchw_out.
// C_out % 8 == 0 and out_ld % 8 == 0 (the lowering checks; launch_conv_igemm asserts).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <vector>

#include "backends/cuda/igemm_pieces.h"

namespace fungen::cuda {

struct IgemmDesc {
  int n = 0, h = 0, w = 0, cin = 0;  // input
  int oh = 0, ow = 0, cout = 0;      // output
  int kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0;
  bool silu = false;
  bool nchw_out = false;
  int64_t out_ld = 0;   // NHWC: elements between output pixels (>= cout)
  int64_t x_ld = 0;     // elements between input pixels (>= cin); 0: cin (dense)
  int64_t z_ld = 0;     // elements between residual pixels (>= cout); 0: cout
  int64_t out2_ld = 0;  // NHWC dual store: the same for the second output
  // NCHW: channel c of image b at out + b * nchw_batch_ld + c * nchw_ch_ld; 0: packed (OH*OW,
  // C_out*OH*OW), larger for a piece of a Concat on the last axis (CudaRun::placement_nchw).
  int64_t nchw_ch_ld = 0, nchw_batch_ld = 0;
  // NHWC: elements between images of the output (>= oh * ow * out_ld, a multiple of 8; the
  // anchor-major head input, head_rows.h); 0: rows back to back.
  int64_t out_img_ld = 0;
  int tile_m = 128, tile_n = 64;  // CTA tile, picked by choose_igemm_tile
};

inline constexpr int kIgemmTileK = 32;    // K per pipeline stage
inline constexpr int kIgemmPadN = 128;    // packed weights: C_out padded to this (largest tile_n)
inline int igemm_k(const IgemmDesc& d) {  // GEMM K
  return d.kh * d.kw * d.cin;
}
inline int igemm_k_pad(const IgemmDesc& d) {
  return (igemm_k(d) + kIgemmTileK - 1) / kIgemmTileK * kIgemmTileK;
}
inline int igemm_cout_pad(const IgemmDesc& d) {
  return (d.cout + kIgemmPadN - 1) / kIgemmPadN * kIgemmPadN;
}

inline int64_t igemm_x_ld(const IgemmDesc& d) {
  return d.x_ld > 0 ? d.x_ld : d.cin;
}
inline int64_t igemm_z_ld(const IgemmDesc& d) {
  return d.z_ld > 0 ? d.z_ld : d.cout;
}

// Whether the kernel takes this problem (channel multiples, sizes that fit its 32-bit indices).
bool igemm_supports(const IgemmDesc& d);

// Whether the kernel has d's CTA tile for this C_out: tile_m 64 or 128; tile_n 16, 32, 64 or 128
// (any C_out), or 48, 80 or 96 (C_out a multiple of it). launch_conv_igemm refuses other tiles.
bool igemm_tile_fits(const IgemmDesc& d);

// Tile for the problem: tile_n from C_out (16, 32, 64, 128), tile_m 128, or 64 when 128 leaves
// fewer than two CTAs per SM (`sms`: the device's multiprocessor count).
void choose_igemm_tile(IgemmDesc& d, int sms);

// OIHW fp32 weights -> the packed fp16 layout above (cout_pad * k_pad halves as uint16 bits).
std::vector<uint16_t> pack_igemm_weights(const float* oihw, const IgemmDesc& d);

// Launches the kernel on `stream`; returns cudaGetLastError() after the launch. out2 (or null,
// NHWC only): every output row written a second time at out2 + m * d.out2_ld (dual store: the
// value's buffer and its Concat slice; out2_ld and the pointer multiples of 8 halves).
cudaError_t launch_conv_igemm(const IgemmDesc& d, const void* x, const void* w_packed,
                              const float* bias, const void* z, void* out, cudaStream_t stream,
                              void* out2 = nullptr);
// The same for a 1x1 stride-1 unpadded convolution reading its input from `pieces`
// (igemm_pieces.h; d.x_ld 0); cudaErrorInvalidValue for what igemm_pieces_supports refuses.
cudaError_t launch_conv_igemm_pieces(const IgemmDesc& d, const IgemmPieces& pieces,
                                     const void* w_packed, const float* bias, const void* z,
                                     void* out, cudaStream_t stream, void* out2 = nullptr);

// Whether the kernels (this one and the persistent 1x1, conv_igemm_1x1.cuh) take d reading its
// input from `ps`: a 1x1 stride-1 unpadded convolution igemm_supports accepts, d.x_ld 0, tile_n
// 16, 32, 64 or 128, 1..kIgemmMaxPieces pieces in channel order from 0, each c0 and ld a multiple
// of 8 (16-byte chunks never straddle two pieces), ld >= the piece's channels, base 16-byte
// aligned, shift 0 or 1 (1: H and W even).
bool igemm_pieces_supports(const IgemmDesc& d, const IgemmPieces& ps);

// Convolutions lowered to this kernel since the process started (tests check it was taken).
int igemm_convs_lowered();
void count_igemm_conv();

}  // namespace fungen::cuda
