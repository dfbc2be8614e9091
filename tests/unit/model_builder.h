// model_builder.h — writes small ONNX models (protobuf bytes) for tests, so the tests exercise
// the real importer and engine without Python.
//
//   test::ModelBuilder b(17);
//   b.input("x", DType::kFloat32, {"N", 3, 8, 8});
//   b.initializer("w", weights);
//   b.node("Conv", {"x", "w"}, {"y"}, {{"pads", attr_ints({1, 1, 1, 1})}});
//   b.output("y");
//   std::string bytes = b.build();
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "fungen/tensor.h"
#include "graph/graph.h"
#include "op_test_util.h"

namespace fungen::test {

using Dim = std::variant<int64_t, std::string>;

class ModelBuilder {
 public:
  explicit ModelBuilder(int64_t opset = 17) : opset_(opset) {}
  ModelBuilder& input(const std::string& name, DType dtype, std::vector<Dim> dims);
  ModelBuilder& output(const std::string& name);
  ModelBuilder& initializer(const std::string& name, const Tensor& value);
  ModelBuilder& node(const std::string& op, std::vector<std::string> inputs,
                     std::vector<std::string> outputs, const AttrList& attrs = {},
                     const std::string& domain = "");
  ModelBuilder& metadata(const std::string& key, const std::string& value);
  std::string build() const;

 private:
  int64_t opset_;
  std::string graph_;  // serialized GraphProto fields, appended as we go
  std::string metadata_;
  int node_count_ = 0;
};

// Protobuf wire-format writers (also useful for hand-made corrupt files).
void put_varint(std::string& out, uint64_t v);
void put_tag(std::string& out, int field, int wire_type);
void put_bytes(std::string& out, int field, const std::string& bytes);
void put_int(std::string& out, int field, int64_t v);
std::string tensor_proto(const std::string& name, const Tensor& t);

}  // namespace fungen::test
