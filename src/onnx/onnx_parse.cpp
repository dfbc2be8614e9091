// Wire format -> RawModel: ModelProto, GraphProto, NodeProto, AttributeProto, ValueInfoProto.
// Field numbers follow onnx/onnx.proto3. Fields fungen has no use for are skipped.
#include "onnx/onnx_parse.h"

namespace fungen::onnx_detail {
namespace {

using proto::Field;
using proto::Reader;
using proto::WireType;

Status read_string(const Field& f, const char* what, std::string& out) {
  FUNGEN_RETURN_IF_ERROR(proto::expect_wire(f, WireType::kLengthDelimited, what));
  out = f.as_string();
  return Status();
}

Status read_varint_field(const Field& f, const char* what, int64_t& out) {
  FUNGEN_RETURN_IF_ERROR(proto::expect_wire(f, WireType::kVarint, what));
  out = f.as_int64();
  return Status();
}

// StringStringEntryProto {key = 1; value = 2}
Status read_string_pair(Reader r, std::string& key, std::string& value) {
  Field f;
  while (!r.at_end()) {
    FUNGEN_RETURN_IF_ERROR(r.next(f));
    if (f.number == 1) FUNGEN_RETURN_IF_ERROR(read_string(f, "StringStringEntryProto.key", key));
    if (f.number == 2)
      FUNGEN_RETURN_IF_ERROR(read_string(f, "StringStringEntryProto.value", value));
  }
  return Status();
}

// TensorShapeProto.Dimension {dim_value = 1; dim_param = 2}
Status read_dimension(Reader r, DeclaredDim& dim) {
  Field f;
  while (!r.at_end()) {
    FUNGEN_RETURN_IF_ERROR(r.next(f));
    if (f.number == 1) {
      int64_t v = 0;
      FUNGEN_RETURN_IF_ERROR(read_varint_field(f, "Dimension.dim_value", v));
      dim.size = v >= 0 ? v : -1;
    } else if (f.number == 2) {
      FUNGEN_RETURN_IF_ERROR(read_string(f, "Dimension.dim_param", dim.symbol));
    }
  }
  if (!dim.symbol.empty()) dim.size = -1;
  return Status();
}

// TypeProto.Tensor {elem_type = 1; shape = 2 (TensorShapeProto {dim = 1})}
Status read_tensor_type(Reader r, RawValueInfo& info) {
  Field f;
  while (!r.at_end()) {
    FUNGEN_RETURN_IF_ERROR(r.next(f));
    if (f.number == 1) {
      FUNGEN_RETURN_IF_ERROR(
          proto::expect_wire(f, WireType::kVarint, "TypeProto.Tensor.elem_type"));
      info.elem_type = f.as_int32();
    } else if (f.number == 2) {
      info.has_shape = true;
      info.dims.clear();  // a repeated occurrence replaces; real files have one
      FUNGEN_ASSIGN_OR_RETURN(Reader shape, r.nested(f));
      Field d;
      while (!shape.at_end()) {
        FUNGEN_RETURN_IF_ERROR(shape.next(d));
        if (d.number != 1) continue;
        FUNGEN_ASSIGN_OR_RETURN(Reader dim_reader, shape.nested(d));
        DeclaredDim dim;
        FUNGEN_RETURN_IF_ERROR(read_dimension(dim_reader, dim));
        info.dims.push_back(std::move(dim));
      }
    }
  }
  return Status();
}

// ValueInfoProto {name = 1; type = 2 (TypeProto)}
Status read_value_info(Reader r, RawValueInfo& info) {
  Field f;
  while (!r.at_end()) {
    FUNGEN_RETURN_IF_ERROR(r.next(f));
    if (f.number == 1) {
      FUNGEN_RETURN_IF_ERROR(read_string(f, "ValueInfoProto.name", info.name));
    } else if (f.number == 2) {
      FUNGEN_ASSIGN_OR_RETURN(Reader type, r.nested(f));
      Field t;
      while (!type.at_end()) {
        FUNGEN_RETURN_IF_ERROR(type.next(t));
        switch (t.number) {
          case 1: {  // tensor_type
            info.type_kind = "tensor";
            FUNGEN_ASSIGN_OR_RETURN(Reader tensor, type.nested(t));
            FUNGEN_RETURN_IF_ERROR(read_tensor_type(tensor, info));
            break;
          }
          case 4:
            info.type_kind = "sequence";
            break;
          case 5:
            info.type_kind = "map";
            break;
          case 8:
            info.type_kind = "sparse tensor";
            break;
          case 9:
            info.type_kind = "optional";
            break;
          default:
            break;  // denotation
        }
      }
    }
  }
  return Status();
}

const char* attribute_type_label(int64_t type) {
  switch (type) {
    case 9:
      return "TENSORS";
    case 10:
      return "GRAPHS";
    case 11:
      return "SPARSE_TENSOR";
    case 12:
      return "SPARSE_TENSORS";
    case 13:
      return "TYPE_PROTO";
    case 14:
      return "TYPE_PROTOS";
    default:
      return "unknown";
  }
}

// AttributeProto. A kind fungen cannot hold is kUnsupported; the caller names the node.
Status read_attribute(Reader r, std::string& name, Attribute& a) {
  using Kind = Attribute::Kind;
  int64_t type = 0;
  int64_t seen_type = 0;  // for IR v1 files without `type`: the kind of the last value field
  std::string ref_attr;
  Field f;
  while (!r.at_end()) {
    FUNGEN_RETURN_IF_ERROR(r.next(f));
    switch (f.number) {
      case 1:
        FUNGEN_RETURN_IF_ERROR(read_string(f, "AttributeProto.name", name));
        break;
      case 20:
        FUNGEN_RETURN_IF_ERROR(read_varint_field(f, "AttributeProto.type", type));
        break;
      case 21:
        FUNGEN_RETURN_IF_ERROR(read_string(f, "AttributeProto.ref_attr_name", ref_attr));
        break;
      case 2:
        FUNGEN_RETURN_IF_ERROR(proto::expect_wire(f, WireType::kFixed32, "AttributeProto.f"));
        a.f = f.as_float();
        seen_type = 1;
        break;
      case 3:
        FUNGEN_RETURN_IF_ERROR(read_varint_field(f, "AttributeProto.i", a.i));
        seen_type = 2;
        break;
      case 4:
        FUNGEN_RETURN_IF_ERROR(read_string(f, "AttributeProto.s", a.s));
        seen_type = 3;
        break;
      case 5: {
        FUNGEN_ASSIGN_OR_RETURN(Reader tensor, r.nested(f));
        FUNGEN_ASSIGN_OR_RETURN(a.t, read_tensor(tensor, nullptr));
        seen_type = 4;
        break;
      }
      case 6:  // graph: the body is not imported (see onnx_import.h)
        FUNGEN_RETURN_IF_ERROR(
            proto::expect_wire(f, WireType::kLengthDelimited, "AttributeProto.g"));
        seen_type = 5;
        break;
      case 7:
        FUNGEN_RETURN_IF_ERROR(proto::append_floats(f, a.floats, "AttributeProto.floats"));
        seen_type = 6;
        break;
      case 8:
        FUNGEN_RETURN_IF_ERROR(proto::append_int64s(f, a.ints, "AttributeProto.ints"));
        seen_type = 7;
        break;
      case 9: {
        std::string s;
        FUNGEN_RETURN_IF_ERROR(read_string(f, "AttributeProto.strings", s));
        a.strings.push_back(std::move(s));
        seen_type = 8;
        break;
      }
      case 10:
        seen_type = 9;
        break;
      case 11:
        seen_type = 10;
        break;
      case 22:
        seen_type = 11;
        break;
      case 23:
        seen_type = 12;
        break;
      case 14:
        seen_type = 13;
        break;
      case 15:
        seen_type = 14;
        break;
      default:
        break;  // doc_string
    }
  }
  if (name.empty()) return corrupt("an attribute has no name");
  if (!ref_attr.empty()) {
    return unsupported("attribute '" + name + "' refers to function attribute '" + ref_attr +
                       "'; fungen does not import ONNX functions");
  }
  if (type == 0) type = seen_type;
  switch (type) {
    case 1:
      a.kind = Kind::kFloat;
      break;
    case 2:
      a.kind = Kind::kInt;
      break;
    case 3:
      a.kind = Kind::kString;
      break;
    case 4:
      a.kind = Kind::kTensor;
      break;
    case 5:
      a.kind = Kind::kGraph;
      break;
    case 6:
      a.kind = Kind::kFloats;
      break;
    case 7:
      a.kind = Kind::kInts;
      break;
    case 8:
      a.kind = Kind::kStrings;
      break;
    case 0:
      return corrupt("attribute '" + name + "' has no type and no value");
    default:
      return unsupported("attribute '" + name + "' has kind " + attribute_type_label(type) +
                         ", which fungen does not support");
  }
  if (a.kind == Kind::kTensor && a.t.empty()) {
    return corrupt("attribute '" + name + "' is of kind TENSOR but holds no tensor");
  }
  return Status();
}

std::string node_label(const RawNode& n, size_t index) {
  return "node " + std::to_string(index) + " '" + (n.name.empty() ? "<unnamed>" : n.name) + "' (" +
         (n.op_type.empty() ? "<no op_type>" : n.op_type) + ")";
}

// NodeProto. Errors in attributes are reported once the node's name and op are known.
Status read_node(Reader r, size_t index, RawNode& node) {
  Status attr_error;
  Field f;
  while (!r.at_end()) {
    FUNGEN_RETURN_IF_ERROR(r.next(f));
    switch (f.number) {
      case 1:
        node.inputs.emplace_back();
        FUNGEN_RETURN_IF_ERROR(read_string(f, "NodeProto.input", node.inputs.back()));
        break;
      case 2:
        node.outputs.emplace_back();
        FUNGEN_RETURN_IF_ERROR(read_string(f, "NodeProto.output", node.outputs.back()));
        break;
      case 3:
        FUNGEN_RETURN_IF_ERROR(read_string(f, "NodeProto.name", node.name));
        break;
      case 4:
        FUNGEN_RETURN_IF_ERROR(read_string(f, "NodeProto.op_type", node.op_type));
        break;
      case 7:
        FUNGEN_RETURN_IF_ERROR(read_string(f, "NodeProto.domain", node.domain));
        break;
      case 5: {
        FUNGEN_ASSIGN_OR_RETURN(Reader attr_reader, r.nested(f));
        std::string name;
        Attribute attr;
        Status s = read_attribute(attr_reader, name, attr);
        if (s.ok()) {
          node.attributes.emplace_back(std::move(name), std::move(attr));
        } else if (attr_error.ok()) {
          attr_error = s;
        }
        break;
      }
      default:
        break;  // doc_string, metadata_props
    }
  }
  if (!attr_error.ok()) return attr_error.with_context(node_label(node, index));
  if (node.op_type.empty()) return corrupt(node_label(node, index) + " has no op_type");
  return Status();
}

Status read_graph(Reader r, RawGraph& g) {
  Field f;
  while (!r.at_end()) {
    FUNGEN_RETURN_IF_ERROR(r.next(f));
    switch (f.number) {
      case 1: {
        FUNGEN_ASSIGN_OR_RETURN(Reader node, r.nested(f));
        g.nodes.emplace_back();
        FUNGEN_RETURN_IF_ERROR(read_node(node, g.nodes.size() - 1, g.nodes.back()));
        break;
      }
      case 2:
        FUNGEN_RETURN_IF_ERROR(read_string(f, "GraphProto.name", g.name));
        break;
      case 5: {
        FUNGEN_ASSIGN_OR_RETURN(Reader tensor, r.nested(f));
        std::string name;
        Result<Tensor> t = read_tensor(tensor, &name);
        if (!t.ok()) {
          if (t.status().code() == StatusCode::kUnsupported) return t.status();
          return t.status().with_context("initializer " + std::to_string(g.initializers.size()));
        }
        g.initializers.emplace_back(std::move(name), std::move(t).value());
        break;
      }
      case 11:
      case 12:
      case 13: {
        FUNGEN_ASSIGN_OR_RETURN(Reader info_reader, r.nested(f));
        RawValueInfo info;
        FUNGEN_RETURN_IF_ERROR(read_value_info(info_reader, info));
        if (f.number == 11) g.inputs.push_back(std::move(info));
        if (f.number == 12) g.outputs.push_back(std::move(info));
        break;  // value_info (13): checked for well-formedness, otherwise unused
      }
      case 15:
        FUNGEN_RETURN_IF_ERROR(
            proto::expect_wire(f, WireType::kLengthDelimited, "GraphProto.sparse_initializer"));
        ++g.sparse_initializers;
        break;
      default:
        break;  // doc_string, quantization_annotation, metadata_props
    }
  }
  return Status();
}

}  // namespace

Status read_model(Reader r, RawModel& m) {
  Field f;
  while (!r.at_end()) {
    FUNGEN_RETURN_IF_ERROR(r.next(f));
    switch (f.number) {
      case 1:
        FUNGEN_RETURN_IF_ERROR(read_varint_field(f, "ModelProto.ir_version", m.ir_version));
        break;
      case 2:
        FUNGEN_RETURN_IF_ERROR(read_string(f, "ModelProto.producer_name", m.producer_name));
        break;
      case 3:
        FUNGEN_RETURN_IF_ERROR(read_string(f, "ModelProto.producer_version", m.producer_version));
        break;
      case 7: {
        if (m.has_graph) return corrupt("the model holds more than one graph");
        m.has_graph = true;
        FUNGEN_ASSIGN_OR_RETURN(Reader graph, r.nested(f));
        FUNGEN_RETURN_IF_ERROR(read_graph(graph, m.graph));
        break;
      }
      case 8: {  // OperatorSetIdProto {domain = 1; version = 2}
        FUNGEN_ASSIGN_OR_RETURN(Reader opset, r.nested(f));
        std::string domain;
        int64_t version = 0;
        Field o;
        while (!opset.at_end()) {
          FUNGEN_RETURN_IF_ERROR(opset.next(o));
          if (o.number == 1)
            FUNGEN_RETURN_IF_ERROR(read_string(o, "OperatorSetIdProto.domain", domain));
          if (o.number == 2)
            FUNGEN_RETURN_IF_ERROR(read_varint_field(o, "OperatorSetIdProto.version", version));
        }
        m.opset_imports.emplace_back(std::move(domain), version);
        break;
      }
      case 14: {
        FUNGEN_ASSIGN_OR_RETURN(Reader entry, r.nested(f));
        std::string key, value;
        FUNGEN_RETURN_IF_ERROR(read_string_pair(entry, key, value));
        m.metadata[key] = std::move(value);
        break;
      }
      default:
        break;  // domain, model_version, doc_string, training_info, functions
    }
  }
  return Status();
}

}  // namespace fungen::onnx_detail
