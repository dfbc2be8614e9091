// The cuda backend's YOLO Detect head matcher and its constant folding (head_match.h), on the
// CPU (no GPU needed): the synthetic heads of head_model.h in every form (matched, with the
// anchor table the decode implies) and with each twist (not matched), and the real exported
// test models (every YOLOv5u/v8/v9/10/11/12 export matches once, with the 4x4 matrix of
// dist2bbox, xywh or xyxy for YOLOv10's end-to-end exports, and the anchor points and strides
// of its three levels; YOLO26, without DFL, does not match). Compiled with the cuda
// backend (-DFUNGEN_CUDA=ON), where head_match.cpp is built.
#ifdef FUNGEN_HAVE_CUDA

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <string>

#include "backends/cuda/head_match.h"
#include "exported_graph.h"
#include "fungen/engine.h"
#include "graph/passes/fusions.h"
#include "graph/passes/passes.h"
#include "head_model.h"
#include "onnx/onnx_import.h"

namespace fungen::test {
namespace {

std::vector<cuda::DetectHead> heads_of(const Graph& g) {
  return cuda::find_detect_heads(cuda::RunView(g, whole_run(g)));
}

// The decode YOLO exports: xywh = ((x1y1 + x2y2) / 2, x2y2 - x1y1) * stride, x1y1 = p - lt,
// x2y2 = p + rb, p the anchor point: m0 and the table of head_match.h for it.
void expect_xywh(const cuda::DetectHead& h, bool xyxy) {
  const float xywh[16] = {-0.5f, 0, 0.5f, 0, 0, -0.5f, 0, 0.5f, 1, 0, 1, 0, 0, 1, 0, 1};
  const float ltrb[16] = {-1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
  for (int i = 0; i < 16; ++i) EXPECT_NEAR(h.m0[i], xyxy ? ltrb[i] : xywh[i], 1e-6) << i;
}

// Anchor a of levels (H, W) with strides 8, 16, 32: point (x + 0.5, y + 0.5), stride s; its
// table entries: s, then c = s * p for the centre (xywh) or both corners (xyxy), 0 for wh.
void expect_table(const cuda::DetectHead& h, const std::vector<std::pair<int64_t, int64_t>>& lv,
                  bool xyxy) {
  int64_t a = 0, stride = 8;
  const int64_t A = h.anchors;
  for (auto [hh, ww] : lv) {
    for (int64_t i = 0; i < hh; ++i) {
      for (int64_t j = 0; j < ww; ++j, ++a) {
        const float s = static_cast<float>(stride), px = (j + 0.5f) * s, py = (i + 0.5f) * s;
        const float want[5] = {s, px, py, xyxy ? px : 0.0f, xyxy ? py : 0.0f};
        for (int k = 0; k < 5; ++k)
          ASSERT_NEAR(h.table[static_cast<size_t>(k * A + a)], want[k], 1e-4f * s)
              << "anchor " << a << " entry " << k;
      }
    }
    stride *= 2;
  }
  EXPECT_EQ(a, A);
}

const HeadSpec kSpecs[] = {
    {"xywh_slices_b1",
     1,
     {{4, 6}, {2, 3}, {1, 2}},
     5,
     false,
     false,
     false,
     false,
     HeadTwist::kNone,
     1},
    {"xywh_split_half_b3",
     3,
     {{8, 8}, {4, 4}, {2, 2}},
     80,
     false,
     false,
     true,
     true,
     HeadTwist::kNone,
     1},
    {"xyxy_opset12_b2",
     2,
     {{6, 10}, {3, 5}, {2, 3}},
     3,
     true,
     true,
     false,
     false,
     HeadTwist::kNone,
     1},
    {"opset12_split_b1",
     1,
     {{5, 7}, {3, 4}, {2, 2}},
     7,
     true,
     false,
     true,
     false,
     HeadTwist::kNone,
     1},
    {"box_also_output",
     2,
     {{4, 4}, {2, 2}, {1, 1}},
     4,
     false,
     false,
     false,
     false,
     HeadTwist::kBoxAlsoOutput,
     0},
    {"non_affine",
     1,
     {{4, 4}, {2, 2}, {1, 1}},
     4,
     false,
     false,
     false,
     false,
     HeadTwist::kNonAffine,
     0},
    {"batch_constant",
     2,
     {{4, 4}, {2, 2}, {1, 1}},
     4,
     false,
     false,
     false,
     false,
     HeadTwist::kBatchConstant,
     0},
};

TEST(CudaHeadMatch, SyntheticHeads) {
  std::mt19937 rng(test_seed());
  for (const HeadSpec& s : kSpecs) {
    SCOPED_TRACE(s.name);
    const std::string bytes = head_model(rng, s);
    auto g = import_onnx_model(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()),
        s.name);
    ASSERT_TRUE(g.ok()) << g.status().message();
    const Graph pg = prepared(std::move(g.value()), s.batch);
    const std::vector<cuda::DetectHead> heads = heads_of(pg);
    ASSERT_EQ(static_cast<int>(heads.size()), s.fused);
    if (heads.empty()) continue;
    const cuda::DetectHead& h = heads[0];
    EXPECT_EQ(h.batch, s.batch);
    EXPECT_EQ(h.classes, s.classes);
    EXPECT_EQ(h.bins, 16);
    for (int i = 0; i < 16; ++i) EXPECT_FLOAT_EQ(h.dfl_w[i], static_cast<float>(i));
    expect_xywh(h, s.xyxy);
    expect_table(h, s.levels, s.xyxy);
  }
}

// What the fused kernel computes (detect_head.cuh), in plain C++ from the matched head's fields.
Tensor emulate_head(const cuda::DetectHead& h, const Tensor& box_x, const Tensor& cls_x) {
  const int64_t A = h.anchors, nc = h.classes;
  Tensor y(DType::kFloat32, {h.batch, 4 + nc, A});
  const float* bx = box_x.data<float>();
  const float* cx = cls_x.data<float>();
  float* out = y.data<float>();
  for (int64_t b = 0; b < h.batch; ++b) {
    for (int64_t a = 0; a < A; ++a) {
      double d[4];
      for (int j = 0; j < 4; ++j) {
        const float* line = bx + ((b * 4 + j) * h.bins) * A + a;
        double m = line[0], sum = 0, acc = 0;
        for (int i = 1; i < h.bins; ++i) m = std::max<double>(m, line[i * A]);
        for (int i = 0; i < h.bins; ++i) {
          const double e = std::exp(line[i * A] - m);
          sum += e;
          acc += e * h.dfl_w[i];
        }
        d[j] = acc / sum + h.dfl_bias;
      }
      for (int k = 0; k < 4; ++k) {
        double v = 0;
        for (int j = 0; j < 4; ++j) v += h.m0[4 * k + j] * d[j];
        out[(b * (4 + nc) + k) * A + a] = static_cast<float>(
            h.table[static_cast<size_t>(a)] * v + h.table[static_cast<size_t>((1 + k) * A + a)]);
      }
      for (int64_t c = 0; c < nc; ++c)
        out[(b * (4 + nc) + 4 + c) * A + a] =
            static_cast<float>(1.0 / (1.0 + std::exp(-cx[(b * nc + c) * A + a])));
    }
  }
  return y;
}

// The matched head's fields, put through the kernel's formula, give what the reference kernels
// compute for the head's nodes, on fresh random inputs.
TEST(CudaHeadMatch, FoldedHeadReproducesTheGraph) {
  const uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  for (const HeadSpec& s : kSpecs) {
    if (s.fused != 1) continue;
    SCOPED_TRACE(std::string(s.name) + " seed " + std::to_string(seed));
    const std::string bytes = head_model(rng, s, true);
    const std::span<const uint8_t> span(reinterpret_cast<const uint8_t*>(bytes.data()),
                                        bytes.size());
    auto g = import_onnx_model(span, s.name);
    ASSERT_TRUE(g.ok()) << g.status().message();
    const std::vector<cuda::DetectHead> heads = heads_of(prepared(std::move(g.value()), s.batch));
    ASSERT_EQ(heads.size(), 1u);
    auto ref = Engine::load_from_memory(span, {.backend = "reference"});
    ASSERT_TRUE(ref.ok()) << ref.status().message();
    std::vector<Tensor> inputs, outs;
    for (const auto& in : ref->inputs()) inputs.push_back(random_tensor(in.shape, rng, -2, 2));
    ASSERT_TRUE(ref->run(inputs, outs).ok());
    ASSERT_EQ(outs.size(), 3u);  // y, dr, cls_cat
    const Tensor y = emulate_head(heads[0], outs[1], outs[2]);
    EXPECT_LE(rel_l2(y, outs[0]), 1e-6);
  }
}

TEST(CudaHeadMatch, ExportedModels) {
  const std::string dir = test_models_dir();
  if (!std::filesystem::is_directory(dir)) GTEST_SKIP() << "no test models in " << dir;
  int matched = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (e.path().extension() != ".onnx") continue;
    // YOLO26 has no DFL (reg_max 1): no match. YOLOv10's end-to-end exports decode xyxy.
    const bool e2e = name.find("e2e") != std::string::npos;
    const bool dfl_head = name.find("yolo26") == std::string::npos;
    SCOPED_TRACE(name);
    auto g = import_onnx_file(e.path().string());
    ASSERT_TRUE(g.ok()) << g.status().message();
    const bool dyn = name.find("_dyn") != std::string::npos;
    const std::pair<int64_t, int64_t> hw = export_hw(name);
    for (int64_t batch : dyn ? std::vector<int64_t>{1, 3} : std::vector<int64_t>{1}) {
      const Graph pg = prepared(g.value(), batch, hw);
      const std::vector<cuda::DetectHead> heads = heads_of(pg);
      if (!dfl_head) {
        EXPECT_TRUE(heads.empty()) << "batch " << batch;
        continue;
      }
      ASSERT_EQ(heads.size(), 1u) << "batch " << batch;
      const cuda::DetectHead& h = heads[0];
      const Shape& in = pg.values[static_cast<size_t>(pg.inputs[0])].shape;
      std::vector<std::pair<int64_t, int64_t>> levels;
      for (int64_t s = 8; s <= 32; s *= 2) levels.push_back({in[2] / s, in[3] / s});
      EXPECT_EQ(h.batch, batch);
      EXPECT_EQ(h.classes, 80);
      EXPECT_EQ(h.bins, 16);
      if (!e2e) {  // e2e: TopK and gathers follow
        EXPECT_EQ(h.y, pg.outputs[0]);
      }
      expect_xywh(h, e2e);
      expect_table(h, levels, e2e);
      ++matched;
    }
  }
  EXPECT_GT(matched, 0);
}

}  // namespace
}  // namespace fungen::test

#endif  // FUNGEN_HAVE_CUDA
