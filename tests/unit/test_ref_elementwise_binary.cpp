// Reference kernels of the broadcasting elementwise ops against oracles that index every output
// element through its own numpy-broadcast arithmetic, on random odd shapes.
#include <gtest/gtest.h>

#include <cmath>

#include "test_ref_nn_common.h"

namespace fungen::test {
namespace {

// Numpy broadcast of shapes, written out independently of the engine's helper.
Shape numpy_broadcast(const std::vector<Shape>& shapes) {
  size_t rank = 0;
  for (const Shape& s : shapes) rank = std::max(rank, s.size());
  Shape out(rank, 1);
  for (const Shape& s : shapes) {
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t& o = out[rank - s.size() + i];
      if (s[i] != 1) o = s[i];
    }
  }
  return out;
}

// want[i] = f(a[bcast], b[bcast]) over the broadcast output.
std::vector<double> oracle2(const Tensor& a, const Tensor& b, double (*f)(double, double)) {
  const Shape out = numpy_broadcast({a.shape(), b.shape()});
  std::vector<double> want(static_cast<size_t>(shape_numel(out)));
  for (int64_t i = 0; i < shape_numel(out); ++i) {
    const auto idx = unravel(i, out);
    want[static_cast<size_t>(i)] =
        f(element(a, broadcast_index(idx, a.shape())), element(b, broadcast_index(idx, b.shape())));
  }
  return want;
}

struct BinaryOp {
  const char* op;
  double (*oracle)(double, double);
  bool compare;  // output bool
  double a_lo, a_hi, b_lo, b_hi;
  bool integer_valued;  // round random floats so equality occurs
  AttrList attrs;
};

const BinaryOp kFloatOps[] = {
    {"Add", [](double a, double b) { return a + b; }, false, -3, 3, -3, 3, false, {}},
    {"Sub", [](double a, double b) { return a - b; }, false, -3, 3, -3, 3, false, {}},
    {"Mul", [](double a, double b) { return a * b; }, false, -3, 3, -3, 3, false, {}},
    {"Div", [](double a, double b) { return a / b; }, false, -3, 3, 0.5, 4, false, {}},
    {"Pow",
     [](double a, double b) { return std::exp(b * std::log(a)); },
     false,
     0.1,
     3,
     -2,
     2,
     false,
     {}},
    {"Max", [](double a, double b) { return a > b ? a : b; }, false, -3, 3, -3, 3, false, {}},
    {"Min", [](double a, double b) { return a < b ? a : b; }, false, -3, 3, -3, 3, false, {}},
    {"Mod",
     [](double a, double b) { return a - std::trunc(a / b) * b; },
     false,
     -9,
     9,
     0.5,
     4,
     false,
     {{"fmod", attr_int(1)}}},
    {"Equal", [](double a, double b) { return a == b ? 1.0 : 0.0; }, true, -2, 2, -2, 2, true, {}},
    {"Less", [](double a, double b) { return a < b ? 1.0 : 0.0; }, true, -2, 2, -2, 2, true, {}},
    {"Greater", [](double a, double b) { return a > b ? 1.0 : 0.0; }, true, -2, 2, -2, 2, true, {}},
    {"LessOrEqual",
     [](double a, double b) { return a <= b ? 1.0 : 0.0; },
     true,
     -2,
     2,
     -2,
     2,
     true,
     {}},
    {"GreaterOrEqual",
     [](double a, double b) { return a >= b ? 1.0 : 0.0; },
     true,
     -2,
     2,
     -2,
     2,
     true,
     {}},
};

struct ShapePair {
  Shape a, b;
};

const ShapePair kShapePairs[] = {
    {{2, 3, 5, 7}, {2, 3, 5, 7}},      // same shape
    {{3, 5, 7}, {}},                   // scalar
    {{}, {3, 5, 7}},                   // scalar first
    {{2, 5, 7, 9}, {1, 5, 1, 1}},      // per channel
    {{5, 1}, {1, 7}},                  // outer product
    {{3, 1, 7}, {4, 1}},               // both broadcast, ranks differ
    {{7}, {3, 1, 7}},                  // lower rank first
    {{1, 64, 41, 43}, {1, 64, 1, 1}},  // large: parallel path
    {{1, 1, 1}, {1}},
    {{2, 0, 3}, {1, 3}},  // empty
};

TEST(RefElementwiseBinary, FloatOpsMatchOracle) {
  const uint32_t seed = test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  for (const BinaryOp& op : kFloatOps) {
    for (const ShapePair& sp : kShapePairs) {
      for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
        SCOPED_TRACE(std::string(op.op) + " " + shape_to_string(sp.a) + " " +
                     shape_to_string(sp.b) + " " + dtype_name(dtype));
        Tensor a = random_typed(dtype, sp.a, rng, op.a_lo, op.a_hi);
        Tensor b = random_typed(dtype, sp.b, rng, op.b_lo, op.b_hi);
        if (op.integer_valued) {
          for (int64_t i = 0; i < a.numel(); ++i) set_element(a, i, std::round(element(a, i)));
          for (int64_t i = 0; i < b.numel(); ++i) set_element(b, i, std::round(element(b, i)));
        }
        const std::vector<double> want = oracle2(a, b, op.oracle);
        const double tol = dtype == DType::kFloat32 ? 2e-6 : 1e-12;
        for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), test_pool()}) {
          auto out = run_op_pooled(op.op, {a, b}, op.attrs, 17, pool);
          ASSERT_TRUE(out.ok()) << out.status().message();
          EXPECT_EQ(out.value()[0].shape(), numpy_broadcast({sp.a, sp.b}));
          EXPECT_EQ(out.value()[0].dtype(), op.compare ? DType::kBool : dtype);
          expect_close(out.value()[0], want, tol, tol, pool ? "pooled" : "serial");
        }
      }
    }
  }
}

