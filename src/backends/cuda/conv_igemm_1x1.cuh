// conv_igemm_1x1.cuh — a persistent variant of the implicit-GEMM kernel (conv_igemm.cuh) for 1x1
// stride-1 unpadded convolutions, whose K (C_in, 16..~512) is too short for the K pipeline of
// conv_igemm to overlap anything: each CTA keeps one tile_n-wide slice of the packed weights
// (all of K) in shared memory, loaded once, and walks its share of the M tiles (pixels) with the
// next tiles' activations in flight (2 or 3 stages of cp.async, each stage a whole tile_m x K
// block) while the current one is multiplied and stored. Grid: n_tiles x the M-tile walkers that
// fit on the device at once. Same operands and epilogue as launch_conv_igemm: packed weights
// (pack_igemm_weights), bias + SiLU + residual (z_ld), NHWC rows of out_ld (Concat slices) or
// NCHW out, input rows of x_ld (a Split piece in its Concat slice).
#pragma once

#include <cuda_runtime.h>

#include "backends/cuda/conv_igemm.cuh"

namespace fungen::cuda {

// Whether the persistent kernel takes d with its tile (d.tile_m, d.tile_n) on `device`: a 1x1,
// stride 1, no padding, what igemm_supports and igemm_tile_fits accept, and two stages of
// tile_m x K activations plus the tile_n x K weights fit in the device's shared memory.
bool igemm_1x1_persist_supports(const IgemmDesc& d, int device);

// Launches it on `stream` (the current device); returns cudaGetLastError() after the launch,
// cudaErrorInvalidValue for what igemm_1x1_persist_supports refuses or misaligned pointers.
// `walkers`: CTAs per N tile (each walks M tiles walkers apart); 0: as many as are resident at
// once (occupancy x multiprocessors / N tiles), at most the M tiles. Tests force a few.
// pieces (or null): the input read from them (igemm_pieces.h; x unused, d.x_ld 0), where
// igemm_pieces_supports (conv_igemm.cuh) accepts them.
cudaError_t launch_conv_igemm_1x1_persist(const IgemmDesc& d, const void* x, const void* w_packed,
                                          const float* bias, const void* z, void* out,
                                          cudaStream_t stream, int walkers = 0,
                                          const IgemmPieces* pieces = nullptr);

// Convolutions lowered to the persistent kernel since the process started (tests).
int igemm_1x1_persist_convs_lowered();
void count_igemm_1x1_persist_conv();

}  // namespace fungen::cuda
