// The cross-backend harness: small graphs (one op, or the fused patterns of YOLO exports) on
// random odd shapes with a fresh seed per run (printed on failure; FUNGEN_TEST_SEED repeats it),
// every compiled-in backend against the reference kernels, tolerance per case. A fused graph on
// the reference backend must also equal the unfused graph exactly (the fused reference kernels
// are composed from the plain ones).
//
// FUNGEN_BENCH_OPS=1 adds a perf line per case and backend (median of 20 runs).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "fungen/engine.h"
#include "graph/passes/fusions.h"
#include "graph/passes/passes.h"
#include "model_builder.h"
#include "onnx/onnx_import.h"
#include "runtime/execution_plan.h"
#include "util/memory.h"
#include "util/thread_pool.h"

namespace fungen {
namespace {

using test::attr_float;
using test::attr_int;
using test::attr_ints;
using test::attr_string;

std::span<const uint8_t> as_bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::vector<std::string> fast_backends() {
#ifdef FUNGEN_HAVE_ONEDNN
  return {"cpu"};
#else
  return {};
#endif
}

struct Case {
  std::string name;
  std::string model;  // ONNX bytes
  std::vector<Tensor> inputs;
  double tolerance = 1e-5;  // max |got - ref| / max(1, max |ref|)
};

int64_t pick(std::mt19937& rng, int64_t lo, int64_t hi) {
  return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
}

// Conv weights scaled like a trained layer so activations stay O(1).
Tensor conv_weights(Shape s, std::mt19937& rng) {
  int64_t fan_in = s[1] * s[2] * s[3];
  float a = 1.5f / std::sqrt(static_cast<float>(fan_in));
  return test::random_tensor(s, rng, -a, a);
}

// Conv(+bias) → Sigmoid → Mul: the export's Conv+SiLU, `name` its output.
void conv_silu(test::ModelBuilder& b, std::mt19937& rng, const std::string& x, int64_t cin,
               int64_t cout, int64_t k, int64_t stride, const std::string& name,
               int64_t group = 1) {
  b.initializer(name + "_w", conv_weights({cout, cin / group, k, k}, rng));
  b.initializer(name + "_b", test::random_tensor({cout}, rng, -0.5f, 0.5f));
  b.node("Conv", {x, name + "_w", name + "_b"}, {name + "_c"},
         {{"kernel_shape", attr_ints({k, k})},
          {"pads", attr_ints({k / 2, k / 2, k / 2, k / 2})},
          {"strides", attr_ints({stride, stride})},
          {"group", attr_int(group)}});
  b.node("Sigmoid", {name + "_c"}, {name + "_s"});
  b.node("Mul", {name + "_c", name + "_s"}, {name});
}

Case single_conv(std::mt19937& rng, bool silu, int64_t group_kind) {
  int64_t n = pick(rng, 1, 2), c = pick(rng, 1, 3) * (group_kind == 2 ? 16 : 1) +
                                   (group_kind == 2 ? 0 : pick(rng, 0, 20));
  int64_t h = pick(rng, 5, 23), w = pick(rng, 5, 23), m = pick(rng, 1, 40),
          k = pick(rng, 0, 1) ? 3 : 1;
  int64_t stride = pick(rng, 1, 2), group = 1;
  if (group_kind == 2) {  // depthwise
    group = c;
    m = c;
    k = 3;
  }
  test::ModelBuilder b(17);
  b.input("x", DType::kFloat32, {n, c, h, w});
  if (silu) {
    conv_silu(b, rng, "x", c, m, k, stride, "y", group);
  } else {
    b.initializer("w", conv_weights({m, c / group, k, k}, rng));
    b.node("Conv", {"x", "w"}, {"y"},
           {{"pads", attr_ints({k / 2, 0, k / 2, 1})},
            {"strides", attr_ints({stride, stride})},
            {"group", attr_int(group)}});
  }
  b.output("y");
  return {std::string(silu ? "conv_silu" : "conv") + (group > 1 ? "_depthwise" : ""),
          b.build(),
          {test::random_tensor({n, c, h, w}, rng)}};
}

// Bottleneck with residual: y = x + silu(conv(silu(conv(x)))), the residual fused as a post-op.
Case residual_block(std::mt19937& rng) {
  int64_t n = pick(rng, 1, 3), c = 16 * pick(rng, 1, 2), h = pick(rng, 6, 19), w = pick(rng, 6, 19);
  test::ModelBuilder b(17);
  b.input("x", DType::kFloat32, {n, c, h, w});
  conv_silu(b, rng, "x", c, c, 3, 1, "a");
  conv_silu(b, rng, "a", c, c, 3, 1, "r");
  b.node("Add", {"x", "r"}, {"y"});
  b.output("y");
  return {"residual_block", b.build(), {test::random_tensor({n, c, h, w}, rng)}};
}

// C2f/C3k2: conv → Split in halves → bottlenecks → Concat → conv, plus SPPF's MaxPools and an
// Upsample (Resize nearest ×2) and a second, odd-channel Concat.
Case c2f_block(std::mt19937& rng, int64_t batch) {
  int64_t c = 16 * pick(rng, 1, 2), h = pick(rng, 4, 13), w = pick(rng, 4, 13);
  test::ModelBuilder b(17);
  b.input("x", DType::kFloat32, {batch, 3, h, w});
  conv_silu(b, rng, "x", 3, 2 * c, 3, 1, "cv1");
  b.initializer("split", test::int64_tensor({2}, {c, c}));
  b.node("Split", {"cv1", "split"}, {"y0", "y1"}, {{"axis", attr_int(1)}});
  conv_silu(b, rng, "y1", c, c, 3, 1, "m0a");
  conv_silu(b, rng, "m0a", c, c, 3, 1, "m0b");
  b.node("Add", {"y1", "m0b"}, {"m0"});
  b.node("Concat", {"y0", "y1", "m0"}, {"cat"}, {{"axis", attr_int(1)}});
  conv_silu(b, rng, "cat", 3 * c, c, 1, 1, "cv2");
  b.node("MaxPool", {"cv2"}, {"p1"},
         {{"kernel_shape", attr_ints({5, 5})}, {"pads", attr_ints({2, 2, 2, 2})}});
  b.node("MaxPool", {"p1"}, {"p2"},
         {{"kernel_shape", attr_ints({5, 5})}, {"pads", attr_ints({2, 2, 2, 2})}});
  b.initializer("roi", Tensor(DType::kFloat32, {0}));
  b.node("Resize", {"p2", "roi", "scales_v"}, {"up"},
         {{"mode", attr_string("nearest")},
          {"coordinate_transformation_mode", attr_string("asymmetric")},
          {"nearest_mode", attr_string("floor")}});
  Tensor scales(DType::kFloat32, {4});
  float* sp = scales.data<float>();
  sp[0] = 1;
  sp[1] = 1;
  sp[2] = 2;
  sp[3] = 2;
  b.initializer("scales_v", scales);
  conv_silu(b, rng, "up", c, 5, 1, 1, "odd");
  b.node("Concat", {"up", "odd"}, {"cat2"}, {{"axis", attr_int(1)}});
  // Parts that start inside a 16-channel block (YOLO12n's narrow blocks): fungen's own concat.
  conv_silu(b, rng, "up", c, 8, 1, 1, "eight");
  b.node("Concat", {"odd", "eight", "up", "odd"}, {"cat3"}, {{"axis", attr_int(1)}});
  b.output("cat2");
  b.output("p1");
  b.output("cat3");
  return {"c2f_sppf_upsample_b" + std::to_string(batch),
          b.build(),
          {test::random_tensor({batch, 3, h, w}, rng)}};
}

// The detect head's glue: reshape/transpose/softmax (DFL), a 1x1 conv, anchor arithmetic with
// constants, and attention's MatMul/Softmax.
Case head_glue(std::mt19937& rng, int64_t batch) {
  int64_t a = pick(rng, 10, 60);
  test::ModelBuilder b(17);
  b.input("x", DType::kFloat32, {batch, 64, a, 1});
  b.initializer("shape1", test::int64_tensor({4}, {batch, 4, 16, a}));
  b.node("Reshape", {"x", "shape1"}, {"r"});
  b.node("Transpose", {"r"}, {"t"}, {{"perm", attr_ints({0, 2, 1, 3})}});
  b.node("Softmax", {"t"}, {"s"}, {{"axis", attr_int(1)}});
  b.initializer("dfl_w", conv_weights({1, 16, 1, 1}, rng));
  b.node("Conv", {"s", "dfl_w"}, {"d"});
  b.initializer("shape2", test::int64_tensor({3}, {batch, 4, a}));
  b.node("Reshape", {"d", "shape2"}, {"box"});
  b.initializer("anchors", test::random_tensor({1, 4, a}, rng, 0.0f, 3.0f));
  b.node("Sub", {"anchors", "box"}, {"lt"});
  b.node("Add", {"lt", "anchors"}, {"sum"});
  b.initializer("two", test::random_tensor({1}, rng, 1.5f, 2.5f));
  b.node("Div", {"sum", "two"}, {"mid"});
  b.node("Transpose", {"mid"}, {"t2"}, {{"perm", attr_ints({0, 2, 1})}});
  b.node("MatMul", {"t2", "mid"}, {"mm"});
  b.node("Softmax", {"mm"}, {"attn"}, {{"axis", attr_int(-1)}});
  // v @ attn^T: the transposed operand second (read in place by the cpu backend's matmul).
  b.node("Transpose", {"attn"}, {"attn_t"}, {{"perm", attr_ints({0, 2, 1})}});
  b.node("MatMul", {"mid", "attn_t"}, {"out"});
  b.output("attn");
  b.output("mid");
  b.output("out");
  // MatMul's sums run in another order than the reference's, and softmax passes that on.
  return {"head_glue_b" + std::to_string(batch),
          b.build(),
          {test::random_tensor({batch, 64, a, 1}, rng)},
          1e-4};
}

std::vector<test::Dim> dims_of(const Shape& s) {
  return std::vector<test::Dim>(s.begin(), s.end());
}

// One binary op or MatMul on the given shapes; `b_const`: the second operand an initializer,
// `a_const`: the first. Shapes that broke the cpu backend once (op_cases seeds 5, 862772325...):
// operands of lower rank, leading size-1 dims, broadcasting on either side, rank 0.
Case binary_case(std::mt19937& rng, const std::string& op, Shape as, Shape bs, bool a_const = false,
                 bool b_const = false) {
  test::ModelBuilder b(17);
  const float lo = op == "Div" ? 0.5f : -2.0f;
  std::vector<Tensor> inputs;
  for (auto [name, shape, is_const] :
       {std::tuple{"a", as, a_const}, std::tuple{"b", bs, b_const}}) {
    Tensor t = test::random_tensor(shape, rng, lo, 2.0f);
    if (is_const) {
      b.initializer(name, t);
    } else {
      b.input(name, DType::kFloat32, dims_of(shape));
      inputs.push_back(t);
    }
  }
  b.node(op, {"a", "b"}, {"y"});
  b.output("y");
  std::string name = op + " " + shape_to_string(as) + (a_const ? "c" : "") + " " +
                     shape_to_string(bs) + (b_const ? "c" : "");
  return {name, b.build(), inputs, op == "MatMul" ? 1e-4 : 1e-5};
}

std::vector<Case> odd_shape_cases(std::mt19937& rng) {
  std::vector<Case> cases;
  auto add = [&](const std::string& op, Shape a, Shape b, bool ac = false, bool bc = false) {
    cases.push_back(binary_case(rng, op, std::move(a), std::move(b), ac, bc));
  };
  // A second operand of lower rank than the first (once a reorder between ranks that threw).
  add("Mul", {1, 3}, {3});
  add("Mul", {1, 6}, {6});
  add("Div", {1, 6}, {6});
  add("Add", {1, 1, 4}, {4});
  add("Sub", {2, 1, 5}, {1, 5});
  // A batch (dim 0 > 1) that a lower-rank operand's leading dim equals: not the batch.
  add("Mul", {2, 2, 2, 6}, {2, 6});
  add("Add", {3, 1, 3}, {3});
  add("Div", {2, 3, 2}, {2});
  add("Mul", {2, 6}, {2, 2, 2, 6});
  // The first operand broadcasts (Sub/Div: the reference runs it), or both do.
  add("Sub", {3}, {2, 3});
  add("Div", {1, 3}, {2, 3});
  add("Add", {3, 1}, {1, 4});
  add("Mul", {2, 1, 5}, {2, 3, 5});
  add("Sub", {1, 1, 4}, {4});
  // Rank 0 on either side or both.
  add("Add", {}, {});
  add("Mul", {2, 3}, {});
  add("Sub", {}, {2, 3});
  add("Div", {}, {4}, false, true);
  add("Mul", {2, 3}, {}, false, true);
  // Constants on either side, same rank and lower.
  add("Add", {2, 3}, {3}, false, true);
  add("Sub", {2, 3}, {2, 3}, true, false);
  add("Mul", {1, 5}, {3, 5}, true, false);
  add("Add", {2, 16, 3, 5}, {16, 1, 1}, false, true);
  add("Mul", {2, 17, 3, 5}, {2, 17, 3, 5});
  // Small MatMuls: square, vectors, batch on one side, batch of one.
  add("MatMul", {26, 26}, {26, 30});
  add("MatMul", {1, 1}, {1, 1});
  add("MatMul", {3}, {3, 2});
  add("MatMul", {2, 3}, {3});
  add("MatMul", {2, 3, 4}, {4, 5});
  add("MatMul", {2, 3, 4}, {4, 5}, false, true);
  add("MatMul", {4, 5}, {2, 5, 3});
  add("MatMul", {2, 1, 3, 4}, {2, 4, 2});
  add("MatMul", {3, 7, 5}, {3, 5, 7});
  return cases;
}

// Plain (reference) nodes inside a cpu run on tensors oneDNN has no plain tag for: a rank-0
// ReduceSum feeding a Div, a rank-7 Reshape/Slice; and ops that must not go image by image
// (Slice and ReduceSum along dim 0, Softmax over a rank-1 batch).
std::vector<Case> plain_node_cases(std::mt19937& rng) {
  std::vector<Case> cases;
  {
    test::ModelBuilder b(17);
    b.input("x", DType::kFloat32, {int64_t{2}, int64_t{3}});
    b.initializer("axes", test::int64_tensor({2}, {0, 1}));
    b.node("ReduceSum", {"x", "axes"}, {"s"}, {{"keepdims", attr_int(0)}});
    b.node("Mul", {"x", "x"}, {"x2"});
    b.node("Div", {"x2", "s"}, {"y"});
    b.node("Add", {"s", "s"}, {"s2"});
    b.output("y");
    b.output("s2");
    cases.push_back(
        {"rank0_reduce_div", b.build(), {test::random_tensor({2, 3}, rng, 0.5f, 2.0f)}});
  }
  {
    test::ModelBuilder b(17);
    b.input("x", DType::kFloat32, {int64_t{2}, int64_t{3}, int64_t{4}});
    b.initializer("shape", test::int64_tensor({7}, {1, 2, 1, 3, 1, 4, 1}));
    b.node("Reshape", {"x", "shape"}, {"r"});
    b.node("Sigmoid", {"r"}, {"rs"});
    b.initializer("starts", test::int64_tensor({1}, {1}));
    b.initializer("ends", test::int64_tensor({1}, {3}));
    b.initializer("axes", test::int64_tensor({1}, {3}));
    b.node("Slice", {"rs", "starts", "ends", "axes"}, {"sl"});
    b.node("Mul", {"sl", "sl"}, {"y"});
    b.output("y");
    cases.push_back({"rank7_slice", b.build(), {test::random_tensor({2, 3, 4}, rng)}});
  }
  {
    test::ModelBuilder b(17);
    b.input("x", DType::kFloat32, {int64_t{2}, int64_t{5}});
    b.node("Sigmoid", {"x"}, {"s"});
    b.initializer("starts", test::int64_tensor({1}, {-1}));
    b.initializer("ends", test::int64_tensor({1}, {-10}));
    b.initializer("axes", test::int64_tensor({1}, {0}));
    b.initializer("steps", test::int64_tensor({1}, {-1}));
    b.node("Slice", {"s", "starts", "ends", "axes", "steps"}, {"y"});
    b.output("y");
    cases.push_back({"slice_reverses_batch", b.build(), {test::random_tensor({2, 5}, rng)}});
  }
  {
    test::ModelBuilder b(17);
    b.input("x", DType::kFloat32, {int64_t{2}, int64_t{2}, int64_t{3}});
    b.node("Sigmoid", {"x"}, {"s"});
    b.initializer("axes", test::int64_tensor({1}, {0}));
    b.node("ReduceSum", {"s", "axes"}, {"y"}, {{"keepdims", attr_int(0)}});
    b.output("y");
    cases.push_back({"reduce_over_batch", b.build(), {test::random_tensor({2, 2, 3}, rng)}});
  }
  {
    test::ModelBuilder b(17);
    b.input("x", DType::kFloat32, {int64_t{3}});
    b.node("Sigmoid", {"x"}, {"s"});
    b.node("Softmax", {"s"}, {"y"});
    b.output("y");
    cases.push_back({"softmax_rank1", b.build(), {test::random_tensor({3}, rng, -4.0f, 4.0f)}});
  }
  return cases;
}

double normalized_error(const Tensor& got, const Tensor& ref) {
  double max_ref = 1.0, max_diff = 0.0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    double r = ref.data<float>()[i], g = got.data<float>()[i];
    max_ref = std::max(max_ref, std::abs(r));
    max_diff = std::max(max_diff, std::isfinite(g) ? std::abs(g - r) : 1e30);
  }
  return max_diff / max_ref;
}

std::vector<Tensor> run_on(const Case& c, const std::string& backend, double* median_ms = nullptr,
                           const std::string& precision = "fp32") {
  auto engine = Engine::load_from_memory(
      as_bytes(c.model), {.threads = 2, .backend = backend, .precision = precision}, c.name);
  EXPECT_TRUE(engine.ok()) << engine.status().message();
  if (!engine.ok()) return {};
  std::vector<Tensor> out;
  Status s = engine->run(c.inputs, out);
  EXPECT_TRUE(s.ok()) << s.message();
  std::vector<Tensor> kept;
  for (const Tensor& t : out) kept.push_back(t.clone());
  if (median_ms) {
    std::vector<double> ms;
    for (int i = 0; i < 20; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      (void)engine->run(c.inputs, out);
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    *median_ms = ms[ms.size() / 2];
  }
  return kept;
}

std::vector<Case> all_cases(std::mt19937& rng) {
  std::vector<Case> cases;
  for (int i = 0; i < 3; ++i) {
    cases.push_back(single_conv(rng, false, 1));
    cases.push_back(single_conv(rng, true, 1));
  }
  cases.push_back(single_conv(rng, true, 2));
  cases.push_back(residual_block(rng));
  cases.push_back(residual_block(rng));
  cases.push_back(c2f_block(rng, 1));
  cases.push_back(c2f_block(rng, 3));
  cases.push_back(head_glue(rng, 1));
  cases.push_back(head_glue(rng, 2));
  return cases;
}

void expect_backends_match(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<Tensor> ref = run_on(c, "reference");
    for (const std::string& backend : fast_backends()) {
      SCOPED_TRACE(backend);
      std::vector<Tensor> got = run_on(c, backend);
      ASSERT_EQ(got.size(), ref.size());
      for (size_t i = 0; i < ref.size(); ++i) {
        ASSERT_EQ(got[i].shape(), ref[i].shape());
        EXPECT_LE(normalized_error(got[i], ref[i]), c.tolerance) << "output " << i;
      }
    }
  }
}

TEST(BackendOps, OddShapesMatchReference) {
  uint32_t seed = test::test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  expect_backends_match(odd_shape_cases(rng));
}

TEST(BackendOps, PlainNodesInsideRunsMatchReference) {
  uint32_t seed = test::test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  expect_backends_match(plain_node_cases(rng));
}

TEST(BackendOps, EveryBackendMatchesReference) {
  uint32_t seed = test::test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  const bool perf = std::getenv("FUNGEN_BENCH_OPS") != nullptr;
  for (const Case& c : all_cases(rng)) {
    SCOPED_TRACE(c.name);
    double ref_ms = 0;
    std::vector<Tensor> ref = run_on(c, "reference", perf ? &ref_ms : nullptr);
    for (const std::string& backend : fast_backends()) {
      SCOPED_TRACE(backend);
      double ms = 0;
      std::vector<Tensor> got = run_on(c, backend, perf ? &ms : nullptr);
      ASSERT_EQ(got.size(), ref.size());
      for (size_t i = 0; i < ref.size(); ++i) {
        ASSERT_EQ(got[i].shape(), ref[i].shape());
        double err = normalized_error(got[i], ref[i]);
        EXPECT_LE(err, c.tolerance) << "output " << i;
      }
      if (perf)
        std::printf("[perf] %-28s reference %8.3f ms  %s %8.3f ms\n", c.name.c_str(), ref_ms,
                    backend.c_str(), ms);
    }
  }
}

#ifdef FUNGEN_HAVE_ONEDNN
// bf16 on the cpu backend: activations and weights rounded to 8 significant bits, so a few 1e-3
// relative; a misplaced channel (layout, concat offsets) would be off by O(1).
TEST(BackendOps, CpuBf16CloseToReference) {
  uint32_t seed = test::test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  for (const Case& c : {c2f_block(rng, 1), c2f_block(rng, 3), residual_block(rng)}) {
    SCOPED_TRACE(c.name);
    std::vector<Tensor> ref = run_on(c, "reference");
    std::vector<Tensor> got = run_on(c, "cpu", nullptr, "bf16");
    ASSERT_EQ(got.size(), ref.size());
    for (size_t i = 0; i < ref.size(); ++i) {
      ASSERT_EQ(got[i].shape(), ref[i].shape());
      EXPECT_LE(normalized_error(got[i], ref[i]), 3e-2) << "output " << i;
    }
  }
}
#endif

// Fusion changes nothing on the reference backend: same bits as the unfused graph.
TEST(BackendOps, FusedReferenceEqualsUnfusedExactly) {
  uint32_t seed = test::test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  std::vector<Case> cases = {residual_block(rng), c2f_block(rng, 2), single_conv(rng, true, 2)};
  auto reference = make_reference_backend();
  Backend* order[] = {reference.get()};
  ThreadPool pool(2);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto g = import_onnx_model(as_bytes(c.model), c.name);
    ASSERT_TRUE(g.ok()) << g.status().message();
    ASSERT_TRUE(bind_schemas(*g).ok());
    std::vector<Shape> shapes;
    for (const Tensor& t : c.inputs) shapes.push_back(t.shape());
    auto plain = ExecutionPlan::build(*g, shapes, order, &pool, false);
    auto fused = ExecutionPlan::build(*g, shapes, order, &pool, true);
    ASSERT_TRUE(plain.ok() && fused.ok());
    size_t fused_convs = 0;
    for (const Node& n : (*fused)->graph().nodes) fused_convs += n.op_type == "FusedConv";
    EXPECT_GT(fused_convs, 0u);
    EXPECT_LT((*fused)->graph().nodes.size(), (*plain)->graph().nodes.size());
    std::vector<Tensor> a, b;
    ASSERT_TRUE((*plain)->run(c.inputs, a).ok());
    ASSERT_TRUE((*fused)->run(c.inputs, b).ok());
    for (size_t i = 0; i < a.size(); ++i) {
      for (int64_t k = 0; k < a[i].numel(); ++k)
        ASSERT_EQ(a[i].data<float>()[k], b[i].data<float>()[k]) << k;
    }
  }
}

