#include "graph/graph.h"

#include "util/assert.h"

namespace fungen {

const char* attribute_kind_name(Attribute::Kind kind) {
  switch (kind) {
    case Attribute::Kind::kUndefined:
      return "undefined";
    case Attribute::Kind::kFloat:
      return "float";
    case Attribute::Kind::kInt:
      return "int";
    case Attribute::Kind::kString:
      return "string";
    case Attribute::Kind::kTensor:
      return "tensor";
    case Attribute::Kind::kGraph:
      return "graph";
    case Attribute::Kind::kFloats:
      return "floats";
    case Attribute::Kind::kInts:
      return "ints";
    case Attribute::Kind::kStrings:
      return "strings";
  }
  return "?";
}

const Attribute* Node::attr(std::string_view key) const {
  auto it = attributes.find(key);
  return it == attributes.end() ? nullptr : &it->second;
}

int64_t Node::attr_int(std::string_view key, int64_t fallback) const {
  const Attribute* a = attr(key);
  return a && a->kind == Attribute::Kind::kInt ? a->i : fallback;
}

float Node::attr_float(std::string_view key, float fallback) const {
  const Attribute* a = attr(key);
  return a && a->kind == Attribute::Kind::kFloat ? a->f : fallback;
}

std::string Node::attr_string(std::string_view key, std::string fallback) const {
  const Attribute* a = attr(key);
  return a && a->kind == Attribute::Kind::kString ? a->s : fallback;
}

std::vector<int64_t> Node::attr_ints(std::string_view key) const {
  const Attribute* a = attr(key);
  return a && a->kind == Attribute::Kind::kInts ? a->ints : std::vector<int64_t>{};
}

std::vector<int64_t> Node::attr_ints(std::string_view key, std::vector<int64_t> fallback) const {
  std::vector<int64_t> v = attr_ints(key);
  return v.empty() ? fallback : v;
}

std::vector<float> Node::attr_floats(std::string_view key) const {
  const Attribute* a = attr(key);
  return a && a->kind == Attribute::Kind::kFloats ? a->floats : std::vector<float>{};
}

std::string Node::describe(int64_t opset) const {
  std::string s = "node '" + (name.empty() ? std::string("<unnamed>") : name) + "' (" +
                  (domain.empty() ? "" : domain + ".") + op_type + ", opset " +
                  std::to_string(opset) + ")";
  return s;
}

int Graph::find_value(std::string_view name) const {
  auto it = value_index_.find(std::string(name));
  return it == value_index_.end() ? -1 : it->second;
}

int Graph::add_value(std::string name) {
  FUNGEN_ASSERT(name.empty() || value_index_.count(name) == 0);
  int id = static_cast<int>(values.size());
  if (!name.empty()) value_index_.emplace(name, id);
  Value v;
  v.name = std::move(name);
  values.push_back(std::move(v));
  return id;
}

void Graph::rebuild_producers() {
  for (Value& v : values) v.producer = -1;
  for (size_t n = 0; n < nodes.size(); ++n) {
    for (int out : nodes[n].outputs) {
      if (out >= 0) values[static_cast<size_t>(out)].producer = static_cast<int>(n);
    }
  }
}

std::vector<int> Graph::use_counts() const {
  std::vector<int> uses(values.size(), 0);
  for (const Node& node : nodes) {
    for (int in : node.inputs) {
      if (in >= 0) ++uses[static_cast<size_t>(in)];
    }
  }
  for (int out : outputs) ++uses[static_cast<size_t>(out)];
  return uses;
}

}  // namespace fungen
