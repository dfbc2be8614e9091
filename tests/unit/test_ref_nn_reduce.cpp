// Softmax/LogSoftmax/Hardmax, Reduce*, ArgMax/ArgMin reference kernels against double-precision
// oracles: softmax by the max-subtract formula per row, reductions by scattering every input
// element into its output slot, arg ops by a scan.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "test_ref_nn_common.h"

namespace fungen::test {
namespace {

struct SoftmaxCase {
  Shape shape;
  int64_t axis;
  int64_t opset;
};

const SoftmaxCase kSoftmaxCases[] = {
    {{3, 7}, -1, 13},      {{2, 5, 7}, 1, 13},    {{1, 16, 4, 83}, 1, 13},  // YOLO DFL layout
    {{2, 3, 4, 5}, 0, 13}, {{2, 3, 4, 5}, 1, 11}, {{2, 3, 4, 5}, 2, 11},
    {{3, 5}, -1, 11},      {{2, 3}, 2, 11},       {{1, 4, 8400}, 1, 13},
    {{5}, 0, 13},          {{2, 3, 4}, -2, 13},
};

// Groups of elements normalized together: [outer, len, inner] (opset < 13 coerces to 2-D).
void softmax_groups(const SoftmaxCase& c, int64_t* outer, int64_t* len, int64_t* inner) {
  const int rank = static_cast<int>(c.shape.size());
  const int64_t axis = c.axis < 0 ? c.axis + rank : c.axis;
  *outer = *len = *inner = 1;
  for (int i = 0; i < rank; ++i) {
    if (i < axis)
      *outer *= c.shape[static_cast<size_t>(i)];
    else if (c.opset < 13 || i == axis)
      *len *= c.shape[static_cast<size_t>(i)];
    else
      *inner *= c.shape[static_cast<size_t>(i)];
  }
}

TEST(RefNnSoftmax, HardmaxMarksFirstMaximum) {
  const uint32_t seed = test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  for (const SoftmaxCase& c : kSoftmaxCases) {
    SCOPED_TRACE(shape_to_string(c.shape) + " axis=" + std::to_string(c.axis) +
                 " opset=" + std::to_string(c.opset));
    Tensor x = random_typed(DType::kFloat32, c.shape, rng, 0, 3);
    for (int64_t i = 0; i < x.numel(); ++i) set_element(x, i, std::round(element(x, i)));  // ties
    int64_t outer, len, inner;
    softmax_groups(c, &outer, &len, &inner);
    std::vector<double> want(static_cast<size_t>(x.numel()), 0.0);
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t in = 0; in < inner; ++in) {
        int64_t best = 0;
        for (int64_t a = 1; a < len; ++a) {
          if (element(x, (o * len + a) * inner + in) > element(x, (o * len + best) * inner + in))
            best = a;
        }
        want[static_cast<size_t>((o * len + best) * inner + in)] = 1.0;
      }
    }
    auto out = run_op("Hardmax", {x}, {{"axis", attr_int(c.axis)}}, c.opset);
    ASSERT_TRUE(out.ok()) << out.status().message();
    expect_close(out.value()[0], want, 0, 0);
  }
}

TEST(RefNnSoftmax, MatchesMaxSubtractOracle) {
  const uint32_t seed = test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  for (const SoftmaxCase& c : kSoftmaxCases) {
    for (bool log : {false, true}) {
      SCOPED_TRACE(std::string(log ? "LogSoftmax " : "Softmax ") + shape_to_string(c.shape) +
                   " axis=" + std::to_string(c.axis) + " opset=" + std::to_string(c.opset));
      Tensor x = random_tensor(c.shape, rng, -50, 50);
      int64_t outer, len, inner;
      softmax_groups(c, &outer, &len, &inner);
      std::vector<double> want(static_cast<size_t>(x.numel()));
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t in = 0; in < inner; ++in) {
          auto at = [&](int64_t a) { return (o * len + a) * inner + in; };
          double mx = -std::numeric_limits<double>::infinity();
          for (int64_t a = 0; a < len; ++a) mx = std::max(mx, element(x, at(a)));
          double sum = 0;
          for (int64_t a = 0; a < len; ++a) sum += std::exp(element(x, at(a)) - mx);
          for (int64_t a = 0; a < len; ++a) {
            const double z = element(x, at(a)) - mx;
            want[static_cast<size_t>(at(a))] = log ? z - std::log(sum) : std::exp(z) / sum;
          }
        }
      }
      for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), test_pool()}) {
        auto out = run_op_pooled(log ? "LogSoftmax" : "Softmax", {x}, {{"axis", attr_int(c.axis)}},
                                 c.opset, pool);
        ASSERT_TRUE(out.ok()) << out.status().message();
        expect_close(out.value()[0], want, 1e-6, 1e-5);
      }
    }
  }
}

