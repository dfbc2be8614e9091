// softmax.cuh — softmax over the middle axis of a plain tensor viewed as [outer, len, inner].
#pragma once

#include <cuda_runtime.h>

#include "backends/cuda/elem.h"

namespace fungen::cuda {

// Softmax over lines of at most kMaxExpectLen elements followed by their weighted sum (YOLO's DFL:
// Softmax over the 16 bins, then the 1x1 Conv with one output channel): x viewed as
// [groups, len, inner], y as [groups, inner].
inline constexpr int kMaxExpectLen = 32;
struct SoftmaxWeights {
  float w[kMaxExpectLen];
  float bias;
};
void launch_softmax_expectation(Elem e, const void* x, void* y, const SoftmaxWeights& w,
                                int64_t groups, int len, int64_t inner, cudaStream_t stream);

void launch_softmax(Elem e, const void* x, void* y, int64_t outer, int64_t len, int64_t inner,
                    cudaStream_t stream);

}  // namespace fungen::cuda
