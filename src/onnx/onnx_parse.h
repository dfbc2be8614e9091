// onnx_parse.h — internal to src/onnx: the ONNX messages as read off the wire, before they
// become a Graph. onnx_parse.cpp fills these (wire format -> structs); onnx_import.cpp checks
// names, domains and order and builds the Graph.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "fungen/status.h"
#include "fungen/tensor.h"
#include "graph/graph.h"
#include "onnx/proto_reader.h"

namespace fungen::onnx_detail {

struct RawValueInfo {
  std::string name;
  std::string type_kind = "none";  // "tensor", or what else TypeProto held ("sequence", ...)
  int32_t elem_type = 0;
  bool has_shape = false;
  std::vector<DeclaredDim> dims;
};

struct RawNode {
  std::string name;
  std::string op_type;
  std::string domain;
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::vector<std::pair<std::string, Attribute>> attributes;
};

struct RawGraph {
  std::string name;
  std::vector<RawNode> nodes;
  std::vector<std::pair<std::string, Tensor>> initializers;
  std::vector<RawValueInfo> inputs;
  std::vector<RawValueInfo> outputs;
  size_t sparse_initializers = 0;
};

struct RawModel {
  int64_t ir_version = 0;
  std::vector<std::pair<std::string, int64_t>> opset_imports;  // (domain, version)
  std::string producer_name;
  std::string producer_version;
  std::map<std::string, std::string> metadata;
  bool has_graph = false;
  RawGraph graph;
};

// TensorProto -> owned, 64-byte-aligned Tensor. Errors name the tensor when it has a name.
Result<Tensor> read_tensor(proto::Reader reader, std::string* name);
// ModelProto (the whole file) -> RawModel.
Status read_model(proto::Reader reader, RawModel& model);

}  // namespace fungen::onnx_detail
