// The cuda backend's attention matcher (attn_match.h) on the CPU (no GPU needed): the synthetic
// graphs of attn_model.h in both forms (matched, with the scale, the layouts and the nodes it
// absorbs) and with each twist (not matched, or matched without the node that does not fit),
// and every exported test model: each attention Softmax (one reading a MatMul) matches, in the
// exports' form (Mul(q, 32^-0.5) -> Transpose -> MatMul -> Softmax -> Transpose -> MatMul, six
// nodes; YOLO12: the output's Transpose(0,3,1,2) found); YOLO12's eight blocks at 640x640 have 400
// tokens (240 at 384x640), head dim 32 and 48 problems per image (yolo12n: 4 blocks of 4 areas x 2
// heads, 4 of 4 heads). Compiled with the cuda backend (-DFUNGEN_CUDA=ON), where attn_match.cpp is
// built.
#ifdef FUNGEN_HAVE_CUDA

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "attn_model.h"
#include "backends/cuda/attn_match.h"
#include "exported_graph.h"
#include "onnx/onnx_import.h"

namespace fungen::test {
namespace {

std::vector<cuda::AttentionMatch> attention_of(const Graph& g) {
  return cuda::find_attention(cuda::RunView(g, whole_run(g)));
}

const AttnSpec kSpecs[] = {
    {"export", 2, 3, 40, 40, 32, 32, AttnForm::kExport, AttnTwist::kNone},
    {"export_cross", 1, 2, 24, 56, 16, 64, AttnForm::kExport, AttnTwist::kNone},
    {"tokens", 2, 2, 33, 33, 64, 32, AttnForm::kTokens, AttnTwist::kNone},
    {"split", 2, 2, 40, 40, 32, 64, AttnForm::kSplit, AttnTwist::kNone},
    {"scores_output", 1, 2, 16, 16, 32, 32, AttnForm::kExport, AttnTwist::kScoresAlsoOutput},
    {"softmax_axis", 1, 2, 16, 16, 32, 32, AttnForm::kExport, AttnTwist::kSoftmaxAxis},
    {"tensor_scale_q", 1, 2, 16, 16, 32, 32, AttnForm::kExport, AttnTwist::kTensorScale},
    {"tensor_scale_s", 1, 2, 16, 16, 32, 32, AttnForm::kTokens, AttnTwist::kTensorScale},
    {"head_dim_48", 1, 2, 16, 16, 32, 32, AttnForm::kExport, AttnTwist::kHeadDim48},
};

Graph import_spec(const AttnSpec& s) {
  const std::string bytes = attention_model(s);
  auto g = import_onnx_model(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()),
      s.name);
  EXPECT_TRUE(g.ok()) << g.status().message();
  return prepared(std::move(g.value()), s.batch);
}

TEST(CudaAttnMatch, SyntheticGraphs) {
  for (const AttnSpec& s : kSpecs) {
    SCOPED_TRACE(s.name);
    const Graph g = import_spec(s);
    const std::vector<cuda::AttentionMatch> found = attention_of(g);
    const bool want = s.twist == AttnTwist::kNone ||
                      (s.twist == AttnTwist::kTensorScale && s.form == AttnForm::kExport);
    ASSERT_EQ(found.size(), want ? 1u : 0u);
    if (!want) continue;
    const cuda::AttentionMatch& m = found[0];
    const bool ex = s.form != AttnForm::kTokens;
    EXPECT_EQ(m.z, s.batch * s.heads);
    EXPECT_EQ(m.n_q, s.n_q);
    EXPECT_EQ(m.n_k, s.n_k);
    EXPECT_EQ(m.d_qk, s.d_qk);
    EXPECT_EQ(m.d_v, s.d_v);
    EXPECT_EQ(m.q.dim_major, ex);
    EXPECT_EQ(m.k.dim_major, ex);
    EXPECT_EQ(m.v.dim_major, ex);
    EXPECT_EQ(m.o.dim_major, ex);
    if (s.form == AttnForm::kSplit) {  // O -> Transpose(0,3,1,2) -> the graph output
      ASSERT_GE(m.out_transpose, 0);
      EXPECT_EQ(m.out_t, g.outputs[0]);
      EXPECT_EQ(m.heads, s.heads);
    } else {
      EXPECT_EQ(m.o.value, g.outputs[0]);
      EXPECT_EQ(m.out_transpose, -1);
    }
    EXPECT_EQ(g.nodes[static_cast<size_t>(m.output_node)].op_type, "MatMul");
    const bool tensor = s.twist == AttnTwist::kTensorScale;
    EXPECT_NEAR(m.scale, tensor ? 1.0f : 1.0f / std::sqrt(static_cast<float>(s.d_qk)), 1e-6f);
    // Export: Mul, Transpose, MatMul, Softmax, Transpose, MatMul (the tensor Mul stays out);
    // tokens: Transpose, MatMul, Div, Softmax, MatMul.
    EXPECT_EQ(m.nodes.size(), ex ? (tensor ? 5u : 6u) : 5u);
    for (int k : m.nodes) {
      const std::string& op = g.nodes[static_cast<size_t>(k)].op_type;
      EXPECT_TRUE(op == "Mul" || op == "Div" || op == "Transpose" || op == "MatMul" ||
                  op == "Softmax")
          << op;
      if (tensor) {
        EXPECT_NE(op, "Mul");
      }
    }
    // q, k, v are what the graph reads: the inputs (the tensor Mul's output for q), or the
    // Split's pieces in order.
    if (s.form == AttnForm::kSplit) {
      const int split = g.values[static_cast<size_t>(m.q.value)].producer;
      ASSERT_GE(split, 0);
      EXPECT_EQ(g.nodes[static_cast<size_t>(split)].outputs,
                (std::vector<int>{m.q.value, m.k.value, m.v.value}));
      continue;
    }
    EXPECT_EQ(m.k.value, g.inputs[1]);
    EXPECT_EQ(m.v.value, g.inputs[2]);
    if (!tensor) {
      EXPECT_EQ(m.q.value, g.inputs[0]);
    }
  }
}

// Softmax nodes reading a MatMul: the graph's attentions.
int attention_softmaxes(const Graph& g) {
  int n = 0;
  for (const Node& node : g.nodes) {
    if (node.op_type != "Softmax") continue;
    const int p = g.values[static_cast<size_t>(node.inputs[0])].producer;
    if (p >= 0 && g.nodes[static_cast<size_t>(p)].op_type == "MatMul") ++n;
  }
  return n;
}

TEST(CudaAttnMatch, ExportedModels) {
  const std::string dir = test_models_dir();
  if (!std::filesystem::is_directory(dir)) GTEST_SKIP() << "no test models in " << dir;
  int yolo12 = 0, others = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (e.path().extension() != ".onnx") continue;
    SCOPED_TRACE(name);
    auto g = import_onnx_file(e.path().string());
    ASSERT_TRUE(g.ok()) << g.status().message();
    const bool dyn = name.find("_dyn") != std::string::npos;
    const bool is12 = name.rfind("yolo12", 0) == 0;
    const std::pair<int64_t, int64_t> hw = export_hw(name);
    for (int64_t batch : dyn ? std::vector<int64_t>{1, 3} : std::vector<int64_t>{1}) {
      const Graph pg = prepared(g.value(), batch, hw);
      const std::vector<cuda::AttentionMatch> found = attention_of(pg);
      const int want = attention_softmaxes(pg);
      ASSERT_EQ(static_cast<int>(found.size()), want) << "batch " << batch;
      if (is12) {
        EXPECT_EQ(want, 8) << "batch " << batch;
      }
      int64_t problems = 0;
      for (const cuda::AttentionMatch& m : found) {
        EXPECT_EQ(m.nodes.size(), 6u);
        EXPECT_NEAR(m.scale, 1.0f / std::sqrt(32.0f), 1e-6f);
        EXPECT_TRUE(m.q.dim_major && m.k.dim_major && m.v.dim_major && m.o.dim_major);
        EXPECT_EQ(m.d_qk, 32);
        EXPECT_EQ(m.n_q, m.n_k);
        problems += m.z;
        if (!is12) continue;  // C2PSA reshapes its output to [B, C, H, W]: no Transpose
        EXPECT_GE(m.out_transpose, 0) << "the output's Transpose(0,3,1,2)";
        EXPECT_EQ(m.d_v, 32);
        EXPECT_EQ(m.n_q, hw.first * hw.second / (32 * 32)) << "tokens per area";
      }
      if (is12) {
        EXPECT_EQ(problems, 48 * batch);
        ++yolo12;
      } else if (want > 0) {
        ++others;
      }
    }
  }
  EXPECT_GT(yolo12, 0);
  EXPECT_GT(others, 0);
}

}  // namespace
}  // namespace fungen::test

#endif  // FUNGEN_HAVE_CUDA
