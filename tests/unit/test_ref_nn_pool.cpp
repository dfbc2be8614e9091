// MaxPool, AveragePool and the global pools against brute-force oracles: every output element
// visits every kernel position and checks bounds itself. Output sizes follow the spec formulas
// (floor, or ceil with the rule that a window starting in the end padding is dropped).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "test_ref_nn_common.h"

namespace fungen::test {
namespace {

struct PoolCase {
  const char* name;
  const char* op;
  Shape x;
  std::vector<int64_t> kernel, strides, pads, dilations;  // empty: attribute absent
  std::string auto_pad;
  int64_t ceil_mode;
  int64_t count_include_pad;
  DType dtype = DType::kFloat32;
};

const PoolCase kPoolCases[] = {
    {"3x3 s2 p1", "MaxPool", {1, 3, 9, 11}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {}, "", 0, 0},
    {"SPPF 5x5 s1 p2", "MaxPool", {1, 8, 13, 13}, {5, 5}, {}, {2, 2, 2, 2}, {}, "", 0, 0},
    {"2x2 s2", "MaxPool", {2, 3, 8, 10}, {2, 2}, {2, 2}, {}, {}, "", 0, 0},
    {"ceil_mode", "MaxPool", {1, 2, 7, 8}, {3, 3}, {2, 2}, {}, {}, "", 1, 0},
    {"ceil_mode drops window in end pad",
     "MaxPool",
     {1, 1, 5, 5},
     {2, 2},
     {2, 2},
     {1, 1, 1, 1},
     {},
     "",
     1,
     0},
    {"dilation 2", "MaxPool", {1, 2, 9, 9}, {2, 2}, {}, {}, {2, 2}, "", 0, 0},
    {"dilation, stride, ceil",
     "MaxPool",
     {1, 2, 10, 9},
     {2, 3},
     {3, 2},
     {1, 0, 0, 1},
     {2, 1},
     "",
     1,
     0},
    {"SAME_UPPER s2", "MaxPool", {1, 2, 7, 6}, {3, 3}, {2, 2}, {}, {}, "SAME_UPPER", 0, 0},
    {"SAME_LOWER", "MaxPool", {1, 2, 6, 7}, {2, 2}, {}, {}, {}, "SAME_LOWER", 0, 0},
    {"VALID", "MaxPool", {1, 2, 8, 7}, {3, 2}, {2, 2}, {}, {}, "VALID", 0, 0},
    {"1-D", "MaxPool", {2, 3, 13}, {4}, {3}, {1, 2}, {}, "", 0, 0},
    {"3-D", "MaxPool", {1, 2, 5, 6, 7}, {2, 3, 2}, {2, 1, 2}, {}, {}, "", 0, 0},
    {"int8", "MaxPool", {1, 3, 7, 7}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {}, "", 0, 0, DType::kInt8},
    {"uint8", "MaxPool", {1, 3, 7, 7}, {3, 3}, {2, 2}, {}, {}, "", 0, 0, DType::kUInt8},
    {"float64", "MaxPool", {1, 3, 7, 7}, {3, 3}, {2, 2}, {}, {}, "", 0, 0, DType::kFloat64},
    {"3x3 s2 p1 exclude pad",
     "AveragePool",
     {1, 3, 9, 11},
     {3, 3},
     {2, 2},
     {1, 1, 1, 1},
     {},
     "",
     0,
     0},
    {"3x3 s2 p1 include pad",
     "AveragePool",
     {1, 3, 9, 11},
     {3, 3},
     {2, 2},
     {1, 1, 1, 1},
     {},
     "",
     0,
     1},
    {"ceil include pad", "AveragePool", {1, 2, 7, 8}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {}, "", 1, 1},
    {"ceil exclude pad", "AveragePool", {1, 2, 7, 8}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {}, "", 1, 0},
    {"asymmetric pads include",
     "AveragePool",
     {2, 2, 7, 6},
     {3, 2},
     {1, 2},
     {0, 1, 2, 1},
     {},
     "",
     0,
     1},
    {"SAME_UPPER", "AveragePool", {1, 2, 7, 6}, {3, 3}, {2, 2}, {}, {}, "SAME_UPPER", 0, 0},
    {"SAME_LOWER include pad", "AveragePool", {1, 2, 7, 6}, {2, 2}, {}, {}, {}, "SAME_LOWER", 0, 1},
    {"1-D", "AveragePool", {2, 3, 13}, {4}, {3}, {1, 2}, {}, "", 0, 0},
    {"3-D", "AveragePool", {1, 2, 5, 6, 7}, {2, 3, 2}, {2, 1, 2}, {1, 0, 1, 0, 1, 1}, {}, "", 0, 0},
    {"dilation 2", "AveragePool", {1, 2, 9, 9}, {2, 2}, {}, {1, 1, 1, 1}, {2, 2}, "", 0, 0},
    {"2x2 s2 (parallel)", "AveragePool", {1, 16, 40, 40}, {2, 2}, {2, 2}, {}, {}, "", 0, 0},
    {"float64",
     "AveragePool",
     {1, 3, 7, 7},
     {3, 3},
     {2, 2},
     {1, 1, 1, 1},
     {},
     "",
     0,
     1,
     DType::kFloat64},
};

struct PoolGeometry {
  std::vector<int64_t> out, pb, pe, s, d, k;
};

PoolGeometry pool_geometry(const PoolCase& c) {
  const size_t n = c.x.size() - 2;
  PoolGeometry g;
  for (size_t i = 0; i < n; ++i) {
    const int64_t in = c.x[i + 2], k = c.kernel[i];
    const int64_t s = c.strides.empty() ? 1 : c.strides[i];
    const int64_t d = c.dilations.empty() ? 1 : c.dilations[i];
    const int64_t extent = (k - 1) * d + 1;
    int64_t pb = 0, pe = 0, out = 0;
    if (c.auto_pad == "SAME_UPPER" || c.auto_pad == "SAME_LOWER") {
      out = (in + s - 1) / s;
      const int64_t total = std::max<int64_t>(0, (out - 1) * s + extent - in);
      pb = c.auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      pe = total - pb;
    } else {
      if (!c.pads.empty()) pb = c.pads[i], pe = c.pads[i + n];
      const double q = static_cast<double>(in + pb + pe - extent) / static_cast<double>(s);
      out = static_cast<int64_t>(c.ceil_mode ? std::ceil(q) : std::floor(q)) + 1;
      if (c.ceil_mode && (out - 1) * s >= in + pb) --out;
    }
    g.out.push_back(out);
    g.pb.push_back(pb);
    g.pe.push_back(pe);
    g.s.push_back(s);
    g.d.push_back(d);
    g.k.push_back(k);
  }
  return g;
}

// Returns Y; fills the row-major flat argmax of each window (first max in scan order).
std::vector<double> pool_oracle(const PoolCase& c, const Tensor& x, Shape* out_shape,
                                std::vector<int64_t>* argmax) {
  const PoolGeometry g = pool_geometry(c);
  const Shape in_sp(c.x.begin() + 2, c.x.end());
  const Shape out_sp(g.out), k_sp(g.k);
  *out_shape = {c.x[0], c.x[1]};
  out_shape->insert(out_shape->end(), g.out.begin(), g.out.end());
  const int64_t in_count = shape_numel(in_sp);
  std::vector<double> y;
  argmax->clear();
  for (int64_t nc = 0; nc < c.x[0] * c.x[1]; ++nc) {
    for (int64_t o = 0; o < shape_numel(out_sp); ++o) {
      const auto oi = unravel(o, out_sp);
      double best = -std::numeric_limits<double>::infinity(), sum = 0;
      int64_t best_flat = -1, inside_count = 0, padded_count = 0;
      for (int64_t k = 0; k < shape_numel(k_sp); ++k) {
        const auto ki = unravel(k, k_sp);
        bool inside = true, within_pads = true;
        int64_t flat = 0;
        for (size_t d = 0; d < in_sp.size(); ++d) {
          const int64_t pos = oi[d] * g.s[d] - g.pb[d] + ki[d] * g.d[d];
          if (pos < 0 || pos >= in_sp[d]) inside = false;
          if (pos >= in_sp[d] + g.pe[d]) within_pads = false;
          flat = flat * in_sp[d] + pos;
        }
        if (within_pads) ++padded_count;
        if (!inside) continue;
        ++inside_count;
        const double v = element(x, nc * in_count + flat);
        sum += v;
        if (v > best) best = v, best_flat = flat;
      }
      if (std::string(c.op) == "MaxPool") {
        y.push_back(best);
        argmax->push_back(nc * in_count + best_flat);
      } else {
        y.push_back(sum / static_cast<double>(c.count_include_pad ? padded_count : inside_count));
      }
    }
  }
  return y;
}

AttrList pool_attrs(const PoolCase& c) {
  AttrList a = {{"kernel_shape", attr_ints(c.kernel)}};
  if (!c.strides.empty()) a.push_back({"strides", attr_ints(c.strides)});
  if (!c.pads.empty()) a.push_back({"pads", attr_ints(c.pads)});
  if (!c.dilations.empty()) a.push_back({"dilations", attr_ints(c.dilations)});
  if (!c.auto_pad.empty()) a.push_back({"auto_pad", attr_string(c.auto_pad)});
  if (c.ceil_mode) a.push_back({"ceil_mode", attr_int(c.ceil_mode)});
  if (c.count_include_pad) a.push_back({"count_include_pad", attr_int(c.count_include_pad)});
  return a;
}

TEST(RefNnPool, MatchesBruteForceOracle) {
  const uint32_t seed = test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  for (const PoolCase& c : kPoolCases) {
    SCOPED_TRACE(std::string(c.op) + " " + c.name);
    const bool integral = c.dtype == DType::kInt8 || c.dtype == DType::kUInt8;
    Tensor x = random_typed(c.dtype, c.x, rng, integral ? (c.dtype == DType::kInt8 ? -128 : 0) : -1,
                            integral ? (c.dtype == DType::kInt8 ? 127 : 255) : 1);
    Shape out_shape;
    std::vector<int64_t> argmax;
    const std::vector<double> want = pool_oracle(c, x, &out_shape, &argmax);
    for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), test_pool()}) {
      auto out = run_op_pooled(c.op, {x}, pool_attrs(c), 19, pool);
      ASSERT_TRUE(out.ok()) << out.status().message();
      ASSERT_EQ(out.value()[0].shape(), out_shape);
      expect_close(out.value()[0], want, 1e-6, 1e-6, pool ? "pooled" : "serial");
    }
  }
}

