// make_seed_corpus DIR — writes small valid ONNX models (and TensorProtos) into DIR, covering
// every field kind the importer reads, as starting points for fuzz_onnx_import. Generated at
// run time by scripts/run_fuzz.sh so nothing binary is committed.
#include <cstdio>
#include <fstream>
#include <string>

#include "unit/test_onnx_writer.h"

using namespace onnx_test;

namespace {

constexpr int32_t kFloat = 1, kUInt8 = 2, kInt8 = 3, kInt32 = 6, kInt64 = 7, kBool = 9,
                  kFloat16 = 10, kDouble = 11, kUInt64 = 13;

Pb io(Pb g, const std::string& in = "x", const std::string& out = "y") {
  g.msg(11, value_info(in, kFloat, {int64_t{1}, std::string("N"), int64_t{3}}))
      .msg(12, value_info(out, kFloat, {int64_t{1}, std::string("N"), int64_t{3}}));
  return g;
}

Pb with_metadata(Pb m) {
  Pb a, b;
  a.bytes(1, "names").bytes(2, "{0: 'person', 1: 'bicycle'}");
  b.bytes(1, "imgsz").bytes(2, "[640, 640]");
  return m.msg(14, a).msg(14, b);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  int count = 0;
  auto write = [&](const std::string& name, const Pb& pb) {
    std::ofstream f(dir + "/" + name, std::ios::binary);
    f << pb.str();
    ++count;
  };

  // One node with an initializer.
  Pb add;
  add.msg(1, node("Add", {"x", "w"}, {"y"}, "add0"))
      .msg(5, tensor_raw("w", kFloat, {3}, le_bytes<float>({1.f, 2.f, 3.f})));
  write("add.onnx", with_metadata(model(io(add))));

  // A chain out of order, with every attribute kind and typed initializers.
  Pb floats, ints, strings, graph_attr;
  floats.bytes(1, "scales").packed_floats(7, {1.f, 2.f}).varint(20, 6);
  ints.bytes(1, "pads").packed_varints(8, {0, 1, 0, 1}).varint(20, 7);
  strings.bytes(1, "names").bytes(9, "a").bytes(9, "b").varint(20, 8);
  Pb body;
  body.msg(1, node("Identity", {"p"}, {"q"}));
  graph_attr.bytes(1, "then_branch").msg(6, body).varint(20, 5);
  Pb chain;
  chain.msg(1, node("Relu", {"b"}, {"y"}, "last"))
      .msg(1,
           node("Conv", {"x", "k", ""}, {"a"}, "conv",
                {attr_int("group", 1), attr_float("alpha", 0.5f), attr_string("auto_pad", "NOTSET"),
                 attr_tensor("value", tensor_raw("", kInt64, {1}, le_bytes<int64_t>({3}))), floats,
                 ints, strings, graph_attr}))
      .msg(1, node("Mul", {"a", "s"}, {"b"}, "mul"))
      .msg(5, tensor_header("k", kFloat, {1, 1, 1, 1}).packed_floats(4, {2.f}))
      .msg(5, tensor_header("s", kInt32, {2}).packed_varints(5, {-1, 7}))
      .msg(5, tensor_header("i8", kInt8, {2}).packed_varints(5, {-3, 4}))
      .msg(5, tensor_header("u8", kUInt8, {1}).sint(5, 200))
      .msg(5, tensor_header("b", kBool, {1}).sint(5, 1))
      .msg(5, tensor_header("h", kFloat16, {1}).sint(5, 0x3c00))
      .msg(5, tensor_header("l", kInt64, {2}).packed_varints(7, {-5, 1LL << 40}))
      .msg(5, tensor_header("d", kDouble, {1}).fixed64(10, 0x4004000000000000ull))
      .msg(5, tensor_header("u", kUInt64, {1}).varint(11, 99))
      .msg(11, value_info("k", kFloat, {int64_t{1}, int64_t{1}, int64_t{1}, int64_t{1}}));
  write("chain.onnx", with_metadata(model(io(chain), 13)));

  // Optional inputs/outputs, ai.onnx.ml import, "ai.onnx" node domain.
  Pb clip;
  clip.msg(1, node("Clip", {"x", "", "hi"}, {"y", ""}, "clip", {}, "ai.onnx"))
      .msg(5, tensor_raw("hi", kFloat, {}, le_bytes<float>({6.f})));
  Pb ml, onnx;
  ml.bytes(1, "ai.onnx.ml").sint(2, 3);
  onnx.bytes(1, "ai.onnx").sint(2, 19);
  Pb m;
  m.varint(1, 9).bytes(2, "onnx").msg(8, ml).msg(8, onnx).msg(7, io(clip));
  write("clip.onnx", m);

  // Near-misses the importer must reject cleanly.
  Pb ext_entry, ext;
  ext_entry.bytes(1, "location").bytes(2, "w.bin");
  ext.sint(1, 3).varint(2, kFloat).bytes(8, "w").msg(13, ext_entry).varint(14, 1);
  Pb ext_graph;
  ext_graph.msg(1, node("Add", {"x", "w"}, {"y"})).msg(5, ext);
  write("external.onnx", model(io(ext_graph)));
  Pb custom;
  custom.msg(1, node("FusedConv", {"x"}, {"y"}, "fc", {}, "com.microsoft"));
  write("custom_domain.onnx", model(io(custom)));

  // Lone TensorProtos, as in the ONNX test data.
  write("tensor_raw.pb", tensor_raw("t", kFloat, {2, 2}, le_bytes<float>({1.f, 2.f, 3.f, 4.f})));
  write("tensor_typed.pb", tensor_header("t", kInt64, {3}).packed_varints(7, {1, 2, 3}));

  std::printf("wrote %d seed files to %s\n", count, dir.c_str());
  return 0;
}
