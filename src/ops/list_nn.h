// Neural-network ops (Conv, pooling, MatMul/Gemm, Softmax, reductions, normalization).
// See op_list.h for the row format.
#pragma once

#define FUNGEN_NN_OPS(X)
