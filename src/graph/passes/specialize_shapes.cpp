// specialize_shapes — static shape inference for concrete input shapes, with constant folding:
// a node whose inputs are all constant is computed once here by its reference kernel, so the
// Shape/Gather/Unsqueeze/Concat/Reshape chains of unsimplified exports become constants and
// such a model loads exactly like its simplified twin.
#include <string>
#include <vector>

#include "fungen/log.h"
#include "graph/passes/passes.h"
#include "ops/op.h"

namespace fungen {
namespace {

Status check_input_shape(const Value& v, const Shape& shape) {
  if (!v.declared_shape) return Status();
  if (v.declared.size() != shape.size()) {
    return invalid_argument("input '" + v.name + "' has shape " + shape_to_string(shape) +
                            " but the model expects rank " + std::to_string(v.declared.size()));
  }
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0) {
      return invalid_argument("input '" + v.name + "' has a negative dimension");
    }
    if (v.declared[i].size >= 0 && v.declared[i].size != shape[i]) {
      std::string expected = "[";
      for (size_t j = 0; j < v.declared.size(); ++j) {
        if (j) expected += ",";
        expected += v.declared[j].size >= 0        ? std::to_string(v.declared[j].size)
                    : v.declared[j].symbol.empty() ? "?"
                                                   : v.declared[j].symbol;
      }
      return invalid_argument("input '" + v.name + "' has shape " + shape_to_string(shape) +
                              " but the model expects " + expected + "]");
    }
  }
  return Status();
}

// Shape and Size read only their input's shape, so they fold even when the data is dynamic.
bool folds_from_shape_alone(const Node& node) {
  return node.op_type == "Shape" || node.op_type == "Size";
}

Status fold_node(Graph& graph, const Node& node, size_t scratch_bytes) {
  std::vector<Tensor> inputs;
  inputs.reserve(node.inputs.size());
  std::vector<const Tensor*> in_ptrs;
  for (int id : node.inputs) {
    if (id < 0) {
      in_ptrs.push_back(nullptr);
      continue;
    }
    const Value& v = graph.values[static_cast<size_t>(id)];
    inputs.push_back(v.constant ? *v.constant : Tensor::view(v.dtype, v.shape, nullptr));
    in_ptrs.push_back(&inputs.back());
  }
  std::vector<Tensor> outputs;
  outputs.reserve(node.outputs.size());
  std::vector<Tensor*> out_ptrs;
  for (int id : node.outputs) {
    if (id < 0) {
      out_ptrs.push_back(nullptr);
      continue;
    }
    const Value& v = graph.values[static_cast<size_t>(id)];
    outputs.emplace_back(v.dtype, v.shape);
    out_ptrs.push_back(&outputs.back());
  }
  std::vector<std::byte> scratch(scratch_bytes + 64);
  KernelContext ctx(node, graph.opset, in_ptrs, out_ptrs, scratch.data(), scratch_bytes, nullptr);
  Status s = node.schema->reference(ctx);
  if (!s.ok()) return s.with_context("while folding constants");
  size_t k = 0;
  for (int id : node.outputs) {
    if (id >= 0) graph.values[static_cast<size_t>(id)].constant = std::move(outputs[k++]);
  }
  return Status();
}

}  // namespace

Status specialize_shapes(Graph& graph, std::span<const Shape> input_shapes) {
  if (input_shapes.size() != graph.inputs.size()) {
    return invalid_argument("the model has " + std::to_string(graph.inputs.size()) +
                            " input(s) but " + std::to_string(input_shapes.size()) + " were given");
  }
  for (size_t i = 0; i < graph.inputs.size(); ++i) {
    Value& v = graph.values[static_cast<size_t>(graph.inputs[i])];
    FUNGEN_RETURN_IF_ERROR(check_input_shape(v, input_shapes[i]));
    v.shape = input_shapes[i];
    v.shape_known = true;
  }
  for (Value& v : graph.values) {
    if (v.constant) {
      v.dtype = v.constant->dtype();
      v.shape = v.constant->shape();
      v.shape_known = true;
    }
  }
  for (Node& node : graph.nodes) {
    bool all_constant = true;
    for (int id : node.inputs) {
      if (id < 0) continue;
      const Value& v = graph.values[static_cast<size_t>(id)];
      if (!v.shape_known) {
        return internal_error(node.describe(graph.opset) + ": input '" + v.name +
                              "' has no shape (graph not in topological order?)");
      }
      all_constant = all_constant && v.is_constant();
    }
    InferContext ctx(node, graph);
    FUNGEN_RETURN_IF_ERROR(node.schema->infer(ctx));
    node.scratch_bytes = ctx.scratch_bytes();
    for (int id : node.outputs) {
      if (id >= 0 && !graph.values[static_cast<size_t>(id)].shape_known) {
        return internal_error(node.describe(graph.opset) + ": shape function left output '" +
                              graph.values[static_cast<size_t>(id)].name + "' unset");
      }
    }
    if (all_constant || folds_from_shape_alone(node)) {
      FUNGEN_RETURN_IF_ERROR(fold_node(graph, node, ctx.scratch_bytes()));
    }
  }
  for (int id : graph.outputs) {
    if (!graph.values[static_cast<size_t>(id)].shape_known) {
      return corrupt("graph output '" + graph.values[static_cast<size_t>(id)].name +
                     "' is produced by no node");
    }
  }
  return Status();
}

}  // namespace fungen