struct IntBinaryCase {
  const char* op;
  DType dtype;
  double a_lo, a_hi, b_lo, b_hi;
  double (*oracle)(double, double);
  AttrList attrs;
};

double trunc_div(double a, double b) {
  return std::trunc(a / b);
}
double floor_mod(double a, double b) {
  return a - std::floor(a / b) * b;
}
double trunc_mod(double a, double b) {
  return std::fmod(a, b);
}

const IntBinaryCase kIntCases[] = {
    {"Add", DType::kInt32, -1000, 1000, -1000, 1000, [](double a, double b) { return a + b; }, {}},
    {"Add", DType::kUInt8, 0, 100, 0, 100, [](double a, double b) { return a + b; }, {}},
    {"Sub", DType::kInt64, -1000, 1000, -1000, 1000, [](double a, double b) { return a - b; }, {}},
    {"Mul", DType::kInt16, -100, 100, -100, 100, [](double a, double b) { return a * b; }, {}},
    {"Mul", DType::kUInt64, 0, 1000, 0, 1000, [](double a, double b) { return a * b; }, {}},
    {"Div", DType::kInt32, -100, 100, 1, 9, trunc_div, {}},
    {"Div", DType::kInt64, -100, 100, -9, -1, trunc_div, {}},
    {"Div", DType::kInt8, -100, 100, 1, 7, trunc_div, {}},
    {"Div", DType::kUInt8, 0, 255, 1, 13, trunc_div, {}},
    {"Mod", DType::kInt32, -100, 100, 1, 9, floor_mod, {}},
    {"Mod", DType::kInt64, -100, 100, -9, -1, floor_mod, {}},
    {"Mod", DType::kInt8, -100, 100, -7, 7, floor_mod, {}},  // b == 0 filtered below
    {"Mod", DType::kUInt32, 0, 1000, 1, 17, floor_mod, {}},
    {"Mod", DType::kInt32, -100, 100, -9, 9, trunc_mod, {{"fmod", attr_int(1)}}},
    {"Mod", DType::kInt64, -100, 100, -9, 9, trunc_mod, {{"fmod", attr_int(1)}}},
    {"Max",
     DType::kInt8,
     -100,
     100,
     -100,
     100,
     [](double a, double b) { return std::max(a, b); },
     {}},
    {"Min",
     DType::kUInt16,
     0,
     1000,
     0,
     1000,
     [](double a, double b) { return std::min(a, b); },
     {}},
    {"Equal",
     DType::kInt64,
     -3,
     3,
     -3,
     3,
     [](double a, double b) { return a == b ? 1.0 : 0.0; },
     {}},
    {"Equal", DType::kBool, 0, 1, 0, 1, [](double a, double b) { return a == b ? 1.0 : 0.0; }, {}},
    {"Less", DType::kInt32, -3, 3, -3, 3, [](double a, double b) { return a < b ? 1.0 : 0.0; }, {}},
    {"Greater",
     DType::kUInt8,
     0,
     5,
     0,
     5,
     [](double a, double b) { return a > b ? 1.0 : 0.0; },
     {}},
    {"And",
     DType::kBool,
     0,
     1,
     0,
     1,
     [](double a, double b) { return a != 0 && b != 0 ? 1.0 : 0.0; },
     {}},
    {"Or",
     DType::kBool,
     0,
     1,
     0,
     1,
     [](double a, double b) { return a != 0 || b != 0 ? 1.0 : 0.0; },
     {}},
    {"Xor",
     DType::kBool,
     0,
     1,
     0,
     1,
     [](double a, double b) { return (a != 0) != (b != 0) ? 1.0 : 0.0; },
     {}},
    {"Pow", DType::kInt64, -5, 5, 0, 5, [](double a, double b) { return std::pow(a, b); }, {}},
    {"Pow", DType::kInt32, -5, 5, 0, 4, [](double a, double b) { return std::pow(a, b); }, {}},
    {"BitShift",
     DType::kUInt8,
     0,
     15,
     0,
     3,
     [](double a, double b) { return a * std::exp2(b); },
     {{"direction", attr_string("LEFT")}}},
    {"BitShift",
     DType::kUInt32,
     0,
     100000,
     0,
     9,
     [](double a, double b) { return std::floor(a / std::exp2(b)); },
     {{"direction", attr_string("RIGHT")}}},
};

