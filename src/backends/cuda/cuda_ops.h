// cuda_ops.h — the one table of what the cuda backend runs: each row an op, its lowering, the
// check supports() makes first (attributes and shapes the kernels handle), and how many leading
// inputs carry data (the rest, e.g. Reshape's shape, must be constants; -1: all are data).
#pragma once

#include <string_view>

#include "backends/cuda/cuda_run.h"

namespace fungen::cuda {

#define FUNGEN_CUDA_OPS(X)                     \
  X(Conv, lower_conv, check_conv, 1)           \
  X(FusedConv, lower_conv, check_conv, -1)     \
  X(MatMul, lower_matmul, check_matmul, -1)    \
  X(Sigmoid, lower_unary, check_any, -1)       \
  X(Add, lower_binary, check_binary, -1)       \
  X(Sub, lower_binary, check_binary, -1)       \
  X(Mul, lower_binary, check_binary, -1)       \
  X(Div, lower_binary, check_binary, -1)       \
  X(Concat, lower_concat, check_any, -1)       \
  X(Split, lower_split, check_any, 1)          \
  X(Slice, lower_slice, check_slice, 1)        \
  X(MaxPool, lower_maxpool, check_maxpool, -1) \
  X(Resize, lower_resize, check_resize, 1)     \
  X(Reshape, lower_view, check_any, 1)         \
  X(Flatten, lower_view, check_any, -1)        \
  X(Squeeze, lower_view, check_any, 1)         \
  X(Unsqueeze, lower_view, check_any, 1)       \
  X(Identity, lower_view, check_any, -1)       \
  X(Transpose, lower_transpose, check_any, -1) \
  X(Softmax, lower_softmax, check_softmax, -1)

struct CudaOp {
  std::string_view name;
  LowerFn lower;
  CheckFn check;
  int data_inputs;
};

// The row of `op_type`, or nullptr.
const CudaOp* find_cuda_op(std::string_view op_type);

}  // namespace fungen::cuda
