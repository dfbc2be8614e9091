// Tensor/shape ops (Shape, Reshape, Transpose, Concat, Split, Slice, Gather, Resize, TopK, ...).
// See op_list.h for the row format.
#pragma once

#define FUNGEN_TENSOR_OPS(X)
