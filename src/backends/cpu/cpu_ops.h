// cpu_ops.h — the one table of what the cpu backend runs: each row an op, the lowering that
// turns it into oneDNN primitives (nullptr: none), and whether its plain kernel may run inside a
// run (glue such as Reshape/Transpose/Softmax between the convolutions).
#pragma once

#include <string_view>

#include "backends/cpu/cpu_run.h"

namespace fungen::cpu {

#define FUNGEN_CPU_OPS(X)       \
  X(Conv, lower_conv)           \
  X(FusedConv, lower_conv)      \
  X(MaxPool, lower_pool)        \
  X(Resize, lower_resize)       \
  X(Concat, lower_concat)       \
  X(Split, lower_split)         \
  X(Sigmoid, lower_eltwise)     \
  X(Add, lower_binary)          \
  X(Mul, lower_binary)          \
  X(Sub, lower_binary)          \
  X(Div, lower_binary)          \
  X(Reshape, lower_view)        \
  X(Flatten, lower_view)        \
  X(Squeeze, lower_view)        \
  X(Unsqueeze, lower_view)      \
  X(Identity, lower_view)       \
  X(Transpose, lower_transpose) \
  X(Softmax, lower_softmax)     \
  X(MatMul, lower_matmul)       \
  X(Slice, nullptr)             \
  X(ReduceSum, nullptr)         \
  X(ReduceMax, nullptr)

struct CpuOp {
  std::string_view name;
  LowerFn lower;
};

// The row of `op_type`, or nullptr.
const CpuOp* find_cpu_op(std::string_view op_type);
// Its oneDNN lowering (nullptr: plain kernel).
inline LowerFn lowering_for(std::string_view op_type) {
  const CpuOp* op = find_cpu_op(op_type);
  return op ? op->lower : nullptr;
}

}  // namespace fungen::cpu
