// fuse_conv_add — (Fused)Conv → Add(conv, z), the residual of a bottleneck, becomes a FusedConv
// with z as its fourth input (act(conv) + z). Applies when the conv output feeds only the Add
// and z has exactly the output's shape and dtype (no broadcast); the fused node takes the Add's
// place, where z is known to be computed.
#include "graph/passes/fuse_util.h"
#include "graph/passes/fusions.h"

namespace fungen {

int fuse_conv_add(Graph& g) {
  std::vector<int> uses = g.use_counts();
  std::vector<bool> dead(g.nodes.size(), false);
  int fused = 0;
  for (size_t a = 0; a < g.nodes.size(); ++a) {
    Node& add = g.nodes[a];
    if (add.op_type != "Add" || add.inputs.size() != 2) continue;
    // Prefer the conv computed last, so the other operand is the older, longer-lived tensor.
    Node* best = nullptr;
    int best_side = -1;
    for (int side = 0; side < 2; ++side) {
      int y = add.inputs[static_cast<size_t>(side)], z = add.inputs[static_cast<size_t>(1 - side)];
      Node* conv = fuse::producer(g, y);
      if (!conv || !fuse::is_float_conv(g, *conv) || conv->inputs.size() > 3) continue;
      if (uses[static_cast<size_t>(y)] != 1 || y == z) continue;
      const Value& yv = g.values[static_cast<size_t>(y)];
      const Value& zv = g.values[static_cast<size_t>(z)];
      if (zv.shape != yv.shape || zv.dtype != yv.dtype) continue;
      if (!best || conv > best) {
        best = conv;
        best_side = side;
      }
    }
    if (!best) continue;
    Node f = fuse::as_fused_conv(*best);
    f.inputs.push_back(add.inputs[static_cast<size_t>(1 - best_side)]);
    f.outputs = add.outputs;
    dead[static_cast<size_t>(best - g.nodes.data())] = true;
    g.nodes[a] = std::move(f);
    ++fused;
  }
  if (fused) fuse::erase_nodes(g, dead);
  return fused;
}

}  // namespace fungen
