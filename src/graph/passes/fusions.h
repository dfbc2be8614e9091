// fusions.h — graph rewrites into the internal fused ops of ops/list_fused.h, one rule per file
// (fuse_*.cpp). They run on a specialized graph (shapes known, dead nodes gone) when a backend
// that has fast fused kernels is in use; every fused op has a reference kernel composed from the
// plain ones, so a fused graph computes what the unfused graph did.
//
// A rule rewrites every match it finds and leaves the rest of the graph untouched; it returns
// the number of matches it fused.
#pragma once

#include "graph/graph.h"

namespace fungen {

// Conv → Sigmoid → Mul(conv, sigmoid)  ⇒  FusedConv(activation = "silu").
int fuse_conv_silu(Graph& graph);
// (Fused)Conv → Add(conv, z) with z of the same shape  ⇒  FusedConv with residual input z.
int fuse_conv_add(Graph& graph);

// All rules above, in order.
void run_fusions(Graph& graph);

}  // namespace fungen
