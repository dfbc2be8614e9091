// onnx_import.h — reads an ONNX model (.onnx protobuf) into fungen's Graph IR.
//
//   Result<Graph> g = import_onnx_file("yolo11n.onnx");
//   if (!g) return g.status();   // kNotFound, kCorrupt ("... is not an ONNX model (...)"),
//                                 // kUnsupported (external data, custom domains, string tensors)
//
// What the importer guarantees about the Graph it returns:
//  - nodes are in topological order (a file out of order is sorted; a cycle is kCorrupt);
//  - every node input is a graph input, a constant or the output of an earlier node; an empty
//    input/output name in the file becomes -1 (omitted optional);
//  - every value name is defined once; graph inputs that are also initializers are constants,
//    not runtime inputs;
//  - constants own 64-byte-aligned copies of their data (raw_data or the typed *_data fields);
//  - nodes of the domains "" and "ai.onnx" have domain ""; any other domain a node uses is
//    kUnsupported (importing ai.onnx.ml without using it is fine);
//  - graph-valued attributes (the bodies of If/Loop/Scan) are kept as Attribute::Kind::kGraph
//    WITHOUT their body: fungen does not run subgraphs, so the op check rejects such nodes
//    later with the op's name. Attributes of kind TENSORS, GRAPHS, SPARSE_TENSOR(S) and
//    TYPE_PROTO(S) are kUnsupported at import.
// Node ops and attributes are not checked against fungen's op table here (bind_schemas does).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "fungen/status.h"
#include "fungen/tensor.h"
#include "graph/graph.h"

namespace fungen {

// `label` names the model in messages (a path, or "<memory>").
Result<Graph> import_onnx_model(std::span<const uint8_t> bytes, const std::string& label);
// Maps (or reads) the file and imports it; a missing file is kNotFound naming the path.
Result<Graph> import_onnx_file(const std::string& path);

// One serialized TensorProto (an initializer, or an ONNX test's input_0.pb) as an owned,
// aligned Tensor. `name`, when given, receives TensorProto.name.
Result<Tensor> parse_tensor_proto(std::span<const uint8_t> bytes, std::string* name = nullptr);

}  // namespace fungen
