// graph.h — fungen's graph IR: values (tensors by name), nodes (ops), and the model around them.
//
// The ONNX importer fills it, passes rewrite it, the planner turns it into an executable plan.
// A value is either a graph input, a constant (initializer or folded), or a node output.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fungen/tensor.h"

namespace fungen {

struct OpSchema;
struct Graph;

struct Attribute {
  enum class Kind { kUndefined, kFloat, kInt, kString, kTensor, kGraph, kFloats, kInts, kStrings };
  Kind kind = Kind::kUndefined;
  float f = 0.0f;
  int64_t i = 0;
  std::string s;
  Tensor t;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
};
const char* attribute_kind_name(Attribute::Kind kind);

struct Node {
  std::string name;
  std::string op_type;
  std::string domain;        // "" for the default ONNX domain
  std::vector<int> inputs;   // value ids; -1 marks an omitted optional input
  std::vector<int> outputs;  // value ids; -1 marks an omitted optional output
  std::map<std::string, Attribute, std::less<>> attributes;
  const OpSchema* schema = nullptr;  // bound by bind_schemas()
  size_t scratch_bytes = 0;          // set by specialize_shapes() from the shape function

  bool has_attr(std::string_view key) const { return attributes.count(key) != 0; }
  const Attribute* attr(std::string_view key) const;
  int64_t attr_int(std::string_view key, int64_t fallback) const;
  float attr_float(std::string_view key, float fallback) const;
  std::string attr_string(std::string_view key, std::string fallback) const;
  // Empty when absent.
  std::vector<int64_t> attr_ints(std::string_view key) const;
  // `fallback` when absent or empty.
  std::vector<int64_t> attr_ints(std::string_view key, std::vector<int64_t> fallback) const;
  std::vector<float> attr_floats(std::string_view key) const;

  // "node 'Conv_12' (Conv, opset 17)" — used in every error about this node.
  std::string describe(int64_t opset) const;
};

// A dimension as declared by the file: a fixed size, or symbolic (-1 with an optional name).
struct DeclaredDim {
  int64_t size = -1;
  std::string symbol;
};

struct Value {
  std::string name;
  DType dtype = DType::kUndefined;
  Shape shape;  // valid once shape_known
  bool shape_known = false;
  std::optional<Tensor> constant;     // initializer or folded value
  std::vector<DeclaredDim> declared;  // shape as written in the file (inputs/outputs), if any
  bool declared_shape = false;
  int producer = -1;  // node index, -1 for inputs/constants

  bool is_constant() const { return constant.has_value(); }
};

struct Graph {
  std::vector<Value> values;
  std::vector<Node> nodes;  // topologically sorted
  std::vector<int> inputs;  // runtime inputs (initializers excluded)
  std::vector<int> outputs;

  int64_t opset = 0;  // ai.onnx opset import
  int64_t ir_version = 0;
  std::string producer_name;
  std::string producer_version;
  std::string graph_name;
  std::map<std::string, std::string> metadata;  // metadata_props, verbatim

  int find_value(std::string_view name) const;  // -1 if absent
  int add_value(std::string name);              // creates a new value; returns its id
  // Recomputes Value::producer from nodes; call after structural edits.
  void rebuild_producers();
  // Value id -> number of node inputs + graph outputs that read it.
  std::vector<int> use_counts() const;

 private:
  std::unordered_map<std::string, int> value_index_;
};

}  // namespace fungen
