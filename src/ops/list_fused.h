// Internal fused ops: made by the fusion passes (src/graph/passes/fuse_*.cpp), never read from a
// model file (bind_schemas cannot find them). Row format as in op_list.h; each has an infer_ and
// a reference_ function like any op, the reference composed from the plain kernels so a fused
// graph can be checked against the unfused one.
//
//   FusedConv(X, W, [B], [Z]) = act(Conv(X, W, B)) + Z
//     activation: "" (none) or "silu" (x * sigmoid(x), the export's Sigmoid+Mul pair)
//     Z: optional residual of the output's shape (the Add that followed the conv)
#pragma once

#define FUNGEN_FUSED_OPS(X) \
  X(FusedConv, "activation auto_pad dilations group kernel_shape pads strides", 1)
