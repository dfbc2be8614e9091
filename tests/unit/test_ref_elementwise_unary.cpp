// Reference kernels of the unary elementwise ops against double-precision oracles on random,
// odd-sized inputs; each case runs serially and through a thread pool.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "test_ref_nn_common.h"

namespace fungen::test {
namespace {

struct UnaryCase {
  const char* op;
  double lo, hi;             // input range
  double (*oracle)(double);  // written independently of the kernel where the math allows
  AttrList attrs;
  int64_t opset = 17;
  double atol = 1e-6, rtol = 2e-6;
};

double sigmoid_via_tanh(double x) {
  return 0.5 * (1.0 + std::tanh(0.5 * x));
}
double softplus_direct(double x) {
  return x > 30 ? x : std::log(1.0 + std::exp(x));
}

// Attribute values are float in ONNX, so oracles use the float-rounded constants.
const UnaryCase kUnaryCases[] = {
    {"Abs", -5, 5, [](double x) { return x < 0 ? -x : x; }, {}},
    {"Neg", -5, 5, [](double x) { return -x; }, {}},
    {"Exp", -20, 20, [](double x) { return std::exp(x); }, {}},
    {"Log", 0.01, 100, [](double x) { return std::log(x); }, {}},
    {"Sqrt", 0, 100, [](double x) { return std::sqrt(x); }, {}},
    {"Reciprocal", 0.1, 10, [](double x) { return 1.0 / x; }, {}},
    {"Floor", -10, 10, [](double x) { return std::floor(x); }, {}, 17, 0, 0},
    {"Ceil", -10, 10, [](double x) { return std::ceil(x); }, {}, 17, 0, 0},
    {"Sigmoid", -100, 100, sigmoid_via_tanh, {}, 17, 1e-7, 1e-6},
    {"Sigmoid", -8, 8, sigmoid_via_tanh, {}, 17, 1e-7, 1e-6},
    {"Tanh", -10, 10, [](double x) { return std::tanh(x); }, {}},
    {"Relu", -5, 5, [](double x) { return x > 0 ? x : 0.0; }, {}, 17, 0, 0},
    {"LeakyRelu",
     -5,
     5,
     [](double x) { return x > 0 ? x : double{0.1f} * x; },
     {{"alpha", attr_float(0.1f)}}},
    {"LeakyRelu", -5, 5, [](double x) { return x > 0 ? x : double{0.01f} * x; }, {}},
    {"Elu",
     -5,
     5,
     [](double x) { return x > 0 ? x : double{0.7f} * std::expm1(x); },
     {{"alpha", attr_float(0.7f)}}},
    {"Selu",
     -5,
     5,
     [](double x) {
       return double{1.05070102f} * (x > 0 ? x : double{1.67326319f} * std::expm1(x));
     },
     {}},
    {"Celu",
     -5,
     5,
     [](double x) { return x > 0 ? x : 1.5 * std::expm1(x / 1.5); },
     {{"alpha", attr_float(1.5f)}}},
    {"ThresholdedRelu",
     -2,
     2,
     [](double x) { return x > 0.5 ? x : 0.0; },
     {{"alpha", attr_float(0.5f)}}},
    {"HardSigmoid",
     -5,
     5,
     [](double x) { return std::clamp(double{0.3f} * x + double{0.4f}, 0.0, 1.0); },
     {{"alpha", attr_float(0.3f)}, {"beta", attr_float(0.4f)}}},
    {"HardSwish", -6, 6, [](double x) { return x * std::clamp(x + 3.0, 0.0, 6.0) / 6.0; }, {}},
    {"Softplus", -40, 40, softplus_direct, {}},
    {"Softsign", -5, 5, [](double x) { return x / (1.0 + std::fabs(x)); }, {}},
    {"Mish", -10, 10, [](double x) { return x * std::tanh(softplus_direct(x)); }, {}, 18},
    {"Gelu", -5, 5, [](double x) { return x * 0.5 * std::erfc(-x / std::sqrt(2.0)); }, {}, 20},
    {"Gelu",
     -5,
     5,
     [](double x) {
       return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
     },
     {{"approximate", attr_string("tanh")}},
     20},
    {"Erf", -3, 3, [](double x) { return 1.0 - std::erfc(x); }, {}},
    {"Sin", -6, 6, [](double x) { return std::sin(x); }, {}},
    {"Cos", -6, 6, [](double x) { return std::cos(x); }, {}},
    {"Tan", -1.2, 1.2, [](double x) { return std::tan(x); }, {}},
    {"Asin", -0.99, 0.99, [](double x) { return std::asin(x); }, {}},
    {"Acos", -0.99, 0.99, [](double x) { return std::acos(x); }, {}},
    {"Atan", -5, 5, [](double x) { return std::atan(x); }, {}},
    {"Sinh", -5, 5, [](double x) { return (std::exp(x) - std::exp(-x)) / 2; }, {}},
    {"Cosh", -5, 5, [](double x) { return (std::exp(x) + std::exp(-x)) / 2; }, {}},
    {"Asinh", -5, 5, [](double x) { return std::log(x + std::sqrt(x * x + 1)); }, {}},
    {"Acosh", 1.01, 10, [](double x) { return std::log(x + std::sqrt(x * x - 1)); }, {}},
    {"Atanh",
     -0.99,
     0.99,
     [](double x) { return 0.5 * std::log((1 + x) / (1 - x)); },
     {},
     17,
     1e-5,
     1e-5},
    {"Sign", -3, 3, [](double x) { return static_cast<double>((x > 0) - (x < 0)); }, {}, 17, 0, 0},
    {"Shrink",
     -2,
     2,
     [](double x) { return std::fabs(x) <= 0.5 ? 0.0 : x - std::copysign(0.25, x); },
     {{"bias", attr_float(0.25f)}, {"lambd", attr_float(0.5f)}}},
};

const Shape kUnaryShapes[] = {{3, 5, 7}, {1}, {}, {2, 3, 67, 71}};

TEST(RefElementwiseUnary, MatchesOracleOnRandomInputs) {
  const uint32_t seed = test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  for (const UnaryCase& c : kUnaryCases) {
    for (const Shape& shape : kUnaryShapes) {
      for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
        SCOPED_TRACE(std::string(c.op) + " " + shape_to_string(shape) + " " + dtype_name(dtype));
        Tensor x = random_typed(dtype, shape, rng, c.lo, c.hi);
        std::vector<double> want(static_cast<size_t>(x.numel()));
        for (int64_t i = 0; i < x.numel(); ++i)
          want[static_cast<size_t>(i)] = c.oracle(element(x, i));
        const double tol_scale = dtype == DType::kFloat64 ? 1e-3 : 1.0;
        auto out = run_op(c.op, {x}, c.attrs, c.opset);
        ASSERT_TRUE(out.ok()) << out.status().message();
        EXPECT_EQ(out.value()[0].dtype(), dtype);
        expect_close(out.value()[0], want, c.atol * tol_scale, c.rtol * tol_scale, "serial");
        auto pooled = run_op_pooled(c.op, {x}, c.attrs, c.opset, test_pool());
        ASSERT_TRUE(pooled.ok()) << pooled.status().message();
        expect_close(pooled.value()[0], want, c.atol * tol_scale, c.rtol * tol_scale, "pooled");
      }
    }
  }
}

// Halves round to even; the oracle finds the nearest integer by floor and breaks ties itself.
TEST(RefElementwiseUnary, RoundHalvesToEven) {
  const uint32_t seed = test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  Tensor x(DType::kFloat32, {5, 9});
  std::uniform_int_distribution<int> halves(-40, 40);
  for (int64_t i = 0; i < x.numel(); ++i) {
    x.data<float>()[i] = i % 2 ? static_cast<float>(halves(rng)) * 0.5f
                               : std::uniform_real_distribution<float>(-9, 9)(rng);
  }
  std::vector<double> want;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const double v = x.data<float>()[i];
    double r = std::floor(v);
    const double frac = v - r;
    if (frac > 0.5 || (frac == 0.5 && std::fmod(r, 2.0) != 0.0)) r += 1;
    want.push_back(r);
  }
  auto out = run_op("Round", {x});
  ASSERT_TRUE(out.ok()) << out.status().message();
  expect_close(out.value()[0], want, 0, 0);
}

