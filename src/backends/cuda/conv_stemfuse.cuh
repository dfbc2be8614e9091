// conv_stemfuse.cuh — the stem (3 -> 16/32, 3x3 stride 2 pads 1, + bias and SiLU: the band
// kernel's cases, conv_stem.cuh) and the 3x3 stride-2 convolution reading its output (tile3's
// cases, conv_tile3.cuh) as one kernel, so the stem's map never goes to memory. YOLO11n at batch
// 128: the stem writes 419 MB that /model.1 reads again (~0.28 ms of HBM traffic on an H100);
// fused, the kernel reads the input (fp32 staging under run(): 629 MB) and writes B's output.
//
// A CTA (4 warps) computes B's tile of 8 x TW output pixels (TW 16: tile_m 128, 8: 64) x tile_n
// channels of one image:
//  1. B's packed weights (pack_tile3_weights, every chunk) by cp.async;
//  2. the input under the tile's A halo ((2 TW + 1) x 17 A pixels, 4 TW + 8 x 35 input pixels
//     x 3 planes) copied into shared memory as fp16, rounded as the input cast rounds, zero
//     outside the image;
//  3. A on the halo, every pixel with the band kernel's arithmetic (fp32 fmaf in the same tap
//     order from the bias, SiLU with __fdividef, fp16 round-to-nearest), 0 where the halo lies
//     outside A's map (B's padding), into tile3's halo layout (32-byte swizzled rows, stride-2
//     column order);
//  4. tile3's main loop (ldmatrix + mma.sync m16n8k16, the 9 taps per chunk of 16 channels in
//     tile3's order) and its epilogue (conv_mma.cuh: bias, SiLU, Concat slice, dual store).
// So A's values are the band kernel's bits and B's accumulation is tile3's: the fused output is
// bit for bit the band kernel followed by tile3 (any tile), not only close to it.
// Index math: conv_stemfuse_geom.h (tested on the CPU by tests/unit/test_stemfuse_geom.cpp).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "backends/cuda/conv_direct.cuh"
#include "backends/cuda/conv_igemm.cuh"
#include "backends/cuda/elem.h"

namespace fungen::cuda {

// Whether the kernel takes stem a (its out_ld ignored) followed by b: stem_band_fits(a), C_a 16
// or 32, b 3x3 stride 2 pads 1 on A's map (tile3_supports) with C_in = C_a, no strided input,
// NHWC output. b's tile must be one of tile3's (tile3_tile_fits).
bool stemfuse_supports(const DirectConvDesc& a, const IgemmDesc& b);

// x: NCHW [n][3][h][w], fp32 (in kF32: the run's staging, rounded to fp16 as read) or fp16
// (kF16); w_packed: B's weights as pack_tile3_weights packs them; bias: B's (or null); out (and
// out2, the dual store, or null): NHWC rows of b.out_ld (b.out2_ld) halves. wa_mma null: the
// exact stem (the band kernel's bits, wa); else the mma variant, A on tensor cores from wa_mma
// (pack_stemfuse_mma_weights of wa, 16-byte aligned; wa unused). Returns the first CUDA error
// (cudaErrorInvalidValue for a problem, tile or alignment it does not take).
cudaError_t launch_conv_stemfuse(Elem in, const DirectConvDesc& a, const StemWeights& wa,
                                 const IgemmDesc& b, const void* x, const void* w_packed,
                                 const float* bias, void* out, void* out2, cudaStream_t stream,
                                 const void* wa_mma = nullptr);

// The mma variant's stem weights (C_out 16 or 32): per chunk of 16 channels the B fragments of
// m16n8k16 as fp16 (round to nearest, taps 27..31 zero) in each lane's order, then the 16 biases
// as fp32 (conv_stemfuse_geom.h: kMmaChunkWords, mma_b_k, mma_b_n, mma_b_word).
std::vector<uint32_t> pack_stemfuse_mma_weights(const StemWeights& w, int cout);

// Stem pairs lowered to the fused kernel since the process started (tests).
int stemfuse_convs_lowered();
void count_stemfuse_conv();

}  // namespace fungen::cuda