struct ReduceShapeCase {
  Shape shape;
  std::vector<int64_t> axes;
  int64_t keepdims;
};

const ReduceShapeCase kReduceShapes[] = {
    {{3, 5, 7}, {1}, 1},      {{3, 5, 7}, {0, 2}, 0},       {{3, 5, 7}, {-1}, 1},
    {{3, 5, 7}, {}, 1},       {{3, 5, 7}, {}, 0},           {{2, 3, 4, 5}, {1, 3}, 0},
    {{1, 4, 16, 83}, {1}, 1}, {{1, 64, 20, 20}, {2, 3}, 1}, {{6}, {0}, 0},
};

struct ReduceOp {
  const char* op;
  double lo, hi;
  double init;
  double (*step)(double acc, double v);
  double (*finish)(double acc, double count);
};

const ReduceOp kReduceOps[] = {
    {"ReduceSum", -1, 1, 0, [](double a, double v) { return a + v; },
     [](double a, double) { return a; }},
    {"ReduceMean", -1, 1, 0, [](double a, double v) { return a + v; },
     [](double a, double n) { return a / n; }},
    {"ReduceMax", -1, 1, -1e300, [](double a, double v) { return std::max(a, v); },
     [](double a, double) { return a; }},
    {"ReduceMin", -1, 1, 1e300, [](double a, double v) { return std::min(a, v); },
     [](double a, double) { return a; }},
    {"ReduceProd", 0.8, 1.25, 1, [](double a, double v) { return a * v; },
     [](double a, double) { return a; }},
    {"ReduceL1", -1, 1, 0, [](double a, double v) { return a + std::fabs(v); },
     [](double a, double) { return a; }},
    {"ReduceL2", -1, 1, 0, [](double a, double v) { return a + v * v; },
     [](double a, double) { return std::sqrt(a); }},
    {"ReduceSumSquare", -1, 1, 0, [](double a, double v) { return a + v * v; },
     [](double a, double) { return a; }},
    {"ReduceLogSum", 0.1, 2, 0, [](double a, double v) { return a + v; },
     [](double a, double) { return std::log(a); }},
    {"ReduceLogSumExp", -5, 5, 0, [](double a, double v) { return a + std::exp(v); },
     [](double a, double) { return std::log(a); }},
};

bool axes_are_input(const std::string& op, int64_t opset) {
  return opset >= (op == "ReduceSum" ? 13 : 18);
}