TEST(BackendOps, ModelFilesCannotNameInternalOps) {
  test::ModelBuilder b(17);
  b.input("x", DType::kFloat32, {int64_t{1}, int64_t{1}, int64_t{3}, int64_t{3}});
  b.initializer("w", Tensor(DType::kFloat32, {1, 1, 1, 1}));
  b.node("FusedConv", {"x", "w"}, {"y"});
  b.output("y");
  auto e = Engine::load_from_memory(as_bytes(b.build()));
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("FusedConv"), std::string::npos);
}

#ifdef FUNGEN_HAVE_ONEDNN
TEST(BackendOps, CpuBackendTakesTheWholeYoloLikeGraph) {
  std::mt19937 rng(test::test_seed());
  Case c = c2f_block(rng, 2);
  auto engine = Engine::load_from_memory(as_bytes(c.model), {.threads = 2});
  ASSERT_TRUE(engine.ok());
  std::vector<Tensor> out;
  ASSERT_TRUE(engine->run(c.inputs, out).ok());
  EXPECT_EQ(engine->nodes_on("reference"), 0u);
  EXPECT_GT(engine->nodes_on("cpu"), 0u);
}

TEST(BackendOps, CpuSecondInferenceAllocatesNoBuffers) {
  std::mt19937 rng(test::test_seed());
  Case c = c2f_block(rng, 2);
  auto engine = Engine::load_from_memory(as_bytes(c.model), {.threads = 2});
  ASSERT_TRUE(engine.ok());
  std::vector<Tensor> out;
  ASSERT_TRUE(engine->run(c.inputs, out).ok());
  size_t before = buffer_allocation_count();
  ASSERT_TRUE(engine->run(c.inputs, out).ok());
  ASSERT_TRUE(engine->run(c.inputs, out).ok());
  EXPECT_EQ(buffer_allocation_count(), before);
}
#endif

}  // namespace
}  // namespace fungen
