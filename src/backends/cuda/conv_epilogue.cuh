// conv_epilogue.cuh — what FusedConv adds after cuDNN's convolution, in one pass over its output
// y (in place): y = act(y + bias[c]) + z, act = identity or SiLU, bias fp32 (or null), z the
// residual (or null) in y's type and layout. The channel of element i is (i / inner) % channels:
// inner = H*W for NCHW, 1 for NHWC.
#pragma once

#include <cuda_runtime.h>

#include "backends/cuda/elem.h"

namespace fungen::cuda {

void launch_conv_epilogue(Elem e, void* y, const float* bias, const void* z, int64_t n,
                          int64_t channels, int64_t inner, bool silu, cudaStream_t stream);

}  // namespace fungen::cuda
