// The ONNX importer on models built byte by byte (tests/unit/test_onnx_writer.h).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "onnx/onnx_import.h"
#include "unit/test_onnx_writer.h"

namespace fungen {
namespace {

using namespace onnx_test;

constexpr int32_t kFloat = 1, kUInt8 = 2, kInt8 = 3, kUInt16 = 4, kInt16 = 5, kInt32 = 6,
                  kInt64 = 7, kString = 8, kBool = 9, kFloat16 = 10, kDouble = 11, kUInt32 = 12,
                  kUInt64 = 13;

// x[1,N,3] + w[3] -> y, with metadata; the graph is the last field of the file.
Pb small_model() {
  Pb g;
  g.msg(1, node("Add", {"x", "w"}, {"y"}, "add0"))
      .bytes(2, "main")
      .msg(5, tensor_raw("w", kFloat, {3}, le_bytes<float>({1.f, 2.f, 3.f})))
      .msg(11, value_info("x", kFloat, {int64_t{1}, std::string("N"), int64_t{3}}))
      .msg(12, value_info("y", kFloat, {int64_t{1}, std::string("N"), int64_t{3}}));
  Pb opset;
  opset.bytes(1, "").sint(2, 17);
  Pb names, stride;
  names.bytes(1, "names").bytes(2, "{0: 'person'}");
  stride.bytes(1, "stride").bytes(2, "32");
  Pb m;
  m.varint(1, 8).bytes(2, "pytorch").bytes(3, "2.3.0").msg(8, opset).msg(14, names).msg(14, stride);
  return m.msg(7, g);
}

Result<Graph> import(const Pb& model_bytes) {
  std::vector<uint8_t> bytes = model_bytes.data();
  return import_onnx_model(bytes, "test.onnx");
}

// A model with one node `n` reading x (and the given initializers) and writing y.
Pb one_node_model(const Pb& n, std::initializer_list<Pb> initializers = {}) {
  Pb g;
  g.msg(1, n);
  for (const Pb& t : initializers) g.msg(5, t);
  g.msg(11, value_info("x", kFloat, {int64_t{2}})).msg(12, value_info("y", kFloat, {int64_t{2}}));
  return model(g);
}

Tensor import_tensor(const Pb& t) {
  std::vector<uint8_t> bytes = t.data();
  Result<Tensor> r = parse_tensor_proto(bytes);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? r.value() : Tensor();
}

TEST(OnnxImport, SmallModelFields) {
  Result<Graph> r = import(small_model());
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Graph& g = r.value();
  EXPECT_EQ(g.opset, 17);
  EXPECT_EQ(g.ir_version, 8);
  EXPECT_EQ(g.producer_name, "pytorch");
  EXPECT_EQ(g.producer_version, "2.3.0");
  EXPECT_EQ(g.graph_name, "main");
  EXPECT_EQ(g.metadata.at("names"), "{0: 'person'}");
  EXPECT_EQ(g.metadata.at("stride"), "32");

  ASSERT_EQ(g.inputs.size(), 1u);
  const Value& x = g.values[static_cast<size_t>(g.inputs[0])];
  EXPECT_EQ(x.name, "x");
  EXPECT_EQ(x.dtype, DType::kFloat32);
  EXPECT_FALSE(x.is_constant());
  ASSERT_TRUE(x.declared_shape);
  ASSERT_EQ(x.declared.size(), 3u);
  EXPECT_EQ(x.declared[0].size, 1);
  EXPECT_EQ(x.declared[1].size, -1);
  EXPECT_EQ(x.declared[1].symbol, "N");
  EXPECT_EQ(x.declared[2].size, 3);

  int w = g.find_value("w");
  ASSERT_GE(w, 0);
  const Value& wv = g.values[static_cast<size_t>(w)];
  ASSERT_TRUE(wv.is_constant());
  EXPECT_TRUE(wv.shape_known);
  EXPECT_EQ(wv.shape, Shape{3});
  EXPECT_EQ(reinterpret_cast<uintptr_t>(wv.constant->raw()) % 64, 0u);
  EXPECT_EQ(wv.constant->data<float>()[2], 3.f);

  ASSERT_EQ(g.nodes.size(), 1u);
  const Node& n = g.nodes[0];
  EXPECT_EQ(n.name, "add0");
  EXPECT_EQ(n.op_type, "Add");
  EXPECT_EQ(n.domain, "");
  EXPECT_EQ(n.inputs, (std::vector<int>{g.inputs[0], w}));
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(n.outputs, std::vector<int>{g.outputs[0]});
  EXPECT_EQ(g.values[static_cast<size_t>(g.outputs[0])].producer, 0);
  EXPECT_EQ(g.values[static_cast<size_t>(g.outputs[0])].dtype, DType::kFloat32);
}

TEST(OnnxImport, EveryAttributeKind) {
  Pb floats_packed, floats_unpacked, ints_packed, ints_unpacked, strings, graph_attr;
  floats_packed.bytes(1, "fp").packed_floats(7, {0.5f, -1.f}).varint(20, 6);
  floats_unpacked.bytes(1, "fu").f32(7, 1.5f).f32(7, 2.5f).varint(20, 6);
  ints_packed.bytes(1, "ip").packed_varints(8, {1, -2, 3}).varint(20, 7);
  ints_unpacked.bytes(1, "iu").sint(8, -7).sint(8, 9).varint(20, 7);
  strings.bytes(1, "ss").bytes(9, "a").bytes(9, "bc").varint(20, 8);
  Pb body;
  body.msg(1, node("Identity", {"q"}, {"r"}));
  graph_attr.bytes(1, "g").msg(6, body).varint(20, 5);
  Pb untyped;  // IR v1 style: no `type` field; the kind comes from the value field
  untyped.bytes(1, "legacy").sint(3, 42);
  Pb n = node(
      "Custom", {"x"}, {"y"}, "n0",
      {attr_int("i", -3), attr_float("f", 0.25f), attr_string("s", "hello"),
       attr_tensor("t", tensor_raw("", kInt64, {2}, le_bytes<int64_t>({5, -6}))), floats_packed,
       floats_unpacked, ints_packed, ints_unpacked, strings, graph_attr, untyped});
  Result<Graph> r = import(one_node_model(n));
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Node& node0 = r->nodes[0];
  using Kind = Attribute::Kind;
  EXPECT_EQ(node0.attr("i")->kind, Kind::kInt);
  EXPECT_EQ(node0.attr_int("i", 0), -3);
  EXPECT_EQ(node0.attr_float("f", 0), 0.25f);
  EXPECT_EQ(node0.attr_string("s", ""), "hello");
  const Attribute* t = node0.attr("t");
  ASSERT_EQ(t->kind, Kind::kTensor);
  EXPECT_EQ(t->t.dtype(), DType::kInt64);
  EXPECT_EQ(t->t.data<int64_t>()[1], -6);
  EXPECT_EQ(node0.attr_floats("fp"), (std::vector<float>{0.5f, -1.f}));
  EXPECT_EQ(node0.attr_floats("fu"), (std::vector<float>{1.5f, 2.5f}));
  EXPECT_EQ(node0.attr_ints("ip"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(node0.attr_ints("iu"), (std::vector<int64_t>{-7, 9}));
  EXPECT_EQ(node0.attr("ss")->strings, (std::vector<std::string>{"a", "bc"}));
  EXPECT_EQ(node0.attr("g")->kind, Kind::kGraph);
  EXPECT_EQ(node0.attr_int("legacy", 0), 42);
}

TEST(OnnxImport, UnsupportedAttributeKindNamesTheNode) {
  Pb tensors;
  tensors.bytes(1, "ts").msg(10, tensor_raw("", kFloat, {1}, le_bytes<float>({1.f}))).varint(20, 9);
  Result<Graph> r = import(one_node_model(node("Weird", {"x"}, {"y"}, "w0", {tensors})));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(r.status().message().find("'w0'"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("TENSORS"), std::string::npos) << r.status().message();
}

TEST(OnnxImport, RawDataEveryDtype) {
  Tensor f = import_tensor(tensor_raw("f", kFloat, {2}, le_bytes<float>({1.5f, -2.f})));
  EXPECT_EQ(f.data<float>()[1], -2.f);
  Tensor d = import_tensor(tensor_raw("d", kDouble, {1}, le_bytes<double>({0.125})));
  EXPECT_EQ(d.data<double>()[0], 0.125);
  Tensor i8 = import_tensor(tensor_raw("i8", kInt8, {2}, le_bytes<int8_t>({-5, 7})));
  EXPECT_EQ(i8.data<int8_t>()[0], -5);
  Tensor u16 = import_tensor(tensor_raw("u16", kUInt16, {1}, le_bytes<uint16_t>({60000})));
  EXPECT_EQ(u16.data<uint16_t>()[0], 60000);
  Tensor i64 = import_tensor(tensor_raw("i64", kInt64, {2, 1}, le_bytes<int64_t>({-1, 1LL << 40})));
  EXPECT_EQ(i64.shape(), (Shape{2, 1}));
  EXPECT_EQ(i64.data<int64_t>()[1], 1LL << 40);
  Tensor b = import_tensor(tensor_raw("b", kBool, {3}, std::string("\x01\x00\x01", 3)));
  EXPECT_EQ(b.dtype(), DType::kBool);
  EXPECT_EQ(b.data<uint8_t>()[1], 0);
  Tensor scalar = import_tensor(tensor_raw("s", kInt32, {}, le_bytes<int32_t>({-9})));
  EXPECT_EQ(scalar.rank(), 0);
  EXPECT_EQ(scalar.data<int32_t>()[0], -9);
  Tensor empty = import_tensor(tensor_raw("e", kFloat, {0, 4}, ""));
  EXPECT_EQ(empty.numel(), 0);
}

TEST(OnnxImport, TypedDataFields) {
  Tensor f = import_tensor(tensor_header("f", kFloat, {2}).packed_floats(4, {1.f, 2.f}));
  EXPECT_EQ(f.data<float>()[1], 2.f);
  Tensor fu = import_tensor(tensor_header("fu", kFloat, {2}).f32(4, 3.f).f32(4, 4.f));
  EXPECT_EQ(fu.data<float>()[1], 4.f);
  Tensor i32 = import_tensor(tensor_header("i32", kInt32, {2}).packed_varints(5, {-1, 100000}));
  EXPECT_EQ(i32.data<int32_t>()[0], -1);
  Tensor i8 = import_tensor(tensor_header("i8", kInt8, {2}).packed_varints(5, {-128, 127}));
  EXPECT_EQ(i8.data<int8_t>()[0], -128);
  Tensor u8 = import_tensor(tensor_header("u8", kUInt8, {1}).packed_varints(5, {255}));
  EXPECT_EQ(u8.data<uint8_t>()[0], 255);
  Tensor i16 = import_tensor(tensor_header("i16", kInt16, {1}).sint(5, -300));
  EXPECT_EQ(i16.data<int16_t>()[0], -300);
  Tensor u16 = import_tensor(tensor_header("u16", kUInt16, {1}).sint(5, 65535));
  EXPECT_EQ(u16.data<uint16_t>()[0], 65535);
  Tensor b = import_tensor(tensor_header("b", kBool, {2}).packed_varints(5, {1, 0}));
  EXPECT_EQ(b.data<uint8_t>()[0], 1);
  Tensor h = import_tensor(tensor_header("h", kFloat16, {1}).sint(5, 0x3c00));  // 1.0 in fp16
  EXPECT_EQ(h.data<uint16_t>()[0], 0x3c00);
  Tensor i64 =
      import_tensor(tensor_header("i64", kInt64, {3}).packed_varints(7, {-1, 0, 1LL << 50}));
  EXPECT_EQ(i64.data<int64_t>()[2], 1LL << 50);
  Tensor d =
      import_tensor(tensor_header("d", kDouble, {1}).fixed64(10, std::bit_cast<uint64_t>(2.5)));
  EXPECT_EQ(d.data<double>()[0], 2.5);
  Tensor u32 = import_tensor(tensor_header("u32", kUInt32, {1}).varint(11, 4000000000u));
  EXPECT_EQ(u32.data<uint32_t>()[0], 4000000000u);
  Tensor u64 = import_tensor(tensor_header("u64", kUInt64, {1}).varint(11, ~uint64_t{0}));
  EXPECT_EQ(u64.data<uint64_t>()[0], ~uint64_t{0});
}

TEST(OnnxImport, ElementCountMismatchNamesTheTensor) {
  for (const Pb& t : {tensor_raw("bad_w", kFloat, {2, 3}, le_bytes<float>({1.f, 2.f})),
                      tensor_header("bad_w", kInt64, {4}).packed_varints(7, {1, 2, 3}),
                      tensor_header("bad_w", kFloat, {2})}) {
    Result<Graph> r = import(one_node_model(node("Add", {"x", "bad_w"}, {"y"}), {t}));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kCorrupt);
    EXPECT_NE(r.status().message().find("bad_w"), std::string::npos) << r.status().message();
  }
  // Typed data in the field of another type.
  std::vector<uint8_t> bytes = tensor_header("mixed", kInt64, {1}).packed_floats(4, {1.f}).data();
  EXPECT_EQ(parse_tensor_proto(bytes).status().code(), StatusCode::kCorrupt);
  // Dims that overflow, and negative dims.
  bytes = tensor_raw("huge", kFloat, {1LL << 40, 1LL << 40, 0}, "").data();
  EXPECT_EQ(parse_tensor_proto(bytes).status().code(), StatusCode::kCorrupt);
  bytes = tensor_raw("neg", kFloat, {-1}, "").data();
  EXPECT_EQ(parse_tensor_proto(bytes).status().code(), StatusCode::kCorrupt);
}

TEST(OnnxImport, ExternalDataIsRejected) {
  Pb location, t1;
  location.bytes(1, "location").bytes(2, "weights.bin");
  t1.sint(1, 3).varint(2, kFloat).bytes(8, "w").msg(13, location).varint(14, 1);
  Pb t2;  // data_location = EXTERNAL without entries
  t2.sint(1, 3).varint(2, kFloat).bytes(8, "w").varint(14, 1);
  for (const Pb& t : {t1, t2}) {
    Result<Graph> r = import(one_node_model(node("Add", {"x", "w"}, {"y"}), {t}));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
    EXPECT_NE(r.status().message().find("model uses external data"), std::string::npos);
    EXPECT_NE(r.status().message().find("re-export with the weights inside the .onnx"),
              std::string::npos);
  }
  Result<Graph> r = import(one_node_model(node("Add", {"x", "w"}, {"y"}), {t1}));
  EXPECT_NE(r.status().message().find("weights.bin"), std::string::npos) << r.status().message();
}

TEST(OnnxImport, OtherUnsupportedTensors) {
  Pb str;
  str.sint(1, 1).varint(2, kString).bytes(6, "hello");
  std::vector<uint8_t> bytes = str.data();
  EXPECT_EQ(parse_tensor_proto(bytes).status().code(), StatusCode::kUnsupported);
  bytes = tensor_raw("f8", 17, {1}, "x").data();
  Result<Tensor> f8 = parse_tensor_proto(bytes);
  EXPECT_EQ(f8.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(f8.status().message().find("FLOAT8E4M3FN"), std::string::npos);

  Pb sparse;
  sparse.msg(1, tensor_raw("v", kFloat, {1}, le_bytes<float>({1.f})));
  Pb g;
  g.msg(1, node("Relu", {"x"}, {"y"}))
      .msg(15, sparse)
      .msg(11, value_info("x", kFloat, {int64_t{1}}))
      .msg(12, value_info("y", kFloat, {int64_t{1}}));
  EXPECT_EQ(import(model(g)).status().code(), StatusCode::kUnsupported);
}

TEST(OnnxImport, Domains) {
  Pb g;
  g.msg(1, node("FusedConv", {"x"}, {"y"}, "fc1", {}, "com.microsoft"))
      .msg(11, value_info("x", kFloat, {int64_t{1}}))
      .msg(12, value_info("y", kFloat, {int64_t{1}}));
  Result<Graph> r = import(model(g));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(r.status().message().find("com.microsoft"), std::string::npos);
  EXPECT_NE(r.status().message().find("fc1"), std::string::npos);

  // ai.onnx.ml imported but unused is fine; "ai.onnx" on a node is the default domain.
  Pb g2;
  g2.msg(1, node("Relu", {"x"}, {"y"}, "", {}, "ai.onnx"))
      .msg(11, value_info("x", kFloat, {int64_t{1}}))
      .msg(12, value_info("y", kFloat, {int64_t{1}}));
  Pb ml, onnx;
  ml.bytes(1, "ai.onnx.ml").sint(2, 3);
  onnx.bytes(1, "ai.onnx").sint(2, 13);
  Pb m;
  m.varint(1, 7).msg(8, ml).msg(8, onnx).msg(7, g2);
  Result<Graph> r2 = import(m);
  ASSERT_TRUE(r2.ok()) << r2.status().message();
  EXPECT_EQ(r2->opset, 13);
  EXPECT_EQ(r2->nodes[0].domain, "");
}

TEST(OnnxImport, MissingAiOnnxOpset) {
  auto relu_graph = [](const std::string& domain) {
    Pb g;
    g.msg(1, node("Relu", {"x"}, {"y"}, "r", {}, domain))
        .msg(11, value_info("x", kFloat, {int64_t{1}}))
        .msg(12, value_info("y", kFloat, {int64_t{1}}));
    return g;
  };
  Pb training;
  training.bytes(1, "ai.onnx.preview.training").sint(2, 1);
  Pb only_custom;  // no ai.onnx import, a node of another domain: unsupported, not corrupt
  only_custom.varint(1, 8).msg(8, training).msg(7, relu_graph("ai.onnx.preview.training"));
  EXPECT_EQ(import(only_custom).status().code(), StatusCode::kUnsupported);
  Pb no_opset;  // IR 8 with an ai.onnx node and no ai.onnx import
  no_opset.varint(1, 8).msg(7, relu_graph(""));
  EXPECT_EQ(import(no_opset).status().code(), StatusCode::kCorrupt);
  Pb ir2;  // before IR v3 there was no opset_import: opset 1
  ir2.varint(1, 2).msg(7, relu_graph(""));
  Result<Graph> r = import(ir2);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->opset, 1);
}

TEST(OnnxImport, TruncationAtEveryOffsetFails) {
  const std::string full = small_model().str();
  ASSERT_TRUE(import(small_model()).ok());
  for (size_t n = 0; n < full.size(); ++n) {
    std::vector<uint8_t> prefix(full.begin(), full.begin() + static_cast<ptrdiff_t>(n));
    Result<Graph> r = import_onnx_model(prefix, "cut.onnx");
    ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes imported";
    EXPECT_EQ(r.status().code(), StatusCode::kCorrupt) << r.status().message();
    EXPECT_NE(r.status().message().find("cut.onnx is not an ONNX model ("), std::string::npos)
        << r.status().message();
  }
}

TEST(OnnxImport, GarbageIsNotAnOnnxModel) {
  for (std::string junk : {std::string(), std::string("hello world, not a model\n"),
                           std::string("PK\x03\x04\x14\x00\x00\x00", 8), std::string(64, '\xff')}) {
    std::vector<uint8_t> bytes(junk.begin(), junk.end());
    Result<Graph> r = import_onnx_model(bytes, "junk.onnx");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kCorrupt);
    EXPECT_NE(r.status().message().find("junk.onnx is not an ONNX model"), std::string::npos)
        << r.status().message();
  }
  std::vector<uint8_t> zip = {'P', 'K', 3, 4, 0x14, 0, 0, 0};
  EXPECT_NE(import_onnx_model(zip, "m.pt").status().message().find("zip"), std::string::npos);
}

TEST(OnnxImport, UnknownFieldsAreSkipped) {
  Pb g;
  Pb n = node("Relu", {"x"}, {"y"});
  n.varint(900, 5).bytes(901, "junk").fixed32(902, 1).fixed64(903, 2);
  g.msg(1, n)
      .varint(999, 1)
      .bytes(998, "zzz")
      .msg(11, value_info("x", kFloat, {int64_t{1}}))
      .msg(12, value_info("y", kFloat, {int64_t{1}}));
  Pb m = model(g);
  m.varint(777, 3).bytes(778, "more");
  Result<Graph> r = import(m);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->nodes.size(), 1u);
}

TEST(OnnxImport, NodesOutOfOrderAreSorted) {
  Pb g;
  g.msg(1, node("Relu", {"b"}, {"y"}, "second"))
      .msg(1, node("Relu", {"a"}, {"b"}, "first"))
      .msg(1, node("Relu", {"x"}, {"a"}, "zeroth"))
      .msg(11, value_info("x", kFloat, {int64_t{1}}))
      .msg(12, value_info("y", kFloat, {int64_t{1}}));
  Result<Graph> r = import(model(g));
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->nodes.size(), 3u);
  EXPECT_EQ(r->nodes[0].name, "zeroth");
  EXPECT_EQ(r->nodes[1].name, "first");
  EXPECT_EQ(r->nodes[2].name, "second");
  EXPECT_EQ(r->values[static_cast<size_t>(r->find_value("b"))].producer, 1);
}

TEST(OnnxImport, StructuralErrors) {
  auto io = [](Pb g) {
    g.msg(11, value_info("x", kFloat, {int64_t{1}})).msg(12, value_info("y", kFloat, {int64_t{1}}));
    return g;
  };
  Pb cycle, undefined, dup, no_out;
  cycle.msg(1, node("Add", {"x", "b"}, {"a"}, "c1"))
      .msg(1, node("Relu", {"a"}, {"b"}, "c2"))
      .msg(1, node("Relu", {"a"}, {"y"}));
  undefined.msg(1, node("Add", {"x", "nowhere"}, {"y"}, "u1"));
  dup.msg(1, node("Relu", {"x"}, {"y"}, "d1")).msg(1, node("Relu", {"x"}, {"y"}, "d2"));
  no_out.msg(1, node("Relu", {"x"}, {"z"}));
  struct Case {
    Pb graph;
    const char* expect;
  };
  for (const Case& c : {Case{io(cycle), "cycle"}, Case{io(undefined), "nowhere"},
                        Case{io(dup), "already defined"}, Case{io(no_out), "graph output 'y'"}}) {
    Result<Graph> r = import(model(c.graph));
    ASSERT_FALSE(r.ok()) << c.expect;
    EXPECT_EQ(r.status().code(), StatusCode::kCorrupt);
    EXPECT_NE(r.status().message().find(c.expect), std::string::npos) << r.status().message();
  }
}

TEST(OnnxImport, InitializerInputsAreConstantsAndEmptyNamesAreOmitted) {
  Pb g;
  g.msg(1, node("Clip", {"x", "", "hi"}, {"y", ""}))
      .msg(5, tensor_raw("hi", kFloat, {}, le_bytes<float>({6.f})))
      .msg(11, value_info("x", kFloat, {int64_t{1}}))
      .msg(11, value_info("hi", kFloat, {}))
      .msg(12, value_info("y", kFloat, {int64_t{1}}));
  Result<Graph> r = import(model(g));
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->inputs.size(), 1u);
  EXPECT_EQ(r->values[static_cast<size_t>(r->inputs[0])].name, "x");
  const Node& n = r->nodes[0];
  EXPECT_EQ(n.inputs[1], -1);
  EXPECT_EQ(n.inputs[2], r->find_value("hi"));
  EXPECT_EQ(n.outputs[1], -1);
}

TEST(OnnxImport, FileErrors) {
  Result<Graph> missing = import_onnx_file("/nonexistent/dir/model.onnx");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("/nonexistent/dir/model.onnx"), std::string::npos);

  std::string path = ::testing::TempDir() + "fungen_onnx_import_test.onnx";
  {
    std::ofstream f(path, std::ios::binary);
    f << small_model().str();
  }
  Result<Graph> ok = import_onnx_file(path);
  EXPECT_TRUE(ok.ok()) << ok.status().message();
  { std::ofstream f(path, std::ios::binary | std::ios::trunc); }
  Result<Graph> empty = import_onnx_file(path);
  EXPECT_EQ(empty.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(empty.status().message().find("is not an ONNX model"), std::string::npos);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace fungen
