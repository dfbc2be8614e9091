// remove_dead_nodes — drops nodes whose every output is a constant (folded) or unread.
#include <vector>

#include "graph/passes/passes.h"

namespace fungen {

void remove_dead_nodes(Graph& graph) {
  std::vector<bool> live_value(graph.values.size(), false);
  for (int id : graph.outputs) live_value[static_cast<size_t>(id)] = true;
  std::vector<bool> keep(graph.nodes.size(), false);
  for (size_t n = graph.nodes.size(); n-- > 0;) {
    const Node& node = graph.nodes[n];
    bool needed = false;
    for (int id : node.outputs) {
      if (id >= 0 && live_value[static_cast<size_t>(id)] &&
          !graph.values[static_cast<size_t>(id)].is_constant()) {
        needed = true;
      }
    }
    if (!needed) continue;
    keep[n] = true;
    for (int id : node.inputs) {
      if (id >= 0) live_value[static_cast<size_t>(id)] = true;
    }
  }
  std::vector<Node> kept;
  kept.reserve(graph.nodes.size());
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    if (keep[n]) kept.push_back(std::move(graph.nodes[n]));
  }
  graph.nodes = std::move(kept);
  // Constants nobody reads any more release their memory.
  for (size_t v = 0; v < graph.values.size(); ++v) {
    if (!live_value[v] && graph.values[v].constant) graph.values[v].constant.reset();
  }
  graph.rebuild_producers();
}

}  // namespace fungen
