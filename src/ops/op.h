// op.h — what every op provides: a schema (name, accepted attributes, opset range), a shape
// function and a reference kernel. The one list of ops is ops/op_list.h.
//
// Shape functions see input dtypes and shapes, and the values of constant inputs; they set each
// output's dtype and shape, reject unsupported attribute values with a Status, and may ask for
// scratch memory that the planner reserves (kernels allocate nothing while running).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fungen/status.h"
#include "fungen/tensor.h"
#include "graph/graph.h"

namespace fungen {

class ThreadPool;

class InferContext {
 public:
  InferContext(const Node& node, Graph& graph) : node_(node), graph_(graph) {}

  const Node& node() const { return node_; }
  int64_t opset() const { return graph_.opset; }
  size_t num_inputs() const { return node_.inputs.size(); }
  size_t num_outputs() const { return node_.outputs.size(); }
  // False for an omitted optional input (empty name in ONNX) or an index past the end.
  bool has_input(size_t i) const { return i < node_.inputs.size() && node_.inputs[i] >= 0; }
  bool has_output(size_t i) const { return i < node_.outputs.size() && node_.outputs[i] >= 0; }
  DType input_dtype(size_t i) const { return value(i).dtype; }
  const Shape& input_shape(size_t i) const { return value(i).shape; }
  int input_rank(size_t i) const { return static_cast<int>(value(i).shape.size()); }
  // The value of a constant input, or nullptr when it is only known at run time.
  const Tensor* input_constant(size_t i) const {
    const Value& v = value(i);
    return v.constant ? &*v.constant : nullptr;
  }
  void set_output(size_t i, DType dtype, Shape shape);
  // The shape set_output() gave output i.
  const Shape& output_shape(size_t i) const {
    return graph_.values[static_cast<size_t>(node_.outputs[i])].shape;
  }
  // A context for `other` on the same graph (fused ops reuse the shape function of the op they
  // contain); `other` must outlive it.
  InferContext for_node(const Node& other) const { return InferContext(other, graph_); }
  // Scratch bytes the kernel may use through KernelContext::scratch(); default 0.
  void request_scratch(size_t bytes) { scratch_bytes_ = bytes; }
  size_t scratch_bytes() const { return scratch_bytes_; }

  // Error helpers that name node, op and opset.
  Status fail(StatusCode code, const std::string& what) const;
  Status invalid(const std::string& what) const { return fail(StatusCode::kInvalidArgument, what); }
  Status unsupported_attr(const std::string& what) const {
    return fail(StatusCode::kUnsupported, what);
  }

 private:
  const Value& value(size_t i) const { return graph_.values[static_cast<size_t>(node_.inputs[i])]; }
  const Node& node_;
  Graph& graph_;
  size_t scratch_bytes_ = 0;
};

class KernelContext {
 public:
  KernelContext(const Node& node, int64_t opset, std::span<const Tensor* const> inputs,
                std::span<Tensor* const> outputs, void* scratch, size_t scratch_bytes,
                ThreadPool* pool)
      : node_(node),
        opset_(opset),
        inputs_(inputs),
        outputs_(outputs),
        scratch_(scratch),
        scratch_bytes_(scratch_bytes),
        pool_(pool) {}

  const Node& node() const { return node_; }
  int64_t opset() const { return opset_; }
  size_t num_inputs() const { return inputs_.size(); }
  size_t num_outputs() const { return outputs_.size(); }
  bool has_input(size_t i) const { return i < inputs_.size() && inputs_[i] != nullptr; }
  bool has_output(size_t i) const { return i < outputs_.size() && outputs_[i] != nullptr; }
  const Tensor& input(size_t i) const { return *inputs_[i]; }
  // Preallocated with the shape the shape function set.
  Tensor& output(size_t i) const { return *outputs_[i]; }
  void* scratch() const { return scratch_; }
  size_t scratch_bytes() const { return scratch_bytes_; }
  ThreadPool* pool() const { return pool_; }  // may be null: run serially

 private:
  const Node& node_;
  int64_t opset_;
  std::span<const Tensor* const> inputs_;
  std::span<Tensor* const> outputs_;
  void* scratch_;
  size_t scratch_bytes_;
  ThreadPool* pool_;
};

using InferFn = Status (*)(InferContext&);
using KernelFn = Status (*)(KernelContext&);

struct OpSchema {
  std::string_view name;
  // Attribute names the op understands, space-separated; any other attribute is rejected at load.
  std::string_view attributes;
  int min_opset = 1;  // first ai.onnx opset whose semantics fungen implements for this op
  InferFn infer = nullptr;
  KernelFn reference = nullptr;
  bool internal = false;  // made by a fusion pass; a model file cannot name it
};

// The schema of `op_type` in the default domain, or nullptr. Internal ops are not found here.
const OpSchema* find_op_schema(std::string_view op_type);
// The schema of an internal (fused) op of ops/list_fused.h, or nullptr.
const OpSchema* find_internal_op_schema(std::string_view op_type);
// Every op fungen implements, in the order of ops/op_list.h.
std::span<const OpSchema* const> all_op_schemas();

}  // namespace fungen
