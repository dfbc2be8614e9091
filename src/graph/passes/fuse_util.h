// fuse_util.h — small helpers shared by the fuse_*.cpp rules.
#pragma once

#include <vector>

#include "graph/graph.h"

namespace fungen::fuse {

// The node producing value `id`, or nullptr for inputs and constants.
inline Node* producer(Graph& g, int id) {
  if (id < 0) return nullptr;
  int p = g.values[static_cast<size_t>(id)].producer;
  return p < 0 ? nullptr : &g.nodes[static_cast<size_t>(p)];
}

inline bool is_float_conv(const Graph& g, const Node& n) {
  if (n.op_type != "Conv" && n.op_type != "FusedConv") return false;
  const Value& y = g.values[static_cast<size_t>(n.outputs[0])];
  return y.dtype == DType::kFloat32 && y.shape.size() >= 3;
}

// Drops the nodes marked in `dead` and recomputes producers.
inline void erase_nodes(Graph& g, const std::vector<bool>& dead) {
  std::vector<Node> kept;
  kept.reserve(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!dead[i]) kept.push_back(std::move(g.nodes[i]));
  }
  g.nodes = std::move(kept);
  g.rebuild_producers();
}

// Turns `conv` (a Conv or FusedConv) into a FusedConv node with inputs X, W, B(-1 if absent).
Node as_fused_conv(const Node& conv);

}  // namespace fungen::fuse
