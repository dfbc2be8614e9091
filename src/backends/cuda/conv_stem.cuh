// conv_stem.cuh — the 3-channel 3x3 stride-2 first layer (YOLO's stem: pads 1, C_out 16 or 32)
// as a memory-bound band kernel. The stem reads the whole input image once and writes a map of
// C_out channels at a quarter of its pixels, so its floor is its bytes (YOLO11n fp16 at batch
// 128: 314 MB in, 419 MB out); the first kernel (conv_direct.cuh, stem_kernel) issued 27 two-byte
// loads and 16 IEEE divisions per pixel and reached ~0.67 ms where ~0.25 ms moves the bytes.
//
// One lane: four consecutive output pixels of a row x all C_out channels. It reads the 8 input
// columns under them of the three rows and three planes with nine 16-byte (fp16) or 32-byte
// (fp32) loads, coalesced along the row across the warp, and takes the ninth column on the left
// from the neighbouring lane (a shuffle). The weights travel in the kernel's parameters as in
// stem_kernel (every multiply reads its weight from the constant bank). The results go through a
// swizzled shared-memory tile per warp so that each 16-byte store of the warp lands next to the
// previous lane's: the warp writes its 128 pixels as whole sectors.
//
// The input may be fp32 while the output is fp16: the run's fp32 staging of the model input is
// then read directly and the "cast input" pass is not needed (CudaRun::input_staging).
#pragma once

#include <cuda_runtime.h>

#include "backends/cuda/conv_direct.cuh"
#include "backends/cuda/elem.h"

namespace fungen::cuda {

// Whether the band kernel takes d (shapes only): stem_conv_fits, strides 2, pads 1, W a multiple
// of 8 (rows of whole vectors, pixel groups never straddling a row), out_ld a multiple of 8.
// The caller also needs a 16-byte aligned x and output (a slice offset a multiple of 8).
bool stem_band_fits(const DirectConvDesc& d);

// x: plain NCHW [n][3][h][w] of element type `in` (the run's type, or fp32 staging); out: NHWC
// rows of d.out_ld elements of `e`. False (nothing launched) when the pointers are not aligned
// or `in` is fp16 with an fp32 output.
bool launch_stem_band(Elem in, Elem e, const void* x, const StemWeights& w, void* out,
                      const DirectConvDesc& d, cudaStream_t stream);

// Stem convolutions lowered to the band kernel since the process started (tests).
int stem_band_convs_lowered();
void count_stem_band_conv();

}  // namespace fungen::cuda