struct IntUnaryCase {
  const char* op;
  DType dtype;
  double lo, hi;
  double (*oracle)(double);
};

const IntUnaryCase kIntUnaryCases[] = {
    {"Abs", DType::kInt32, -100, 100, [](double x) { return std::fabs(x); }},
    {"Abs", DType::kInt8, -100, 100, [](double x) { return std::fabs(x); }},
    {"Abs", DType::kUInt8, 0, 255, [](double x) { return x; }},
    {"Neg", DType::kInt64, -1000, 1000, [](double x) { return -x; }},
    {"Neg", DType::kInt8, -100, 100, [](double x) { return -x; }},
    {"Relu", DType::kInt32, -100, 100, [](double x) { return std::max(x, 0.0); }},
    {"Sign", DType::kInt64, -5, 5, [](double x) { return static_cast<double>((x > 0) - (x < 0)); }},
    {"Sign", DType::kUInt16, 0, 5, [](double x) { return x > 0 ? 1.0 : 0.0; }},
    {"Not", DType::kBool, 0, 1, [](double x) { return x != 0 ? 0.0 : 1.0; }},
};

TEST(RefElementwiseUnary, IntegerAndBoolDtypes) {
  const uint32_t seed = test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  for (const IntUnaryCase& c : kIntUnaryCases) {
    SCOPED_TRACE(std::string(c.op) + " " + dtype_name(c.dtype));
    Tensor x = random_typed(c.dtype, {3, 11, 5}, rng, c.lo, c.hi);
    std::vector<double> want;
    for (int64_t i = 0; i < x.numel(); ++i) want.push_back(c.oracle(element(x, i)));
    auto out = run_op(c.op, {x});
    ASSERT_TRUE(out.ok()) << out.status().message();
    EXPECT_EQ(out.value()[0].dtype(), c.dtype);
    expect_close(out.value()[0], want, 0, 0);
  }
}

