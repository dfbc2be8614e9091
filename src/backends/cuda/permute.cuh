// permute.cuh — y = x with its axes permuted, converting the element type on the way: Transpose,
// the NCHW <-> NHWC layout changes at the edges of the NHWC region, and fp32 <-> fp16 casts at the
// run's boundary (identity permutation) all go through this one kernel.
#pragma once

#include <cuda_runtime.h>

#include "backends/cuda/elem.h"

namespace fungen::cuda {

struct PermuteDesc {
  int rank = 0;
  int64_t out_dims[kMaxRank] = {};
  int64_t in_strides[kMaxRank] = {};  // stride in x (elements) of each OUTPUT axis
};

void launch_permute(Elem in, Elem out, const void* x, void* y, const PermuteDesc& desc,
                    cudaStream_t stream);

}  // namespace fungen::cuda
