// op_list.h — THE list of ops fungen implements. One row per op:
//   X(Name, "accepted attribute names, space-separated", first_supported_ai_onnx_opset)
// For each row the build expects two functions (a missing one is a link error):
//   Status infer_Name(InferContext&);      in src/ops/<family>.cpp
//   Status reference_Name(KernelContext&); in src/backends/reference/<family>.cpp
// Each family keeps its rows in its own list file below.
#pragma once

#include "ops/list_elementwise.h"
#include "ops/list_fused.h"
#include "ops/list_nn.h"
#include "ops/list_tensor.h"

#define FUNGEN_OPS(X) FUNGEN_ELEMENTWISE_OPS(X) FUNGEN_NN_OPS(X) FUNGEN_TENSOR_OPS(X)

// Ops the passes create and model files may not name (see list_fused.h).
#define FUNGEN_INTERNAL_OPS(X) FUNGEN_FUSED_OPS(X)