TEST(RefElementwiseUnary, DropoutIsIdentityInInference) {
  const uint32_t seed = test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  Tensor x = random_tensor({3, 7, 5}, rng);
  std::vector<double> same, ones(static_cast<size_t>(x.numel()), 1.0);
  for (int64_t i = 0; i < x.numel(); ++i) same.push_back(element(x, i));
  Tensor not_training(DType::kBool, {});
  auto out = run_op(
      "Dropout", {x, scalar_tensor(DType::kFloat32, 0.3), OpInput(not_training, true)}, {}, 13, 2);
  ASSERT_TRUE(out.ok()) << out.status().message();
  expect_close(out.value()[0], same, 0, 0);
  expect_close(out.value()[1], ones, 0, 0);
  Tensor training(DType::kBool, {});
  training.data<bool>()[0] = true;
  EXPECT_FALSE(run_op("Dropout", {x, Tensor(), OpInput(training, true)}, {}, 13).ok());
  EXPECT_FALSE(run_op("Dropout", {x, Tensor(), OpInput(training, false)}, {}, 13).ok());
}

TEST(RefElementwiseUnary, IsNaNAndIsInf) {
  Tensor x(DType::kFloat32, {6});
  const float inf = std::numeric_limits<float>::infinity();
  const float vals[] = {1.0f, NAN, inf, -inf, 0.0f, -2.0f};
  std::memcpy(x.raw(), vals, sizeof(vals));
  auto nan = run_op("IsNaN", {x});
  ASSERT_TRUE(nan.ok()) << nan.status().message();
  expect_close(nan.value()[0], {0, 1, 0, 0, 0, 0}, 0, 0);
  auto inf_all = run_op("IsInf", {x});
  ASSERT_TRUE(inf_all.ok()) << inf_all.status().message();
  expect_close(inf_all.value()[0], {0, 0, 1, 1, 0, 0}, 0, 0);
  auto inf_pos = run_op("IsInf", {x}, {{"detect_negative", attr_int(0)}});
  ASSERT_TRUE(inf_pos.ok()) << inf_pos.status().message();
  expect_close(inf_pos.value()[0], {0, 0, 1, 0, 0, 0}, 0, 0);
}

