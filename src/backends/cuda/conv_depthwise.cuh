// conv_depthwise.cuh — the depthwise convolution (NHWC, group == C) as a row-run kernel: one
// thread computes kR consecutive output pixels of one row for 16 bytes of channels (8 fp16 or 4
// fp32). It walks the kernel rows; per row it loads that row's K x 16 bytes of fp32 weights once
// (not once per output pixel) and slides along the (kR - 1) * S + K input columns under its run,
// loading each 16-byte input chunk once and adding it into every output it touches. The first
// kernel (conv_direct.cu, depthwise_kernel) re-read 9 weight vectors and 9 input vectors per
// output pixel: YOLO11n's head depthwise convs ran at ~3x their memory floor at batch 128.
// Arithmetic in fp32; bias, SiLU, the residual z and the Concat slice (out_ld) as before.
//
// Taken: square kernels 3 (stride 1 or 2), 5 (stride 1 or 2) and 7 (stride 1), C and out_ld
// multiples of the 16-byte vector, every element index below 2^31 (32-bit index math). The run
// length kR (8, 4 or 2) is chosen when lowering (depthwise_run_length): the longest run that
// wastes little of the row and still gives every multiprocessor two blocks; none (the first
// kernel) when even kR 2 leaves the GPU idle (batch 1, small maps).
// FUNGEN_CUDA_DW=old: the first kernel everywhere; FUNGEN_CUDA_DW=8|4|2 forces that run length
// wherever the shape is taken (tests, A/B runs).
#pragma once

#include <cuda_runtime.h>

#include "backends/cuda/conv_direct.cuh"
#include "backends/cuda/elem.h"

namespace fungen::cuda {

// The run length for d in element type e on a device of `sms` multiprocessors, or 0 (the first
// kernel). `env`: FUNGEN_CUDA_DW's value (may be null).
int depthwise_run_length(const DirectConvDesc& d, Elem e, int sms, const char* env);

// Launches the row-run kernel with run length `run` (from depthwise_run_length, non-zero).
// False (nothing launched) when a pointer is not 16-byte aligned: the caller runs the first
// kernel instead.
bool launch_depthwise_rows(Elem e, int run, const void* x, const float* w, const float* bias,
                           const void* z, void* out, const DirectConvDesc& d, cudaStream_t stream);

// Depthwise convolutions lowered to the row-run kernel since the process started (tests).
int depthwise_rows_lowered();
void count_depthwise_rows();

}  // namespace fungen::cuda
