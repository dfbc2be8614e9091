// test_onnx_writer.h — a tiny protobuf *writer* for tests: builds ONNX messages byte by byte so
// the importer can be tested without libprotobuf or model files. Field numbers: onnx.proto3.
//
//   auto bytes = onnx_test::model(onnx_test::graph()
//       .msg(1, onnx_test::node("Relu", {"x"}, {"y"}))
//       .msg(11, onnx_test::value_info("x", 1, {1, 3}))
//       .msg(12, onnx_test::value_info("y", 1, {1, 3}))).bytes();
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace onnx_test {

class Pb {
 public:
  Pb& raw_varint(uint64_t v) {
    while (v >= 0x80) {
      buf_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    buf_.push_back(static_cast<char>(v));
    return *this;
  }
  Pb& tag(uint32_t field, uint32_t wire) { return raw_varint((uint64_t{field} << 3) | wire); }
  Pb& varint(uint32_t field, uint64_t v) { return tag(field, 0).raw_varint(v); }
  Pb& sint(uint32_t field, int64_t v) { return varint(field, static_cast<uint64_t>(v)); }
  Pb& fixed32(uint32_t field, uint32_t bits) {
    tag(field, 5);
    for (int i = 0; i < 4; ++i) buf_.push_back(static_cast<char>(bits >> (8 * i)));
    return *this;
  }
  Pb& fixed64(uint32_t field, uint64_t bits) {
    tag(field, 1);
    for (int i = 0; i < 8; ++i) buf_.push_back(static_cast<char>(bits >> (8 * i)));
    return *this;
  }
  Pb& f32(uint32_t field, float v) { return fixed32(field, std::bit_cast<uint32_t>(v)); }
  Pb& bytes(uint32_t field, std::string_view s) {
    tag(field, 2).raw_varint(s.size());
    buf_.append(s);
    return *this;
  }
  Pb& msg(uint32_t field, const Pb& m) { return bytes(field, m.str()); }
  Pb& packed_varints(uint32_t field, std::initializer_list<int64_t> vs) {
    Pb inner;
    for (int64_t v : vs) inner.raw_varint(static_cast<uint64_t>(v));
    return bytes(field, inner.str());
  }
  Pb& packed_floats(uint32_t field, std::initializer_list<float> vs) {
    std::string s;
    for (float v : vs) {
      uint32_t b = std::bit_cast<uint32_t>(v);
      s.append(reinterpret_cast<const char*>(&b), 4);
    }
    return bytes(field, s);
  }
  Pb& append(const Pb& other) {
    buf_ += other.buf_;
    return *this;
  }

  const std::string& str() const { return buf_; }
  std::vector<uint8_t> data() const { return std::vector<uint8_t>(buf_.begin(), buf_.end()); }

 private:
  std::string buf_;
};

template <class T>
std::string le_bytes(std::initializer_list<T> vs) {
  std::string s;
  for (T v : vs) s.append(reinterpret_cast<const char*>(&v), sizeof(T));
  return s;
}

// TensorProto with raw_data.
inline Pb tensor_raw(const std::string& name, int32_t dtype, std::initializer_list<int64_t> dims,
                     const std::string& raw) {
  Pb t;
  for (int64_t d : dims) t.sint(1, d);
  t.varint(2, static_cast<uint64_t>(dtype)).bytes(8, name).bytes(9, raw);
  return t;
}

// TensorProto header (dims, type, name) — append the typed data fields yourself.
inline Pb tensor_header(const std::string& name, int32_t dtype,
                        std::initializer_list<int64_t> dims) {
  Pb t;
  t.packed_varints(1, dims).varint(2, static_cast<uint64_t>(dtype)).bytes(8, name);
  return t;
}

using Dim = std::variant<int64_t, std::string>;

inline Pb value_info(const std::string& name, int32_t elem_type, std::vector<Dim> dims) {
  Pb shape;
  for (const Dim& d : dims) {
    Pb dim;
    if (std::holds_alternative<int64_t>(d))
      dim.sint(1, std::get<int64_t>(d));
    else
      dim.bytes(2, std::get<std::string>(d));
    shape.msg(1, dim);
  }
  Pb tensor_type;
  tensor_type.varint(1, static_cast<uint64_t>(elem_type)).msg(2, shape);
  Pb type;
  type.msg(1, tensor_type);
  Pb vi;
  vi.bytes(1, name).msg(2, type);
  return vi;
}

inline Pb node(const std::string& op, std::initializer_list<std::string> inputs,
               std::initializer_list<std::string> outputs, const std::string& name = "",
               std::initializer_list<Pb> attributes = {}, const std::string& domain = "") {
  Pb n;
  for (const auto& i : inputs) n.bytes(1, i);
  for (const auto& o : outputs) n.bytes(2, o);
  if (!name.empty()) n.bytes(3, name);
  n.bytes(4, op);
  for (const Pb& a : attributes) n.msg(5, a);
  if (!domain.empty()) n.bytes(7, domain);
  return n;
}

// AttributeProto helpers (type field 20 per AttributeType).
inline Pb attr_int(const std::string& name, int64_t v) {
  Pb a;
  a.bytes(1, name).sint(3, v).varint(20, 2);
  return a;
}
inline Pb attr_float(const std::string& name, float v) {
  Pb a;
  a.bytes(1, name).f32(2, v).varint(20, 1);
  return a;
}
inline Pb attr_string(const std::string& name, const std::string& v) {
  Pb a;
  a.bytes(1, name).bytes(4, v).varint(20, 3);
  return a;
}
inline Pb attr_tensor(const std::string& name, const Pb& t) {
  Pb a;
  a.bytes(1, name).msg(5, t).varint(20, 4);
  return a;
}

inline Pb model(const Pb& graph, int64_t opset = 17, const std::string& producer = "pytorch") {
  Pb opset_import;
  opset_import.bytes(1, "").sint(2, opset);
  Pb m;
  m.varint(1, 8).bytes(2, producer).bytes(3, "2.3.0").msg(8, opset_import);
  return m.msg(7, graph);  // graph last: every strict prefix of the file is then invalid
}

}  // namespace onnx_test