TEST(RefNnPool, MaxPoolIndicesRowAndColumnMajor) {
  const uint32_t seed = test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  const PoolCase c = {"indices",    "MaxPool", {2, 3, 7, 6}, {3, 3}, {2, 2},
                      {1, 1, 1, 1}, {},        "",           0,      0};
  Tensor x = random_tensor(c.x, rng);
  Shape out_shape;
  std::vector<int64_t> argmax;
  pool_oracle(c, x, &out_shape, &argmax);
  for (int64_t order : {0, 1}) {
    SCOPED_TRACE("storage_order=" + std::to_string(order));
    AttrList a = pool_attrs(c);
    a.push_back({"storage_order", attr_int(order)});
    auto out = run_op("MaxPool", {x}, a, 12, 2);
    ASSERT_TRUE(out.ok()) << out.status().message();
    const Tensor& idx = out.value()[1];
    ASSERT_EQ(idx.dtype(), DType::kInt64);
    ASSERT_EQ(idx.shape(), out_shape);
    std::vector<double> want;
    const int64_t h = c.x[2], w = c.x[3];
    for (int64_t flat : argmax) {
      if (order == 0) {
        want.push_back(static_cast<double>(flat));
      } else {  // same position, spatial dims column-major
        const int64_t plane = flat / (h * w), r = flat % (h * w);
        want.push_back(static_cast<double>(plane * h * w + (r % w) * h + r / w));
      }
    }
    expect_close(idx, want, 0, 0);
  }
}