TEST(RefElementwiseBinary, IntegerAndBoolDtypesMatchOracle) {
  const uint32_t seed = test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  for (const IntBinaryCase& c : kIntCases) {
    for (const ShapePair& sp : {ShapePair{{3, 5, 7}, {3, 5, 7}}, ShapePair{{4, 1, 9}, {1, 3, 9}}}) {
      SCOPED_TRACE(std::string(c.op) + " " + dtype_name(c.dtype) + " " + shape_to_string(sp.a) +
                   " " + shape_to_string(sp.b));
      Tensor a = random_typed(c.dtype, sp.a, rng, c.a_lo, c.a_hi);
      Tensor b = random_typed(c.dtype, sp.b, rng, c.b_lo, c.b_hi);
      if (std::string(c.op) == "Mod" || std::string(c.op) == "Div") {
        for (int64_t i = 0; i < b.numel(); ++i) {
          if (element(b, i) == 0) set_element(b, i, 3);
        }
      }
      const std::vector<double> want = oracle2(a, b, c.oracle);
      auto out = run_op(c.op, {a, b}, c.attrs);
      ASSERT_TRUE(out.ok()) << out.status().message();
      expect_close(out.value()[0], want, 0, 0);
    }
  }
}

TEST(RefElementwiseBinary, PowMixedExponentDtypes) {
  const uint32_t seed = test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  Tensor a = random_typed(DType::kFloat32, {3, 7}, rng, 0.2, 2);
  for (DType e : {DType::kInt64, DType::kInt32, DType::kFloat64}) {
    SCOPED_TRACE(dtype_name(e));
    Tensor b = random_typed(e, {7}, rng, -3, 3);
    auto out = run_op("Pow", {a, b});
    ASSERT_TRUE(out.ok()) << out.status().message();
    EXPECT_EQ(out.value()[0].dtype(), DType::kFloat32);
    expect_close(out.value()[0], oracle2(a, b, [](double x, double y) { return std::pow(x, y); }),
                 1e-6, 2e-6);
  }
}

