// The anchor-major Detect head input (head_rows.h) and its kernel (detect_head_rows.cuh) on the
// CPU, no GPU needed: the kernel's own source runs with host threads (cuda_host_emulation.h, one
// per CUDA thread, real barriers), launched as detect_head.cu launches it.
//  - SyntheticHeads: the heads of head_model.h (odd maps, nc 3..80, batch 1-3, both DFL forms,
//    xywh/xyxy): match_head_rows finds the 2 * levels pieces; each level's conv output (from the
//    reference backend's run of the same model, fresh random inputs) is put where lower_conv /
//    lower_conv_igemm store it (b * batch_ld + anchor_offset * ld + channel_offset + p * ld + c,
//    the pad columns NaN); the kernel (fp32, fp16 -> fp32 staging, fp16 -> fp16) then gives the
//    reference's output y. With the conv outputs read elsewhere, no match (NCHW path).
//  - ExportedModels: every YOLOv5u/v8/v9/10/11/12 export (batch 1 and 3) has 6 pieces of ld 144,
//    box columns 0..63, classes 64..143, the levels' anchor offsets in Concat order; the kernel
//    on two of them (8400 and 5040 anchors: a partial last block) against the head's formula in
//    double, with logits up to the fp16 limits.
// Compiled with -DFUNGEN_CUDA=ON (head_rows.cpp, the CUDA headers).
#ifdef FUNGEN_HAVE_CUDA

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "backends/cuda/head_match.h"
#include "backends/cuda/head_rows.h"
#include "exported_graph.h"
#include "fungen/engine.h"
#include "graph/passes/fusions.h"
#include "graph/passes/passes.h"
#include "head_model.h"
#include "onnx/onnx_import.h"
#include "op_test_util.h"
// Last: the CUDA keywords become host code from here on.
#include "cuda_host_emulation.h"
//
#include "backends/cuda/detect_head_rows.cuh"