TEST(RefNnReduce, MatchesScatterOracle) {
  const uint32_t seed = test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  for (const ReduceOp& op : kReduceOps) {
    for (const ReduceShapeCase& c : kReduceShapes) {
      for (int64_t opset : {11, 13, 18}) {
        SCOPED_TRACE(std::string(op.op) + " " + shape_to_string(c.shape) +
                     " axes=" + shape_to_string(c.axes) +
                     " keepdims=" + std::to_string(c.keepdims) + " opset=" + std::to_string(opset));
        Tensor x =
            random_tensor(c.shape, rng, static_cast<float>(op.lo), static_cast<float>(op.hi));
        const size_t rank = c.shape.size();
        std::vector<bool> reduced(rank, c.axes.empty());
        for (int64_t a : c.axes)
          reduced[static_cast<size_t>(a < 0 ? a + static_cast<int64_t>(rank) : a)] = true;
        Shape kept_shape, out_shape;
        for (size_t i = 0; i < rank; ++i) {
          kept_shape.push_back(reduced[i] ? 1 : c.shape[i]);
          if (!reduced[i] || c.keepdims) out_shape.push_back(reduced[i] ? 1 : c.shape[i]);
        }
        std::vector<double> acc(static_cast<size_t>(shape_numel(kept_shape)), op.init);
        for (int64_t i = 0; i < x.numel(); ++i) {
          auto idx = unravel(i, c.shape);
          for (size_t d = 0; d < rank; ++d) {
            if (reduced[d]) idx[d] = 0;
          }
          int64_t o = 0;
          for (size_t d = 0; d < rank; ++d) o = o * kept_shape[d] + idx[d];
          acc[static_cast<size_t>(o)] = op.step(acc[static_cast<size_t>(o)], element(x, i));
        }
        const double count = static_cast<double>(x.numel()) / static_cast<double>(acc.size());
        for (double& v : acc) v = op.finish(v, count);
        std::vector<OpInput> inputs = {x};
        AttrList attrs = {{"keepdims", attr_int(c.keepdims)}};
        if (axes_are_input(op.op, opset)) {
          if (!c.axes.empty())
            inputs.push_back(
                OpInput(int64_tensor({static_cast<int64_t>(c.axes.size())}, c.axes), true));
        } else if (!c.axes.empty()) {
          attrs.push_back({"axes", attr_ints(c.axes)});
        }
        for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), test_pool()}) {
          auto out = run_op_pooled(op.op, inputs, attrs, opset, pool);
          ASSERT_TRUE(out.ok()) << out.status().message();
          ASSERT_EQ(out.value()[0].shape(), out_shape);
          expect_close(out.value()[0], acc, 1e-6, 1e-5);
        }
      }
    }
  }
}

TEST(RefNnReduce, NoopWithEmptyAxesAndIntegerDtypes) {
  const uint32_t seed = test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  Tensor x = random_tensor({3, 4}, rng);
  auto noop = run_op("ReduceSum", {x}, {{"noop_with_empty_axes", attr_int(1)}}, 13);
  ASSERT_TRUE(noop.ok()) << noop.status().message();
  ASSERT_EQ(noop.value()[0].shape(), x.shape());
  std::vector<double> same;
  for (int64_t i = 0; i < x.numel(); ++i) same.push_back(element(x, i));
  expect_close(noop.value()[0], same, 0, 0);

  Tensor xi = random_typed(DType::kInt64, {4, 5}, rng, -100, 100);
  Tensor axes = int64_tensor({1}, {1});
  auto sum = run_op("ReduceSum", {xi, OpInput(axes, true)}, {{"keepdims", attr_int(0)}}, 13);
  auto mx = run_op("ReduceMax", {xi, OpInput(axes, true)}, {{"keepdims", attr_int(0)}}, 18);
  ASSERT_TRUE(sum.ok()) << sum.status().message();
  ASSERT_TRUE(mx.ok()) << mx.status().message();
  std::vector<double> want_sum, want_max;
  for (int64_t r = 0; r < 4; ++r) {
    double s = 0, m = -1e300;
    for (int64_t c = 0; c < 5; ++c)
      s += element(xi, r * 5 + c), m = std::max(m, element(xi, r * 5 + c));
    want_sum.push_back(s);
    want_max.push_back(m);
  }
  EXPECT_EQ(sum.value()[0].dtype(), DType::kInt64);
  expect_close(sum.value()[0], want_sum, 0, 0);
  expect_close(mx.value()[0], want_max, 0, 0);
}

