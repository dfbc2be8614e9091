// Elementwise ops (unary math, activations, broadcasting binary ops, comparisons, Where).
// See op_list.h for the row format.
#pragma once

#define FUNGEN_ELEMENTWISE_OPS(X)
