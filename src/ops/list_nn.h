// Neural-network ops (Conv, pooling, MatMul/Gemm, Softmax, reductions, normalization).
// See op_list.h for the row format.
#pragma once

#define FUNGEN_NN_REDUCE_OPS(X)                               \
  X(ReduceSum, "axes keepdims noop_with_empty_axes", 1)       \
  X(ReduceMean, "axes keepdims noop_with_empty_axes", 1)      \
  X(ReduceMax, "axes keepdims noop_with_empty_axes", 1)       \
  X(ReduceMin, "axes keepdims noop_with_empty_axes", 1)       \
  X(ReduceProd, "axes keepdims noop_with_empty_axes", 1)      \
  X(ReduceL1, "axes keepdims noop_with_empty_axes", 1)        \
  X(ReduceL2, "axes keepdims noop_with_empty_axes", 1)        \
  X(ReduceSumSquare, "axes keepdims noop_with_empty_axes", 1) \
  X(ReduceLogSum, "axes keepdims noop_with_empty_axes", 1)    \
  X(ReduceLogSumExp, "axes keepdims noop_with_empty_axes", 1) \
  X(ArgMax, "axis keepdims select_last_index", 1)             \
  X(ArgMin, "axis keepdims select_last_index", 1)

#define FUNGEN_NN_OPS(X)                                                                        \
  X(Conv, "auto_pad dilations group kernel_shape pads strides", 1)                              \
  X(ConvTranspose,                                                                              \
    "auto_pad dilations group kernel_shape output_padding output_shape pads strides", 1)        \
  X(MaxPool, "auto_pad ceil_mode dilations kernel_shape pads storage_order strides", 8)         \
  X(AveragePool, "auto_pad ceil_mode count_include_pad dilations kernel_shape pads strides", 7) \
  X(GlobalAveragePool, "", 1)                                                                   \
  X(GlobalMaxPool, "", 1)                                                                       \
  X(MatMul, "", 1)                                                                              \
  X(Gemm, "alpha beta transA transB", 7)                                                        \
  X(Softmax, "axis", 1)                                                                         \
  X(LogSoftmax, "axis", 1)                                                                      \
  X(Hardmax, "axis", 1)                                                                         \
  FUNGEN_NN_REDUCE_OPS(X)                                                                       \
  X(BatchNormalization, "epsilon momentum spatial training_mode", 7)                            \
  X(InstanceNormalization, "epsilon", 6)                                                        \
  X(LayerNormalization, "axis epsilon stash_type", 17)                                          \
  X(LRN, "alpha beta bias size", 1)