namespace fungen::test {
namespace {

struct Matched {
  cuda::DetectHead head;
  std::optional<cuda::HeadRows> rows;
  std::string why;
};

// The graph's one head and its anchor-major pieces (rows empty: no match, `why` says why).
std::optional<Matched> match(const Graph& pg) {
  const cuda::RunView rv(pg, whole_run(pg));
  std::vector<cuda::DetectHead> heads = cuda::find_detect_heads(rv);
  if (heads.size() != 1) return std::nullopt;
  Matched m{std::move(heads[0]), std::nullopt, ""};
  m.rows = cuda::match_head_rows(rv, m.head, &m.why);
  return m;
}

// lower_head.cpp's descriptor.
cuda::HeadKernelDesc desc_of(const cuda::DetectHead& h, const cuda::HeadRows& r) {
  cuda::HeadKernelDesc d;
  d.batch = h.batch;
  d.anchors = static_cast<int>(h.anchors);
  d.classes = static_cast<int>(h.classes);
  d.bins = h.bins;
  std::copy(h.dfl_w, h.dfl_w + h.bins, d.w);
  d.bias = h.dfl_bias;
  std::copy(h.m0, h.m0 + 16, d.m0);
  d.ld = static_cast<int>(r.ld);
  d.cls_offset = static_cast<int>(r.cls_offset);
  return d;
}

template <class T>
T from_float(float v) {
  if constexpr (sizeof(T) == 2)
    return __float2half_rn(v);
  else
    return v;
}
template <class T>
float as_float(T v) {
  if constexpr (sizeof(T) == 2)
    return __half2float(v);
  else
    return v;
}

// detect_head.cu's launch: blockIdx.x the anchor block, blockIdx.y the image; y NaN before.
template <class TIn, class TOut>
std::vector<float> run_kernel(const cuda::DetectHead& h, const cuda::HeadRows& r,
                              const std::vector<TIn>& x) {
  const cuda::HeadKernelDesc d = desc_of(h, r);
  EXPECT_TRUE(d.ld % 8 == 0 && d.cls_offset >= 4 * d.bins && d.cls_offset + d.classes <= d.ld);
  std::vector<TOut> y(static_cast<size_t>(h.batch * (4 + h.classes) * h.anchors),
                      from_float<TOut>(NAN));
  std::vector<uint32_t> rows(cuda::head_rows_smem_bytes(d.ld, sizeof(TIn)) / 4);
  std::vector<float> dist(4 * cuda::kRowsAnchors);
  const dim3 grid(static_cast<unsigned>((h.anchors + cuda::kRowsAnchors - 1) / cuda::kRowsAnchors),
                  static_cast<unsigned>(h.batch));
  host_cuda::launch(grid, cuda::kRowsThreads, [&] {
    const int a0 = static_cast<int>(blockIdx.x) * cuda::kRowsAnchors;
    if (d.bins <= 16)
      cuda::head_rows_block<TIn, TOut, 16>(x.data(), h.table.data(), y.data(), d, blockIdx.y, a0,
                                           rows.data(), dist.data());
    else
      cuda::head_rows_block<TIn, TOut, 32>(x.data(), h.table.data(), y.data(), d, blockIdx.y, a0,
                                           rows.data(), dist.data());
  });
  std::vector<float> out(y.size());
  for (size_t i = 0; i < y.size(); ++i) out[i] = as_float(y[i]);
  return out;
}

// Each piece's conv output [B, C, P] where the convs store it (lower_conv / lower_conv_igemm,
// from CudaRun::AnchorSlice{offset = anchor_offset * ld + channel_offset, ld, batch_ld}); the
// pad columns stay NaN.
template <class TIn>
std::vector<TIn> fill_rows(const cuda::HeadRows& r, const std::vector<const Tensor*>& convs) {
  std::vector<TIn> x(static_cast<size_t>(r.batch * r.batch_ld()), from_float<TIn>(NAN));
  for (size_t i = 0; i < r.pieces.size(); ++i) {
    const cuda::HeadRowsPiece& p = r.pieces[i];
    const float* src = convs[i]->data<float>();
    const int64_t offset = p.anchor_offset * r.ld + p.channel_offset;
    for (int64_t b = 0; b < r.batch; ++b)
      for (int64_t c = 0; c < p.channels; ++c)
        for (int64_t q = 0; q < p.pixels; ++q)
          x[static_cast<size_t>(b * r.batch_ld() + offset + q * r.ld + c)] =
              from_float<TIn>(src[(b * p.channels + c) * p.pixels + q]);
  }
  return x;
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
    {"xywh_split_half_b3_nc80",
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
    {"opset12_split_b1_odd",
     1,
     {{13, 17}, {7, 9}, {4, 5}},
     16,
     true,
     false,
     true,
     false,
     HeadTwist::kNone,
     1},
    {"xywh_b2_nc37_blocks",
     2,
     {{9, 11}, {5, 6}, {3, 3}},
     37,
     false,
     false,
     false,
     false,
     HeadTwist::kNone,
     1},
};

TEST(CudaHeadRows, SyntheticHeads) {
  const uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  for (const HeadSpec& s : kSpecs) {
    SCOPED_TRACE(std::string(s.name) + " seed " + std::to_string(seed));
    std::mt19937 same = rng;  // the same weights, the conv outputs exposed
    const std::string bytes = head_model(rng, s);
    const std::string exposed = head_model(same, s, false, true);
    auto g = import_onnx_model(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()),
        s.name);
    ASSERT_TRUE(g.ok()) << g.status().message();
    const Graph pg = prepared(std::move(g.value()), s.batch);
    const std::optional<Matched> m = match(pg);
    ASSERT_TRUE(m.has_value());
    ASSERT_TRUE(m->rows.has_value()) << m->why;
    const cuda::HeadRows& r = *m->rows;
    const int64_t levels = static_cast<int64_t>(s.levels.size());
    ASSERT_EQ(static_cast<int64_t>(r.pieces.size()), 2 * levels);
    EXPECT_EQ(r.ld, 64 + (s.classes + 7) / 8 * 8);
    EXPECT_EQ(r.cls_offset, 64);
    EXPECT_EQ(static_cast<int64_t>(r.nodes.size()), 2 * levels + 3);  // views, Concats, box view
    for (int64_t i = 0; i < 2 * levels; ++i) {
      const cuda::HeadRowsPiece& p = r.pieces[static_cast<size_t>(i)];
      const bool box = i < levels;
      int64_t off = 0;
      for (int64_t l = 0; l < i % levels; ++l)
        off += s.levels[static_cast<size_t>(l)].first * s.levels[static_cast<size_t>(l)].second;
      EXPECT_EQ(p.anchor_offset, off) << "piece " << i;
      EXPECT_EQ(p.channel_offset, box ? 0 : 64) << "piece " << i;
      EXPECT_EQ(p.channels, box ? 64 : s.classes) << "piece " << i;
      const auto [hh, ww] = s.levels[static_cast<size_t>(i % levels)];
      EXPECT_EQ(p.pixels, hh * ww) << "piece " << i;
      EXPECT_EQ(pg.values[static_cast<size_t>(p.value)].name,
                (box ? "bc" : "cc") + std::to_string(i % levels));
    }
    // The reference run: y and each conv output, by name.
    const std::span<const uint8_t> span(reinterpret_cast<const uint8_t*>(exposed.data()),
                                        exposed.size());
    auto ref = Engine::load_from_memory(span, {.backend = "reference"});
    ASSERT_TRUE(ref.ok()) << ref.status().message();
    std::vector<Tensor> inputs, outs;
    for (const auto& in : ref->inputs()) inputs.push_back(random_tensor(in.shape, rng, -2, 2));
    ASSERT_TRUE(ref->run(inputs, outs).ok());
    std::vector<const Tensor*> convs;
    for (const cuda::HeadRowsPiece& p : r.pieces) {
      const std::string& name = pg.values[static_cast<size_t>(p.value)].name;
      for (size_t o = 0; o < outs.size(); ++o) {
        if (ref->outputs()[o].name == name) convs.push_back(&outs[o]);
      }
    }
    ASSERT_EQ(convs.size(), r.pieces.size());
    const Tensor& want = outs[0];
    auto rel = [&](const std::vector<float>& got) {
      Tensor t(DType::kFloat32, want.shape());
      std::copy(got.begin(), got.end(), t.data<float>());
      return rel_l2(t, want);
    };
    EXPECT_LE(rel(run_kernel<float, float>(m->head, r, fill_rows<float>(r, convs))), 1e-5)
        << "fp32";
    const std::vector<__half> xh = fill_rows<__half>(r, convs);
    EXPECT_LE(rel(run_kernel<__half, float>(m->head, r, xh)), 2e-3) << "fp16 -> fp32";
    EXPECT_LE(rel(run_kernel<__half, __half>(m->head, r, xh)), 3e-3) << "fp16 -> fp16";
    // Conv outputs read elsewhere too (graph outputs): no anchor-major input.
    auto ge = import_onnx_model(span, s.name);
    ASSERT_TRUE(ge.ok());
    const std::optional<Matched> me = match(prepared(std::move(ge.value()), s.batch));
    ASSERT_TRUE(me.has_value());
    EXPECT_FALSE(me->rows.has_value());
  }
}

// The kernel on random rows (logits up to the fp16 limits) against the formula in double read
// through head_rows_index; returns the elements of y off by more than the tolerance.
template <class TIn, class TOut>
size_t check_random(const cuda::DetectHead& h, const cuda::HeadRows& r, std::mt19937& rng,
                    std::string* first) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::uniform_int_distribution<int> pick(0, 199);
  std::vector<TIn> x(static_cast<size_t>(r.batch * r.batch_ld()));
  for (TIn& v : x) {
    const int k = pick(rng);
    v = from_float<TIn>(k == 0   ? 65504.0f
                        : k == 1 ? -65504.0f
                        : k < 5  ? 1000 * u(rng)
                                 : 12 * u(rng));
  }
  const std::vector<float> y = run_kernel<TIn, TOut>(h, r, x);
  const int64_t A = h.anchors, nc = h.classes;
  const double tol = sizeof(TOut) == 4 ? 1e-4 : 2e-3;
  size_t bad = 0;
  auto check = [&](int64_t b, int64_t row, int64_t a, double want, double scale) {
    const double got = y[static_cast<size_t>((b * (4 + nc) + row) * A + a)];
    if (std::isfinite(got) && std::abs(got - want) <= tol * scale) return;
    if (bad++ == 0)
      *first = "image " + std::to_string(b) + " row " + std::to_string(row) + " anchor " +
               std::to_string(a) + ": got " + std::to_string(got) + " want " + std::to_string(want);
  };
  auto at = [&](int64_t b, int64_t a, int64_t c) {
    return static_cast<double>(as_float(x[static_cast<size_t>(cuda::head_rows_index(r, b, a, c))]));
  };
  for (int64_t b = 0; b < h.batch; ++b) {
    for (int64_t a = 0; a < A; ++a) {
      double dist[4];
      for (int j = 0; j < 4; ++j) {
        double mx = -1e300, sum = 0, acc = 0;
        for (int i = 0; i < h.bins; ++i) mx = std::max(mx, at(b, a, j * h.bins + i));
        for (int i = 0; i < h.bins; ++i) {
          const double e = std::exp(at(b, a, j * h.bins + i) - mx);
          sum += e;
          acc += e * h.dfl_w[i];
        }
        dist[j] = acc / sum + h.dfl_bias;
      }
      for (int k = 0; k < 4; ++k) {
        double v = 0, terms = 0;
        for (int j = 0; j < 4; ++j) {
          v += h.m0[4 * k + j] * dist[j];
          terms += std::abs(h.m0[4 * k + j] * dist[j]);
        }
        const double s = h.table[static_cast<size_t>(a)];
        const double c = h.table[static_cast<size_t>((1 + k) * A + a)];
        check(b, k, a, s * v + c, 1 + std::abs(c) + s * terms);
      }
      for (int64_t q = 0; q < nc; ++q)
        check(b, 4 + q, a, 1.0 / (1.0 + std::exp(-at(b, a, r.cls_offset + q))), 1);
    }
  }
  return bad;
}

TEST(CudaHeadRows, ExportedModels) {
  const std::string dir = test_models_dir();
  if (!std::filesystem::is_directory(dir)) GTEST_SKIP() << "no test models in " << dir;
  const uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".onnx") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  int matched = 0;
  std::vector<int64_t> kernel_run;  // anchor counts the kernel ran on
  for (const auto& path : files) {
    const std::string name = path.filename().string();
    if (name.find("yolo26") != std::string::npos) continue;  // no DFL: no fused head
    SCOPED_TRACE(name + " seed " + std::to_string(seed));
    auto g = import_onnx_file(path.string());
    ASSERT_TRUE(g.ok()) << g.status().message();
    const std::pair<int64_t, int64_t> hw = export_hw(name);
    const bool dyn = name.find("_dyn") != std::string::npos;
    for (int64_t batch : dyn ? std::vector<int64_t>{1, 3} : std::vector<int64_t>{1}) {
      const std::optional<Matched> m = match(prepared(g.value(), batch, hw));
      ASSERT_TRUE(m.has_value()) << "batch " << batch;
      ASSERT_TRUE(m->rows.has_value()) << "batch " << batch << ": " << m->why;
      const cuda::HeadRows& r = *m->rows;
      EXPECT_EQ(r.ld, 144);
      EXPECT_EQ(r.cls_offset, 64);
      EXPECT_EQ(r.batch, batch);
      ASSERT_EQ(r.pieces.size(), 6u);
      EXPECT_EQ(r.nodes.size(), 9u);
      const int64_t sizes[3] = {(hw.first / 8) * (hw.second / 8),
                                (hw.first / 16) * (hw.second / 16),
                                (hw.first / 32) * (hw.second / 32)};
      for (size_t i = 0; i < 6; ++i) {
        const cuda::HeadRowsPiece& p = r.pieces[i];
        const size_t l = i % 3;
        EXPECT_EQ(p.pixels, sizes[l]) << i;
        EXPECT_EQ(p.anchor_offset, l == 0 ? 0 : l == 1 ? sizes[0] : sizes[0] + sizes[1]) << i;
        EXPECT_EQ(p.channel_offset, i < 3 ? 0 : 64) << i;
        EXPECT_EQ(p.channels, i < 3 ? 64 : 80) << i;
      }
      ++matched;
      // The kernel once per anchor count (8400: 262 blocks and a half one; 5040: 157.5).
      if (batch == 1 &&
          std::find(kernel_run.begin(), kernel_run.end(), m->head.anchors) == kernel_run.end()) {
        kernel_run.push_back(m->head.anchors);
        std::string first;
        EXPECT_EQ((check_random<__half, float>(m->head, r, rng, &first)), 0u) << "fp16: " << first;
        EXPECT_EQ((check_random<float, float>(m->head, r, rng, &first)), 0u) << "fp32: " << first;
      }
    }
  }
  EXPECT_GT(matched, 0);
  EXPECT_GE(kernel_run.size(), 2u);
}

}  // namespace
}  // namespace fungen::test

#endif  // FUNGEN_HAVE_CUDA
