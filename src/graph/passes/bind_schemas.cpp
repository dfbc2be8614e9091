// bind_schemas — gives each node its OpSchema, and rejects what fungen cannot run, naming the
// node, op and opset, before anything is computed.
#include <string>

#include "graph/passes/passes.h"
#include "ops/op.h"

namespace fungen {
namespace {

bool attribute_accepted(const OpSchema& schema, std::string_view name) {
  std::string_view list = schema.attributes;
  while (!list.empty()) {
    size_t space = list.find(' ');
    std::string_view word = list.substr(0, space);
    if (word == name) return true;
    if (space == std::string_view::npos) break;
    list.remove_prefix(space + 1);
  }
  return false;
}

}  // namespace

Status bind_schemas(Graph& graph) {
  if (graph.opset < kMinOpset || graph.opset > kMaxOpset) {
    return unsupported("model imports ai.onnx opset " + std::to_string(graph.opset) +
                       "; fungen supports opsets " + std::to_string(kMinOpset) + "-" +
                       std::to_string(kMaxOpset) + " (re-export with e.g. opset=17)");
  }
  for (Node& node : graph.nodes) {
    if (!node.domain.empty() && node.domain != "ai.onnx") {
      return unsupported(node.describe(graph.opset) + ": operator domain '" + node.domain +
                         "' is not supported (fungen runs the default ONNX domain only)");
    }
    const OpSchema* schema = find_op_schema(node.op_type);
    if (!schema) {
      return unsupported(node.describe(graph.opset) + ": op '" + node.op_type +
                         "' is not supported by fungen (docs/ops.md lists the ops it runs)");
    }
    if (graph.opset < schema->min_opset) {
      return unsupported(node.describe(graph.opset) + ": fungen implements " + node.op_type +
                         " from opset " + std::to_string(schema->min_opset) +
                         " on; re-export the model with a newer opset");
    }
    for (const auto& [name, attr] : node.attributes) {
      if (!attribute_accepted(*schema, name)) {
        return unsupported(node.describe(graph.opset) + ": attribute '" + name +
                           "' is not supported");
      }
    }
    node.schema = schema;
  }
  return Status();
}

}  // namespace fungen