TEST(RefElementwiseBinary, PReluBroadcastsSlopeToX) {
  const uint32_t seed = test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  for (const Shape& slope_shape : {Shape{5, 1, 1}, Shape{1}, Shape{9}, Shape{2, 5, 7, 9}}) {
    SCOPED_TRACE(shape_to_string(slope_shape));
    Tensor x = random_tensor({2, 5, 7, 9}, rng, -2, 2);
    Tensor slope = random_tensor(slope_shape, rng, 0, 0.5);
    auto out = run_op("PRelu", {x, slope});
    ASSERT_TRUE(out.ok()) << out.status().message();
    expect_close(out.value()[0],
                 oracle2(x, slope, [](double v, double s) { return v >= 0 ? v : v * s; }), 1e-7,
                 1e-6);
  }
}

struct WhereCase {
  Shape cond, x, y;
  DType dtype;
};

const WhereCase kWhereCases[] = {
    {{3, 1, 7}, {1, 5, 7}, {}, DType::kFloat32},
    {{2, 3, 4}, {2, 3, 4}, {2, 3, 4}, DType::kInt64},
    {{1}, {4, 5}, {5}, DType::kFloat32},
    {{1, 8, 40, 40}, {1, 8, 40, 40}, {1, 1, 1, 1}, DType::kFloat32},
    {{6}, {6}, {6}, DType::kBool},
};

TEST(RefElementwiseBinary, WhereBroadcastsThreeWays) {
  const uint32_t seed = test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  for (const WhereCase& c : kWhereCases) {
    SCOPED_TRACE(shape_to_string(c.cond) + shape_to_string(c.x) + shape_to_string(c.y));
    Tensor cond = random_typed(DType::kBool, c.cond, rng, 0, 1);
    Tensor x = random_typed(c.dtype, c.x, rng, -50, 50);
    Tensor y = random_typed(c.dtype, c.y, rng, -50, 50);
    const Shape out_shape = numpy_broadcast({c.cond, c.x, c.y});
    std::vector<double> want;
    for (int64_t i = 0; i < shape_numel(out_shape); ++i) {
      const auto idx = unravel(i, out_shape);
      want.push_back(element(cond, broadcast_index(idx, c.cond)) != 0
                         ? element(x, broadcast_index(idx, c.x))
                         : element(y, broadcast_index(idx, c.y)));
    }
    for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), test_pool()}) {
      auto out = run_op_pooled("Where", {cond, x, y}, {}, 17, pool);
      ASSERT_TRUE(out.ok()) << out.status().message();
      EXPECT_EQ(out.value()[0].shape(), out_shape);
      expect_close(out.value()[0], want, 0, 0);
    }
  }
}

struct VariadicCase {
  const char* op;
  std::vector<Shape> shapes;
};

const VariadicCase kVariadicCases[] = {
    {"Sum", {{5, 1}, {1, 7}, {3, 5, 7}}},
    {"Mean", {{5, 1}, {1, 7}, {3, 5, 7}}},
    {"Max", {{5, 1}, {1, 7}, {3, 5, 7}}},
    {"Min", {{2, 3}, {2, 3}}},
    {"Sum", {{4, 6}}},
    {"Max", {{1, 32, 33, 35}, {1, 32, 33, 35}, {32, 1, 1}}},
};