TEST(RefNnReduce, ArgMaxArgMinWithTies) {
  const uint32_t seed = test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  const Shape shape = {3, 5, 7};
  for (const char* op : {"ArgMax", "ArgMin"}) {
    for (int64_t axis : {0, 1, 2, -1}) {
      for (int64_t keepdims : {0, 1}) {
        for (int64_t last : {0, 1}) {
          SCOPED_TRACE(std::string(op) + " axis=" + std::to_string(axis) + " keepdims=" +
                       std::to_string(keepdims) + " select_last_index=" + std::to_string(last));
          Tensor x = random_typed(DType::kFloat32, shape, rng, 0, 3);
          for (int64_t i = 0; i < x.numel(); ++i)
            set_element(x, i, std::round(element(x, i)));  // ties
          const size_t a = static_cast<size_t>(axis < 0 ? axis + 3 : axis);
          Shape out_shape, kept = shape;
          kept[a] = 1;
          for (size_t d = 0; d < 3; ++d) {
            if (d != a || keepdims) out_shape.push_back(d == a ? 1 : shape[d]);
          }
          std::vector<double> want;
          for (int64_t o = 0; o < shape_numel(kept); ++o) {
            auto idx = unravel(o, kept);
            int64_t best = -1;
            double best_v = 0;
            for (int64_t p = 0; p < shape[a]; ++p) {
              idx[a] = p;
              const double v = element(x, (idx[0] * shape[1] + idx[1]) * shape[2] + idx[2]);
              const bool is_max = std::string(op) == "ArgMax";
              const bool better =
                  best < 0 || (is_max ? v > best_v : v < best_v) || (last && v == best_v);
              if (better) best = p, best_v = v;
            }
            want.push_back(static_cast<double>(best));
          }
          auto out = run_op(op, {x},
                            {{"axis", attr_int(axis)},
                             {"keepdims", attr_int(keepdims)},
                             {"select_last_index", attr_int(last)}});
          ASSERT_TRUE(out.ok()) << out.status().message();
          EXPECT_EQ(out.value()[0].dtype(), DType::kInt64);
          ASSERT_EQ(out.value()[0].shape(), out_shape);
          expect_close(out.value()[0], want, 0, 0);
        }
      }
    }
  }
}

struct ReduceErrorCase {
  const char* name;
  const char* op;
  Shape shape;
  AttrList attrs;
  int64_t opset;
  bool axes_input;  // pass axes [0] as input 1
  bool axes_constant;
};

const ReduceErrorCase kReduceErrorCases[] = {
    {"axis out of range", "ReduceMax", {3, 4}, {{"axes", attr_ints({2})}}, 13, false, false},
    {"duplicate axes", "ReduceMean", {3, 4}, {{"axes", attr_ints({1, -1})}}, 13, false, false},
    {"keepdims=2", "ReduceSum", {3, 4}, {{"keepdims", attr_int(2)}}, 13, false, false},
    {"axes attribute at opset 18",
     "ReduceMax",
     {3, 4},
     {{"axes", attr_ints({0})}},
     18,
     false,
     false},
    {"axes input at opset 13", "ReduceMax", {3, 4}, {}, 13, true, true},
    {"axes input not constant", "ReduceSum", {3, 4}, {}, 13, true, false},
    {"ArgMax axis out of range", "ArgMax", {3, 4}, {{"axis", attr_int(2)}}, 13, false, false},
    {"ArgMin select_last_index=2",
     "ArgMin",
     {3, 4},
     {{"select_last_index", attr_int(2)}},
     13,
     false,
     false},
    {"Softmax axis out of range", "Softmax", {3, 4}, {{"axis", attr_int(2)}}, 13, false, false},
    {"LogSoftmax axis below range",
     "LogSoftmax",
     {3, 4},
     {{"axis", attr_int(-3)}},
     11,
     false,
     false},
};

TEST(RefNnReduce, RejectsBadAttributes) {
  for (const ReduceErrorCase& c : kReduceErrorCases) {
    SCOPED_TRACE(c.name);
    std::vector<OpInput> inputs = {Tensor(DType::kFloat32, c.shape)};
    if (c.axes_input) inputs.push_back(OpInput(int64_tensor({1}, {0}), c.axes_constant));
    auto out = run_op(c.op, inputs, c.attrs, c.opset);
    EXPECT_FALSE(out.ok());
    if (!out.ok())
      EXPECT_NE(out.status().message().find(c.op), std::string::npos) << out.status().message();
  }
}

}  // namespace
}  // namespace fungen::test
