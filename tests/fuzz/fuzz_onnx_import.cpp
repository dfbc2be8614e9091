// fuzz_onnx_import — libFuzzer target: arbitrary bytes into the ONNX importer.
//
//   scripts/run_fuzz.sh                       # builds build-fuzz/, runs 60 s from a seed corpus
//   build-fuzz/bin/fuzz_onnx_import crash-xxx # replays one input
//
// Any input must give either a Graph or a Status: no crash, leak, hang, sanitizer report or
// allocation beyond what the input size justifies. On success, the guarantees documented in
// src/onnx/onnx_import.h are checked here too, and a violation aborts.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "fungen/log.h"
#include "onnx/onnx_import.h"

namespace {

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_onnx_import: importer guarantee violated: %s\n", what);
  std::abort();
}

void check_graph_invariants(const fungen::Graph& g) {
  const int num_values = static_cast<int>(g.values.size());
  std::vector<bool> defined(g.values.size(), false);
  for (int in : g.inputs) {
    check(in >= 0 && in < num_values, "graph input id in range");
    check(!g.values[static_cast<size_t>(in)].is_constant(), "runtime input is not a constant");
    defined[static_cast<size_t>(in)] = true;
  }
  for (size_t v = 0; v < g.values.size(); ++v) {
    if (g.values[v].is_constant()) {
      const fungen::Tensor& t = *g.values[v].constant;
      check(reinterpret_cast<uintptr_t>(t.raw()) % 64 == 0, "constant data is 64-byte aligned");
      defined[v] = true;
    }
  }
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const fungen::Node& node = g.nodes[n];
    check(node.domain.empty(), "only default-domain nodes are imported");
    for (int in : node.inputs) {
      check(in >= -1 && in < num_values, "node input id in range");
      if (in >= 0) check(defined[static_cast<size_t>(in)], "nodes are in topological order");
    }
    for (int out : node.outputs) {
      check(out >= -1 && out < num_values, "node output id in range");
      if (out < 0) continue;
      check(!defined[static_cast<size_t>(out)], "every value is defined once");
      check(g.values[static_cast<size_t>(out)].producer == static_cast<int>(n), "producer set");
      defined[static_cast<size_t>(out)] = true;
    }
  }
  check(!g.outputs.empty(), "the graph has outputs");
  for (int out : g.outputs) {
    check(out >= 0 && out < num_values && defined[static_cast<size_t>(out)], "outputs defined");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fungen::set_log_level(fungen::LogLevel::kError);
  std::span<const uint8_t> bytes(data, size);

  fungen::Result<fungen::Graph> graph = fungen::import_onnx_model(bytes, "<fuzz>");
  if (graph.ok()) {
    check_graph_invariants(graph.value());
    // FUZZ-PASSES: once the fuzz build links the op table and passes, run them here too, e.g.
    //   (void)fungen::bind_schemas(graph.value());
  } else {
    check(!graph.status().message().empty(), "errors carry a message");
  }

  // The same bytes as a lone TensorProto (the ONNX test-data input_N.pb path).
  fungen::Result<fungen::Tensor> tensor = fungen::parse_tensor_proto(bytes);
  if (tensor.ok() && tensor->numel() > 0) {
    // Every element costs at least one input byte, so allocation is bounded by the input.
    check(static_cast<size_t>(tensor->numel()) <= size, "tensor size justified by the input");
  }
  return 0;
}
