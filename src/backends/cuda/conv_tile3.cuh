// conv_tile3.cuh — tensor-core 3x3 convolution (pad 1, stride 1 or 2) for NHWC fp16 with fp32
// accumulation that reads each input pixel once per CTA: a CTA computes a spatial tile of output
// pixels (8 x 16 or 8 x 8 of one image) x tile_n output channels; per chunk of 16 input channels
// it loads the tile's input halo (10 x 18 pixels for 8 x 16 at stride 1, 17 x 33 at stride 2)
// and the chunk's weights of the 9 taps into shared memory once (cp.async, multistage), then
// feeds mma.sync m16n8k16 from the halo at the 9 shifted tap addresses (ldmatrix). The igemm
// kernel (conv_igemm.cuh) instead gathers its A tile per tap from global memory. Same epilogue
// (conv_mma.cuh): bias, SiLU, residual z, NHWC rows with a row stride (Concat slices, dual
// store) or NCHW; the input may be strided (x_ld: a Split piece read in its Concat slice).
//
//   IgemmDesc d = ...;                  // kh = kw = 3, sh = sw in {1, 2}, ph = pw = 1
//   d.tile_m = 128; d.tile_n = 32;      // choose_tile3_tile, or a timed candidate
//   auto w = pack_tile3_weights(oihw, d);   // once, uploaded
//   launch_conv_tile3(d, x, w_dev, bias, z, out, stream);
//
// Layouts: x NHWC fp16 (C_in % 8 == 0; chunks past C_in are zero-filled); weights packed by
// pack_tile3_weights as fp16 [ceil(C_in / 16)][9 taps][C_out padded to 64][16 channels]; x, z,
// out and out2 as in conv_igemm.cuh (IgemmDesc's x_ld, z_ld, out_ld / nchw_out, out2_ld: strided
// input and residual, Concat slices, the dual store).
// tile_m = output pixels per CTA: 128 (8 x 16) or 64 (8 x 8); tile_n 16, 32 or 64.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "backends/cuda/conv_igemm.cuh"

namespace fungen::cuda {

inline constexpr int kTile3ChunkC = 16;  // input channels per K chunk
inline constexpr int kTile3PadN = 64;    // packed weights: C_out padded to this (largest tile_n)

inline int tile3_cin_chunks(const IgemmDesc& d) {
  return (d.cin + kTile3ChunkC - 1) / kTile3ChunkC;
}
inline int tile3_cout_pad(const IgemmDesc& d) {
  return (d.cout + kTile3PadN - 1) / kTile3PadN * kTile3PadN;
}
// Halves of the packed weights.
inline size_t tile3_weight_elems(const IgemmDesc& d) {
  return static_cast<size_t>(tile3_cin_chunks(d)) * 9 * tile3_cout_pad(d) * kTile3ChunkC;
}

// Whether the kernel takes this problem: 3x3, pad 1, stride 1 or 2 both ways, the output shape of
// that convolution, and what igemm_supports asks (channel multiples of 8, 32-bit sizes).
bool tile3_supports(const IgemmDesc& d);

// Whether d's tile is one of the kernel's: tile_m 64 or 128, tile_n 16, 32 or 64.
bool tile3_tile_fits(const IgemmDesc& d);

// tile_n from C_out (16, 32, else 64), tile_m 128, or 64 when 128 gives fewer than two CTAs per
// SM or wastes more than a quarter of a row of the map (OW not near a multiple of 16).
void choose_tile3_tile(IgemmDesc& d, int sms);

// OIHW fp32 weights -> the packed fp16 layout above (tile3_weight_elems halves as uint16 bits).
std::vector<uint16_t> pack_tile3_weights(const float* oihw, const IgemmDesc& d);

// Launches the kernel on `stream` (shared memory above 48 KiB is opted into first); returns the
// first CUDA error (cudaErrorInvalidValue for a problem, tile or alignment it does not take).
// tiles_per_cta: how many tiles each CTA computes in turn, its loads running ahead across them
// (1..16); 0 picks: 4 / chunks for C_in <= 32 on grids of >= 4096 tiles, else 1. out2 (or null,
// NHWC only): every output row written a second time at out2 + m * d.out2_ld (as igemm's).
cudaError_t launch_conv_tile3(const IgemmDesc& d, const void* x, const void* w_packed,
                              const float* bias, const void* z, void* out, cudaStream_t stream,
                              int tiles_per_cta = 0, void* out2 = nullptr);

// Convolutions lowered to this kernel since the process started (tests check it was taken).
int tile3_convs_lowered();
void count_tile3_conv();

}  // namespace fungen::cuda
