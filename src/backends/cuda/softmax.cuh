// softmax.cuh — softmax over the middle axis of a plain tensor viewed as [outer, len, inner].
#pragma once

#include <cuda_runtime.h>

#include "backends/cuda/elem.h"

namespace fungen::cuda {

void launch_softmax(Elem e, const void* x, void* y, int64_t outer, int64_t len, int64_t inner,
                    cudaStream_t stream);

}  // namespace fungen::cuda