TEST(RefNnPool, GlobalPools) {
  const uint32_t seed = test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  for (const Shape& shape :
       {Shape{2, 3, 5, 7}, Shape{1, 4, 9}, Shape{1, 2, 3, 4, 5}, Shape{1, 64, 20, 20}}) {
    SCOPED_TRACE(shape_to_string(shape));
    Tensor x = random_tensor(shape, rng);
    const int64_t planes = shape[0] * shape[1], plane = x.numel() / planes;
    std::vector<double> avg, mx;
    for (int64_t p = 0; p < planes; ++p) {
      double s = 0, m = -1e300;
      for (int64_t i = 0; i < plane; ++i) {
        s += element(x, p * plane + i);
        m = std::max(m, element(x, p * plane + i));
      }
      avg.push_back(s / static_cast<double>(plane));
      mx.push_back(m);
    }
    Shape out_shape = shape;
    for (size_t i = 2; i < out_shape.size(); ++i) out_shape[i] = 1;
    auto a = run_op_pooled("GlobalAveragePool", {x}, {}, 17, test_pool());
    ASSERT_TRUE(a.ok()) << a.status().message();
    EXPECT_EQ(a.value()[0].shape(), out_shape);
    expect_close(a.value()[0], avg, 1e-6, 1e-6);
    auto m = run_op("GlobalMaxPool", {x});
    ASSERT_TRUE(m.ok()) << m.status().message();
    expect_close(m.value()[0], mx, 0, 0);
  }
}

