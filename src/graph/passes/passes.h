// passes.h — the graph passes, in the order the engine runs them:
//   bind_schemas        every node gets its OpSchema; unknown op/attribute/opset fails here
//   specialize_shapes   shapes for concrete input shapes; constant inputs fold nodes
//   remove_dead_nodes   folded nodes and nodes nobody reads disappear
// Each pass either applies fully or returns an error; callers run specialize/remove on a copy.
#pragma once

#include <span>

#include "fungen/status.h"
#include "graph/graph.h"

namespace fungen {

// ai.onnx opsets fungen implements.
inline constexpr int64_t kMinOpset = 1;
inline constexpr int64_t kMaxOpset = 21;

Status bind_schemas(Graph& graph);

// Sets every value's dtype and shape for these graph-input shapes (one per Graph::inputs entry)
// and folds nodes whose inputs are all constant (Shape/Size fold from shapes alone).
Status specialize_shapes(Graph& graph, std::span<const Shape> input_shapes);

// Removes nodes whose outputs are all constant or unused, and values nothing refers to.
void remove_dead_nodes(Graph& graph);

}  // namespace fungen
