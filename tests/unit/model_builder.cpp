#include "model_builder.h"

#include <cstring>

namespace fungen::test {

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_tag(std::string& out, int field, int wire_type) {
  put_varint(out, (static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire_type));
}

void put_bytes(std::string& out, int field, const std::string& bytes) {
  put_tag(out, field, 2);
  put_varint(out, bytes.size());
  out += bytes;
}

void put_int(std::string& out, int field, int64_t v) {
  put_tag(out, field, 0);
  put_varint(out, static_cast<uint64_t>(v));
}

std::string tensor_proto(const std::string& name, const Tensor& t) {
  std::string out;
  for (int64_t d : t.shape()) put_int(out, 1, d);
  put_int(out, 2, static_cast<int64_t>(t.dtype()));
  put_bytes(out, 8, name);
  put_bytes(out, 9, std::string(static_cast<const char*>(t.raw()), t.nbytes()));
  return out;
}

namespace {

std::string attribute_proto(const std::string& name, const Attribute& a) {
  std::string out;
  put_bytes(out, 1, name);
  switch (a.kind) {
    case Attribute::Kind::kFloat: {
      put_tag(out, 2, 5);
      char b[4];
      std::memcpy(b, &a.f, 4);
      out.append(b, 4);
      put_int(out, 20, 1);
      break;
    }
    case Attribute::Kind::kInt:
      put_int(out, 3, a.i);
      put_int(out, 20, 2);
      break;
    case Attribute::Kind::kString:
      put_bytes(out, 4, a.s);
      put_int(out, 20, 3);
      break;
    case Attribute::Kind::kTensor:
      put_bytes(out, 5, tensor_proto("", a.t));
      put_int(out, 20, 4);
      break;
    case Attribute::Kind::kFloats:
      for (float f : a.floats) {
        put_tag(out, 7, 5);
        char b[4];
        std::memcpy(b, &f, 4);
        out.append(b, 4);
      }
      put_int(out, 20, 6);
      break;
    case Attribute::Kind::kInts:
      for (int64_t i : a.ints) put_int(out, 8, i);
      put_int(out, 20, 7);
      break;
    case Attribute::Kind::kStrings:
      for (const std::string& s : a.strings) put_bytes(out, 9, s);
      put_int(out, 20, 8);
      break;
    default:
      break;
  }
  return out;
}

}  // namespace

ModelBuilder& ModelBuilder::input(const std::string& name, DType dtype, std::vector<Dim> dims) {
  std::string shape;
  for (const Dim& d : dims) {
    std::string dim;
    if (std::holds_alternative<int64_t>(d)) {
      put_int(dim, 1, std::get<int64_t>(d));
    } else {
      put_bytes(dim, 2, std::get<std::string>(d));
    }
    put_bytes(shape, 1, dim);
  }
  std::string tensor_type;
  put_int(tensor_type, 1, static_cast<int64_t>(dtype));
  put_bytes(tensor_type, 2, shape);
  std::string type;
  put_bytes(type, 1, tensor_type);
  std::string vi;
  put_bytes(vi, 1, name);
  put_bytes(vi, 2, type);
  put_bytes(graph_, 11, vi);
  return *this;
}

ModelBuilder& ModelBuilder::output(const std::string& name) {
  std::string vi;
  put_bytes(vi, 1, name);
  put_bytes(graph_, 12, vi);
  return *this;
}

ModelBuilder& ModelBuilder::initializer(const std::string& name, const Tensor& value) {
  put_bytes(graph_, 5, tensor_proto(name, value));
  return *this;
}

ModelBuilder& ModelBuilder::node(const std::string& op, std::vector<std::string> inputs,
                                 std::vector<std::string> outputs, const AttrList& attrs,
                                 const std::string& domain) {
  std::string n;
  for (const auto& i : inputs) put_bytes(n, 1, i);
  for (const auto& o : outputs) put_bytes(n, 2, o);
  put_bytes(n, 3, op + "_" + std::to_string(node_count_++));
  put_bytes(n, 4, op);
  for (const auto& [k, v] : attrs) put_bytes(n, 5, attribute_proto(k, v));
  if (!domain.empty()) put_bytes(n, 7, domain);
  put_bytes(graph_, 1, n);
  return *this;
}

ModelBuilder& ModelBuilder::metadata(const std::string& key, const std::string& value) {
  std::string e;
  put_bytes(e, 1, key);
  put_bytes(e, 2, value);
  put_bytes(metadata_, 14, e);
  return *this;
}

std::string ModelBuilder::build() const {
  std::string model;
  put_int(model, 1, 8);  // ir_version
  put_bytes(model, 2, "fungen-tests");
  std::string opset;
  put_bytes(opset, 1, "");
  put_int(opset, 2, opset_);
  put_bytes(model, 8, opset);
  std::string graph = graph_;
  put_bytes(graph, 2, "test_graph");
  put_bytes(model, 7, graph);
  model += metadata_;
  return model;
}

}  // namespace fungen::test