struct ClipCase {
  const char* name;
  DType dtype;
  int64_t opset;
  bool has_min, has_max;
  double min, max;
};

const ClipCase kClipCases[] = {
    {"inputs both", DType::kFloat32, 13, true, true, -0.3, 0.6},
    {"input min only", DType::kFloat32, 13, true, false, -0.3, 0},
    {"input max only", DType::kFloat64, 12, false, true, 0, 0.2},
    {"no bounds", DType::kFloat32, 13, false, false, 0, 0},
    {"int8 inputs", DType::kInt8, 13, true, true, -20, 30},
    {"int64 inputs", DType::kInt64, 13, true, true, -5, 70},
    {"attributes", DType::kFloat32, 6, true, true, -0.25, 0.5},
};

TEST(RefElementwiseUnary, Clip) {
  const uint32_t seed = test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  for (const ClipCase& c : kClipCases) {
    SCOPED_TRACE(c.name);
    const bool integral = c.dtype != DType::kFloat32 && c.dtype != DType::kFloat64;
    Tensor x = random_typed(c.dtype, {4, 3, 9}, rng, integral ? -100 : -1, integral ? 100 : 1);
    std::vector<OpInput> inputs = {x};
    AttrList attrs;
    if (c.opset >= 11) {
      inputs.push_back(c.has_min ? scalar_tensor(c.dtype, c.min) : Tensor());
      if (c.has_max) inputs.push_back(scalar_tensor(c.dtype, c.max));
    } else {
      if (c.has_min) attrs.push_back({"min", attr_float(static_cast<float>(c.min))});
      if (c.has_max) attrs.push_back({"max", attr_float(static_cast<float>(c.max))});
    }
    std::vector<double> want;
    for (int64_t i = 0; i < x.numel(); ++i) {
      double v = element(x, i);
      if (c.has_min && v < c.min) v = c.min;
      if (c.has_max && v > c.max) v = c.max;
      want.push_back(v);
    }
    auto out = run_op("Clip", inputs, attrs, c.opset);
    ASSERT_TRUE(out.ok()) << out.status().message();
    expect_close(out.value()[0], want, 1e-7, 0);
  }
}

struct UnaryErrorCase {
  const char* name;
  const char* op;
  DType dtype;
  AttrList attrs;
  int64_t opset;
  int extra_inputs;
};

const UnaryErrorCase kUnaryErrorCases[] = {
    {"Gelu bad approximate",
     "Gelu",
     DType::kFloat32,
     {{"approximate", attr_string("fast")}},
     20,
     0},
    {"Sigmoid int32", "Sigmoid", DType::kInt32, {}, 17, 0},
    {"Sqrt int64", "Sqrt", DType::kInt64, {}, 17, 0},
    {"Neg uint8", "Neg", DType::kUInt8, {}, 17, 0},
    {"Not float", "Not", DType::kFloat32, {}, 17, 0},
    {"Exp float16", "Exp", DType::kFloat16, {}, 17, 0},
    {"Clip attr at opset 13", "Clip", DType::kFloat32, {{"min", attr_float(0)}}, 13, 0},
    {"Relu two inputs", "Relu", DType::kFloat32, {}, 17, 1},
};

TEST(RefElementwiseUnary, RejectsBadAttributesAndDtypes) {
  for (const UnaryErrorCase& c : kUnaryErrorCases) {
    SCOPED_TRACE(c.name);
    std::vector<OpInput> inputs = {Tensor(c.dtype, {2, 3})};
    for (int i = 0; i < c.extra_inputs; ++i) inputs.push_back(Tensor(c.dtype, {2, 3}));
    auto out = run_op(c.op, inputs, c.attrs, c.opset);
    EXPECT_FALSE(out.ok());
    if (!out.ok())
      EXPECT_NE(out.status().message().find(c.op), std::string::npos) << out.status().message();
  }
}

}  // namespace
}  // namespace fungen::test
