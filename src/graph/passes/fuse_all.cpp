// The fusion rules in the order they apply, and the helpers they share.
#include "graph/passes/fuse_util.h"
#include "graph/passes/fusions.h"
#include "ops/op.h"

namespace fungen {

namespace fuse {

Node as_fused_conv(const Node& conv) {
  Node f = conv;
  if (f.op_type != "FusedConv") {
    f.op_type = "FusedConv";
    f.schema = find_internal_op_schema("FusedConv");
    f.inputs.resize(3, -1);
  }
  return f;
}

}  // namespace fuse

void run_fusions(Graph& graph) {
  fuse_conv_silu(graph);
  fuse_conv_add(graph);
}

}  // namespace fungen