TEST(RefElementwiseBinary, VariadicOps) {
  const uint32_t seed = test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  for (const VariadicCase& c : kVariadicCases) {
    SCOPED_TRACE(std::string(c.op) + " with " + std::to_string(c.shapes.size()) + " inputs");
    std::vector<OpInput> inputs;
    std::vector<Tensor> ts;
    for (const Shape& s : c.shapes) ts.push_back(random_tensor(s, rng, -3, 3));
    for (const Tensor& t : ts) inputs.push_back(t);
    const Shape out_shape = numpy_broadcast(c.shapes);
    const std::string op = c.op;
    std::vector<double> want;
    for (int64_t i = 0; i < shape_numel(out_shape); ++i) {
      const auto idx = unravel(i, out_shape);
      double acc = op == "Max" ? -1e300 : op == "Min" ? 1e300 : 0;
      for (const Tensor& t : ts) {
        const double v = element(t, broadcast_index(idx, t.shape()));
        acc = op == "Max" ? std::max(acc, v) : op == "Min" ? std::min(acc, v) : acc + v;
      }
      want.push_back(op == "Mean" ? acc / static_cast<double>(ts.size()) : acc);
    }
    auto out = run_op_pooled(c.op, inputs, {}, 17, test_pool());
    ASSERT_TRUE(out.ok()) << out.status().message();
    EXPECT_EQ(out.value()[0].shape(), out_shape);
    expect_close(out.value()[0], want, 1e-6, 1e-6);
  }
}

struct BinaryErrorCase {
  const char* name;
  const char* op;
  DType a_dtype, b_dtype;
  Shape a, b;
  AttrList attrs;
};

const BinaryErrorCase kBinaryErrorCases[] = {
    {"shapes do not broadcast", "Add", DType::kFloat32, DType::kFloat32, {3}, {4}, {}},
    {"dtype mismatch", "Mul", DType::kFloat32, DType::kInt64, {3}, {3}, {}},
    {"fmod=2", "Mod", DType::kInt32, DType::kInt32, {3}, {3}, {{"fmod", attr_int(2)}}},
    {"fmod=0 on float", "Mod", DType::kFloat32, DType::kFloat32, {3}, {3}, {}},
    {"direction=UP",
     "BitShift",
     DType::kUInt8,
     DType::kUInt8,
     {3},
     {3},
     {{"direction", attr_string("UP")}}},
    {"BitShift on int32",
     "BitShift",
     DType::kInt32,
     DType::kInt32,
     {3},
     {3},
     {{"direction", attr_string("LEFT")}}},
    {"slope not broadcastable to X",
     "PRelu",
     DType::kFloat32,
     DType::kFloat32,
     {2, 3},
     {2, 3, 1},
     {}},
    {"Equal float16", "Equal", DType::kFloat16, DType::kFloat16, {3}, {3}, {}},
    {"And on float", "And", DType::kFloat32, DType::kFloat32, {3}, {3}, {}},
    {"Pow on bool", "Pow", DType::kBool, DType::kBool, {3}, {3}, {}},
};

TEST(RefElementwiseBinary, RejectsBadAttributesShapesAndDtypes) {
  for (const BinaryErrorCase& c : kBinaryErrorCases) {
    SCOPED_TRACE(c.name);
    auto out = run_op(c.op, {Tensor(c.a_dtype, c.a), Tensor(c.b_dtype, c.b)}, c.attrs);
    EXPECT_FALSE(out.ok());
    if (!out.ok())
      EXPECT_NE(out.status().message().find(c.op), std::string::npos) << out.status().message();
  }
  EXPECT_FALSE(run_op("Where", {Tensor(DType::kFloat32, {2}), Tensor(DType::kFloat32, {2}),
                                Tensor(DType::kFloat32, {2})})
                   .ok());
  EXPECT_FALSE(run_op("Sum", {}).ok());
}

}  // namespace
}  // namespace fungen::test
