// binary.cuh — Add/Sub/Mul/Div: a flat kernel for operands of one shape and layout, and a
// broadcasting kernel that walks the output's (plain) index space with per-operand strides
// (stride 0 on broadcast dimensions).
#pragma once

#include <cuda_runtime.h>

#include "backends/cuda/elem.h"

namespace fungen::cuda {

enum class BinaryOp { kAdd, kSub, kMul, kDiv };

struct BroadcastDesc {
  int rank = 0;
  int64_t dims[kMaxRank] = {};       // output dims
  int64_t a_strides[kMaxRank] = {};  // in elements, 0 where A broadcasts
  int64_t b_strides[kMaxRank] = {};
};

void launch_binary_flat(BinaryOp op, Elem e, const void* a, const void* b, void* y, int64_t n,
                        cudaStream_t stream);
void launch_binary_broadcast(BinaryOp op, Elem e, const void* a, const void* b, void* y,
                             const BroadcastDesc& desc, cudaStream_t stream);

}  // namespace fungen::cuda
