// fuse_conv_silu — Conv → Sigmoid → Mul(conv, sigmoid), Ultralytics' SiLU as exported, becomes
// one FusedConv with activation "silu". Applies when the conv output feeds only that Sigmoid and
// Mul and the sigmoid only that Mul; the fused node takes the Mul's place (and output).
#include "graph/passes/fuse_util.h"
#include "graph/passes/fusions.h"

namespace fungen {

int fuse_conv_silu(Graph& g) {
  std::vector<int> uses = g.use_counts();
  std::vector<bool> dead(g.nodes.size(), false);
  int fused = 0;
  for (size_t m = 0; m < g.nodes.size(); ++m) {
    Node& mul = g.nodes[m];
    if (mul.op_type != "Mul" || mul.inputs.size() != 2) continue;
    for (int side = 0; side < 2; ++side) {
      int t = mul.inputs[static_cast<size_t>(side)], s = mul.inputs[static_cast<size_t>(1 - side)];
      Node* sig = fuse::producer(g, s);
      Node* conv = fuse::producer(g, t);
      if (!sig || !conv || sig->op_type != "Sigmoid" || sig->inputs.size() != 1 ||
          sig->inputs[0] != t)
        continue;
      if (!fuse::is_float_conv(g, *conv) || conv->attr_string("activation", "") != "" ||
          conv->inputs.size() > 3) {
        continue;  // already activated, or has a residual (silu must come before the add)
      }
      if (uses[static_cast<size_t>(t)] != 2 || uses[static_cast<size_t>(s)] != 1) continue;
      Node f = fuse::as_fused_conv(*conv);
      Attribute act;
      act.kind = Attribute::Kind::kString;
      act.s = "silu";
      f.attributes["activation"] = act;
      f.outputs = mul.outputs;
      dead[static_cast<size_t>(sig - g.nodes.data())] = true;
      dead[static_cast<size_t>(conv - g.nodes.data())] = true;
      g.nodes[m] = std::move(f);
      ++fused;
      break;
    }
  }
  if (fused) fuse::erase_nodes(g, dead);
  return fused;
}

}  // namespace fungen
