// exported_graph.h — the exported test models and their graphs as the cuda backend sees them,
// for the host-side tests of its graph matchers (head match, anchor-major head rows, attention).
#pragma once

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "graph/passes/fusions.h"
#include "graph/passes/passes.h"
#include "runtime/backend.h"

namespace fungen::test {

// FUNGEN_TEST_MODELS (default ~/.cache/fungen/models/a56ef39f66a55338): the exported test models.
inline std::string test_models_dir() {
  if (const char* d = std::getenv("FUNGEN_TEST_MODELS")) return d;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "") + "/.cache/fungen/models/a56ef39f66a55338";
}

// The image size an export's name gives ("..._384x640_..."), 640x640 otherwise.
inline std::pair<int64_t, int64_t> export_hw(const std::string& name) {
  std::pair<int64_t, int64_t> hw = {640, 640};
  if (const size_t x = name.find("x640"); x != std::string::npos && x >= 3)
    hw.first = std::atoll(name.substr(x - 3, 3).c_str());
  return hw;
}

// The graph as the cuda backend sees it: specialized for `batch` (and image size hw when its
// input declares none), folded, fused.
inline Graph prepared(Graph g, int64_t batch, std::pair<int64_t, int64_t> hw = {0, 0}) {
  EXPECT_TRUE(bind_schemas(g).ok());
  std::vector<Shape> shapes;
  for (int id : g.inputs) {
    Shape s;
    for (const DeclaredDim& d : g.values[static_cast<size_t>(id)].declared) s.push_back(d.size);
    s[0] = batch;
    if (s.size() == 4 && s[2] <= 0) s[2] = hw.first;
    if (s.size() == 4 && s[3] <= 0) s[3] = hw.second;
    shapes.push_back(s);
  }
  Status st = specialize_shapes(g, shapes);
  EXPECT_TRUE(st.ok()) << st.message();
  remove_dead_nodes(g);
  run_fusions(g);
  return g;
}

// The whole graph as one run of nodes (what a matcher's RunView takes).
inline NodeRun whole_run(const Graph& g) {
  NodeRun run;
  run.first = 0;
  run.last = g.nodes.size() - 1;
  run.inputs = g.inputs;
  run.outputs = g.outputs;
  return run;
}

}  // namespace fungen::test
