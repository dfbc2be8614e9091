// int8 convolutions of the cpu backend against the fp32 reference on fresh random inputs: a single
// convolution must stay within the bound its quantization implies, chains within a few percent,
// and the int8 path must really run (its error is above fp32 rounding). Calibration comes from
// the backend's own recording of an fp32 run (EngineOptions::record_ranges).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "fungen/engine.h"
#include "fungen/log.h"
#include "model_builder.h"
#include "op_test_util.h"

#ifdef FUNGEN_HAVE_ONEDNN
namespace fungen {
namespace {

using test::attr_int;
using test::attr_ints;

std::span<const uint8_t> as_bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

int64_t pick(std::mt19937& rng, int64_t lo, int64_t hi) {
  return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
}

std::vector<Tensor> run(const std::string& model, const Tensor& x, EngineOptions o) {
  o.threads = 2;
  auto engine = Engine::load_from_memory(as_bytes(model), o, "int8_case");
  EXPECT_TRUE(engine.ok()) << engine.status().message();
  if (!engine.ok()) return {};
  std::vector<Tensor> out;
  Status s = engine->run({&x, 1}, out);
  EXPECT_TRUE(s.ok()) << s.message();
  std::vector<Tensor> kept;
  for (const Tensor& t : out) kept.push_back(t.clone());
  return kept;
}

std::shared_ptr<const CalibrationTable> record(const std::string& model, const Tensor& x) {
  auto table = std::make_shared<CalibrationTable>();
  run(model, x, {.backend = "cpu", .record_ranges = table});
  EXPECT_FALSE(table->absmax.empty()) << "the fp32 run recorded no convolution input";
  EXPECT_EQ(table->p9999.size(), table->absmax.size());
  for (const auto& [name, p] : table->p9999) EXPECT_LE(p, table->absmax[name]) << name;
  // Quantize to the largest |x| (no clipping): the bounds below assume it.
  table->p9999 = table->absmax;
  return table;
}

std::vector<Tensor> run_int8(const std::string& model, const Tensor& x) {
  return run(model, x, {.backend = "cpu", .precision = "int8", .calibration = record(model, x)});
}

// The convolutions of these small models read the image's resolution, which int8 leaves to bf16
// (int8_excluded's fine levels) unless told otherwise.
struct QuantizeFineLevels {
  QuantizeFineLevels() { setenv("FUNGEN_INT8_FINE_LEVELS", "int8", 1); }
  ~QuantizeFineLevels() { unsetenv("FUNGEN_INT8_FINE_LEVELS"); }
};

float absmax(const float* p, int64_t n) {
  float m = 0;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::abs(p[i]));
  return m;
}

TEST(CpuInt8, SingleConvWithinQuantizationBound) {
  QuantizeFineLevels fine;
  uint32_t seed = test::test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  for (int round = 0; round < 6; ++round) {
    const bool depthwise = round == 5, silu = round % 2 == 1;
    const int64_t c = depthwise ? 16 * pick(rng, 1, 2) : pick(rng, 1, 40);
    const int64_t m = depthwise ? c : pick(rng, 1, 40), k = depthwise || pick(rng, 0, 1) ? 3 : 1;
    const int64_t h = pick(rng, 5, 23), w = pick(rng, 5, 23), stride = pick(rng, 1, 2);
    const int64_t group = depthwise ? c : 1;
    SCOPED_TRACE("c " + std::to_string(c) + " m " + std::to_string(m) + " k " + std::to_string(k) +
                 (silu ? " silu" : "") + (depthwise ? " depthwise" : ""));
    const float a = 1.5f / std::sqrt(static_cast<float>(c / group * k * k));
    Tensor wt = test::random_tensor({m, c / group, k, k}, rng, -a, a);
    Tensor bt = test::random_tensor({m}, rng, -0.5f, 0.5f);
    // Round 0 without negative inputs (u8, like the image), the others with (s8, zero point).
    Tensor x = test::random_tensor({1, c, h, w}, rng, round == 0 ? 0.0f : -2.0f, 3.0f);
    test::ModelBuilder b(17);
    b.input("x", DType::kFloat32, {1, c, h, w});
    b.initializer("w", wt);
    b.initializer("b", bt);
    b.node("Conv", {"x", "w", "b"}, {silu ? "c" : "y"},
           {{"kernel_shape", attr_ints({k, k})},
            {"pads", attr_ints({k / 2, k / 2, k / 2, k / 2})},
            {"strides", attr_ints({stride, stride})},
            {"group", attr_int(group)}});
    if (silu) {
      b.node("Sigmoid", {"c"}, {"s"});
      b.node("Mul", {"c", "s"}, {"y"});
    }
    // A second convolution reads y: the last convolution of a branch stays fp32, so y's would too.
    b.initializer("w2", test::random_tensor({3, m, 1, 1}, rng, -0.3f, 0.3f));
    b.node("Conv", {"y", "w2"}, {"z"}, {{"kernel_shape", attr_ints({1, 1})}});
    b.output("y");
    b.output("z");
    const std::string model = b.build();
    std::vector<Tensor> ref = run(model, x, {.backend = "reference"});
    std::vector<Tensor> got = run_int8(model, x);
    ASSERT_EQ(got.size(), 2u);
    ASSERT_EQ(got[0].shape(), ref[0].shape());
    // |Δ(w·x)| <= Σ |w| s_x/2 + Σ |x| s_w/2 + K s_x s_w/4 per output channel (K terms); SiLU's
    // slope is below 1.1.
    const float sx = absmax(x.data<float>(), x.numel()) / 127.0f;
    const float xmax = absmax(x.data<float>(), x.numel());
    const int64_t per = wt.numel() / m;
    const int64_t oh = ref[0].shape()[2], ow = ref[0].shape()[3];
    double worst = 0, above_fp32 = 0;
    for (int64_t o = 0; o < m; ++o) {
      const float* wp = wt.data<float>() + o * per;
      double l1 = 0;
      for (int64_t i = 0; i < per; ++i) l1 += std::abs(wp[i]);
      const double sw = absmax(wp, per) / 127.0;
      const double bound = (l1 * sx / 2 + per * xmax * sw / 2 + per * sx * sw / 4) * 1.1 + 1e-5;
      for (int64_t i = 0; i < oh * ow; ++i) {
        const double r = ref[0].data<float>()[o * oh * ow + i];
        const double g = got[0].data<float>()[o * oh * ow + i];
        const double err = std::abs(g - r);
        worst = std::max(worst, err / bound);
        above_fp32 = std::max(above_fp32, err);
      }
    }
    EXPECT_LE(worst, 1.0) << "int8 error beyond the quantization bound";
    EXPECT_GT(above_fp32, 1e-4) << "no quantization error: the int8 path did not run";
  }
}

// conv+SiLU → conv+SiLU → + x (residual) → 1x1 conv (int8, no activation) → two 1x1 convs+SiLU
// (fp32, last of their branches; two, so that the 1x1 conv before them is no head chain): the
// values between int8 convolutions stay u8.
TEST(CpuInt8, ConvChainCloseToReference) {
  QuantizeFineLevels fine;
  uint32_t seed = test::test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  const int64_t c = 16 * pick(rng, 1, 2), h = pick(rng, 6, 19), w = pick(rng, 6, 19);
  test::ModelBuilder b(17);
  b.input("x", DType::kFloat32, {1, c, h, w});
  auto conv_silu = [&](const std::string& in, const std::string& name, int64_t k) {
    const float a = 1.5f / std::sqrt(static_cast<float>(c * k * k));
    b.initializer(name + "_w", test::random_tensor({c, c, k, k}, rng, -a, a));
    b.initializer(name + "_b", test::random_tensor({c}, rng, -0.5f, 0.5f));
    b.node(
        "Conv", {in, name + "_w", name + "_b"}, {name + "_c"},
        {{"kernel_shape", attr_ints({k, k})}, {"pads", attr_ints({k / 2, k / 2, k / 2, k / 2})}});
    b.node("Sigmoid", {name + "_c"}, {name + "_s"});
    b.node("Mul", {name + "_c", name + "_s"}, {name});
  };
  conv_silu("x", "a", 3);
  conv_silu("a", "r", 3);
  b.node("Add", {"x", "r"}, {"s"});
  // A conv without activation into another: its requantization folds into the output scale.
  const float a1 = 1.5f / std::sqrt(static_cast<float>(c));
  b.initializer("t_w", test::random_tensor({c, c, 1, 1}, rng, -a1, a1));
  b.node("Conv", {"s", "t_w"}, {"t"}, {{"kernel_shape", attr_ints({1, 1})}});
  conv_silu("t", "y", 1);
  conv_silu("t", "y2", 1);
  b.output("y");
  b.output("y2");
  const std::string model = b.build();
  Tensor x = test::random_tensor({1, c, h, w}, rng, -1.0f, 2.0f);
  std::vector<Tensor> ref = run(model, x, {.backend = "reference"});
  std::vector<Tensor> got = run_int8(model, x);
  ASSERT_EQ(got.size(), 2u);
  ASSERT_EQ(got[0].shape(), ref[0].shape());
  const float* r = ref[0].data<float>();
  const float* g = got[0].data<float>();
  double max_ref = 0, max_err = 0;
  for (int64_t i = 0; i < ref[0].numel(); ++i) {
    max_ref = std::max(max_ref, static_cast<double>(std::abs(r[i])));
    max_err = std::max(max_err, static_cast<double>(std::abs(g[i] - r[i])));
  }
  // Four quantized tensors of 8 bits on the way: a few steps of 1/127 of their ranges.
  EXPECT_LE(max_err / max_ref, 0.05);
  EXPECT_GT(max_err / max_ref, 1e-5) << "no quantization error: the int8 path did not run";
}

// Convolutions stay out of int8 by their place in the graph: one that reads the image's
// resolution (a 1x1 of stride 16, the fine levels), and the detect head's branches: a feature
// map with several readers feeds two chains of convolutions (box: three, class: two) whose last
// convolutions are outputs. The two convolutions between, at 1/16 of the image, are int8.
TEST(CpuInt8, HeadBranchesStayOutOfInt8) {
  uint32_t seed = test::test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  const int64_t c = 16, h = 16 * pick(rng, 3, 6), w = 16 * pick(rng, 3, 6);
  test::ModelBuilder b(17);
  b.input("x", DType::kFloat32, {1, c, h, w});
  int n = 0;
  // Conv_<n> (the builder's node names count all nodes), optionally with SiLU.
  auto conv = [&](const std::string& in, const std::string& out, bool silu) {
    const std::string name = "Conv_" + std::to_string(n);
    const float a = 1.5f / std::sqrt(static_cast<float>(c * 9));
    b.initializer(out + "_w", test::random_tensor({c, c, 3, 3}, rng, -a, a));
    b.node("Conv", {in, out + "_w"}, {silu ? out + "_c" : out},
           {{"kernel_shape", attr_ints({3, 3})}, {"pads", attr_ints({1, 1, 1, 1})}});
    ++n;
    if (silu) {
      b.node("Sigmoid", {out + "_c"}, {out + "_s"});
      b.node("Mul", {out + "_c", out + "_s"}, {out});
      n += 2;
    }
    return name;
  };
  b.initializer("s_w", test::random_tensor({c, c, 1, 1}, rng, -0.4f, 0.4f));
  b.node("Conv", {"x", "s_w"}, {"s"},
         {{"kernel_shape", attr_ints({1, 1})}, {"strides", attr_ints({16, 16})}});
  ++n;
  const std::vector<std::string> int8 = {conv("s", "p", true), conv("p", "f", true)};
  const std::vector<std::string> excluded = {"Conv_0",
                                             conv("f", "b0", true),
                                             conv("b0", "b1", true),
                                             conv("b1", "box", false),
                                             conv("f", "c0", true),
                                             conv("c0", "cls", false)};
  b.output("box");
  b.output("cls");
  const std::string model = b.build();
  Tensor x = test::random_tensor({1, c, h, w}, rng, -1.0f, 2.0f);
  auto calibration = record(model, x);
  // The per-step log names how each convolution ran.
  std::string log;
  set_log_sink([&](LogLevel, std::string_view m) { (log += m) += '\n'; });
  set_log_level(LogLevel::kDebug);
  run(model, x, {.backend = "cpu", .precision = "int8", .calibration = calibration});
  set_log_level(LogLevel::kWarn);
  set_log_sink(nullptr);
  for (const std::string& name : int8)
    EXPECT_NE(log.find(name + " (conv int8"), std::string::npos) << name << " is not int8:\n"
                                                                 << log;
  for (const std::string& name : excluded) {
    EXPECT_NE(log.find(name + " "), std::string::npos) << name << " did not run:\n" << log;
    EXPECT_EQ(log.find(name + " (conv int8"), std::string::npos)
        << name << " (out of int8 by its place) ran in int8:\n"
        << log;
  }
}

TEST(CpuInt8, WithoutCalibrationSaysToCalibrate) {
  test::ModelBuilder b(17);
  b.input("x", DType::kFloat32, {1, 1, 4, 4});
  b.node("Sigmoid", {"x"}, {"y"});
  b.output("y");
  auto engine = Engine::load_from_memory(as_bytes(b.build()), {.precision = "int8"}, "m");
  ASSERT_FALSE(engine.ok());
  EXPECT_NE(engine.status().message().find("--calibrate"), std::string::npos)
      << engine.status().message();
}

}  // namespace
}  // namespace fungen
#endif
