// unary.cuh — elementwise unary ops over n contiguous elements (any layout).
#pragma once

#include <cuda_runtime.h>

#include "backends/cuda/elem.h"

namespace fungen::cuda {

enum class UnaryOp { kSigmoid };

void launch_unary(UnaryOp op, Elem e, const void* x, void* y, int64_t n, cudaStream_t stream);

}  // namespace fungen::cuda