struct PoolErrorCase {
  const char* name;
  const char* op;
  Shape x;
  DType dtype;
  AttrList attrs;
};

const PoolErrorCase kPoolErrorCases[] = {
    {"storage_order=2",
     "MaxPool",
     {1, 1, 5, 5},
     DType::kFloat32,
     {{"kernel_shape", attr_ints({2, 2})}, {"storage_order", attr_int(2)}}},
    {"ceil_mode=2",
     "MaxPool",
     {1, 1, 5, 5},
     DType::kFloat32,
     {{"kernel_shape", attr_ints({2, 2})}, {"ceil_mode", attr_int(2)}}},
    {"count_include_pad=3",
     "AveragePool",
     {1, 1, 5, 5},
     DType::kFloat32,
     {{"kernel_shape", attr_ints({2, 2})}, {"count_include_pad", attr_int(3)}}},
    {"kernel_shape missing", "MaxPool", {1, 1, 5, 5}, DType::kFloat32, {}},
    {"kernel_shape wrong length",
     "AveragePool",
     {1, 1, 5, 5},
     DType::kFloat32,
     {{"kernel_shape", attr_ints({2})}}},
    {"kernel 0", "MaxPool", {1, 1, 5, 5}, DType::kFloat32, {{"kernel_shape", attr_ints({0, 2})}}},
    {"auto_pad bogus",
     "MaxPool",
     {1, 1, 5, 5},
     DType::kFloat32,
     {{"kernel_shape", attr_ints({2, 2})}, {"auto_pad", attr_string("SAME")}}},
    {"pads wrong length",
     "MaxPool",
     {1, 1, 5, 5},
     DType::kFloat32,
     {{"kernel_shape", attr_ints({2, 2})}, {"pads", attr_ints({1, 1})}}},
    {"int32 MaxPool",
     "MaxPool",
     {1, 1, 5, 5},
     DType::kInt32,
     {{"kernel_shape", attr_ints({2, 2})}}},
    {"int8 AveragePool",
     "AveragePool",
     {1, 1, 5, 5},
     DType::kInt8,
     {{"kernel_shape", attr_ints({2, 2})}}},
    {"rank 2", "MaxPool", {5, 5}, DType::kFloat32, {{"kernel_shape", attr_ints({2})}}},
    {"window larger than input",
     "MaxPool",
     {1, 1, 2, 2},
     DType::kFloat32,
     {{"kernel_shape", attr_ints({3, 3})}}},
    {"GlobalAveragePool rank 2", "GlobalAveragePool", {5, 5}, DType::kFloat32, {}},
};

TEST(RefNnPool, RejectsBadAttributes) {
  for (const PoolErrorCase& c : kPoolErrorCases) {
    SCOPED_TRACE(c.name);
    auto out = run_op(c.op, {Tensor(c.dtype, c.x)}, c.attrs);
    EXPECT_FALSE(out.ok());
    if (!out.ok())
      EXPECT_NE(out.status().message().find(c.op), std::string::npos) << out.status().message();
  }
}

}  // namespace
}  // namespace fungen::test
