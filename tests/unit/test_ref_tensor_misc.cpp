// Reference kernels of Cast/CastLike, TopK and CumSum, and the float16/bfloat16 conversions.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/op_util.h"
#include "test_ref_tensor_util.h"

namespace fungen::test {
namespace {

bool is_float(DType d) {
  return d == DType::kFloat32 || d == DType::kFloat64 || d == DType::kFloat16 ||
         d == DType::kBFloat16;
}

const DType kCastTypes[] = {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16,
                            DType::kInt8,    DType::kUInt8,   DType::kInt16,   DType::kInt32,
                            DType::kInt64,   DType::kUInt32,  DType::kUInt64,  DType::kBool};

TEST(RefTensorCast, AllPairsInRange) {
  std::mt19937 rng(test_seed());
  SCOPED_TRACE(seed_note());
  for (DType from : kCastTypes)
    for (DType to : kCastTypes) {
      Tensor x(from, {37});
      for (int64_t i = 0; i < 37; ++i) {
        // Values every type holds: 0..100, quarters for float sources (exact in bfloat16 below 64).
        double v = static_cast<double>(rng() % 64);
        if (is_float(from)) v += 0.25 * static_cast<double>(rng() % 4);
        if (from == DType::kBool) v = v > 30 ? 1 : 0;
        set_element(x, i, v);
      }
      auto r = run_op("Cast", {x}, {{"to", attr_int(static_cast<int64_t>(to))}}, 13);
      ASSERT_TRUE(r.ok()) << dtype_name(from) << "->" << dtype_name(to) << ": "
                          << r.status().message();
      ASSERT_EQ(r.value()[0].dtype(), to);
      for (int64_t i = 0; i < 37; ++i) {
        const double v = element(x, i);
        const double want = to == DType::kBool ? (v != 0 ? 1 : 0)
                            : is_float(to)     ? v
                                               : std::trunc(v);
        ASSERT_EQ(element(r.value()[0], i), want)
            << dtype_name(from) << "->" << dtype_name(to) << " " << v;
      }
    }
}

TEST(RefTensorCast, EdgeSemantics) {
  Tensor x(DType::kFloat32, {6});
  const float vals[] = {-2.75f, 2.75f,  std::numeric_limits<float>::quiet_NaN(),
                        -0.0f,  1e-30f, -127.9f};
  std::copy(vals, vals + 6, x.data<float>());
  auto r = run_op("Cast", {x}, {{"to", attr_int(static_cast<int64_t>(DType::kInt8))}}, 13);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value()[0].data<int8_t>()[0], -2);  // toward zero
  EXPECT_EQ(r.value()[0].data<int8_t>()[1], 2);
  EXPECT_EQ(r.value()[0].data<int8_t>()[5], -127);
  r = run_op("Cast", {x}, {{"to", attr_int(static_cast<int64_t>(DType::kBool))}}, 13);
  ASSERT_TRUE(r.ok());
  const uint8_t want_bool[] = {1, 1, 1, 0, 1, 1};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(r.value()[0].data<uint8_t>()[i], want_bool[i]) << i;
  // int64 -> int8 wraps.
  r = run_op("Cast", {vec_i64({300, -129, 127})},
             {{"to", attr_int(static_cast<int64_t>(DType::kInt8))}}, 13);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value()[0].data<int8_t>()[0], 44);
  EXPECT_EQ(r.value()[0].data<int8_t>()[1], 127);
  // CastLike takes the dtype of its second input.
  r = run_op("CastLike", {vec_i64({3, -4}), Tensor(DType::kFloat64, {1})}, {}, 15);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value()[0].dtype(), DType::kFloat64);
  EXPECT_EQ(r.value()[0].data<double>()[1], -4.0);
  EXPECT_FALSE(
      run_op("Cast", {x}, {{"to", attr_int(static_cast<int64_t>(DType::kString))}}, 13).ok());
}

TEST(RefTensorCast, Float16RoundsToNearestEven) {
  // Every finite half survives half -> float -> half.
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = float16_to_float(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(float16_to_float(float_to_float16(f))));
      continue;
    }
    ASSERT_EQ(float_to_float16(f), static_cast<uint16_t>(h)) << h;
  }
  // Random floats: the chosen half is at least as close as its neighbours, ties go to even.
  std::mt19937 rng(test_seed());
  SCOPED_TRACE(seed_note());
  std::uniform_real_distribution<float> mag(-70000.0f, 70000.0f);
  for (int i = 0; i < 20000; ++i) {
    float f = mag(rng) / static_cast<float>(1 << (rng() % 30));
    if (i % 7 == 0)
      f = float16_to_float(static_cast<uint16_t>(rng() & 0x7bff)) +
          std::ldexp(1.0f, -25) * static_cast<float>(rng() % 3);  // near ties
    const uint16_t h = float_to_float16(f);
    const double d = std::fabs(static_cast<double>(float16_to_float(h)) - f);
    for (int delta : {-1, 1}) {
      const uint16_t n = static_cast<uint16_t>(h + delta);
      const float nf = float16_to_float(n);
      if (std::isnan(nf) || ((n ^ h) & 0x8000)) continue;
      const double dn = std::fabs(static_cast<double>(nf) - f);
      if (std::isinf(float16_to_float(h))) continue;
      ASSERT_LE(d, dn) << f;
      if (d == dn) ASSERT_EQ(h & 1, 0) << "tie not to even for " << f;
    }
  }
  EXPECT_EQ(float_to_float16(65520.0f), 0x7c00);  // rounds to inf
  EXPECT_EQ(float_to_float16(65519.0f), 0x7bff);
  EXPECT_EQ(float_to_bfloat16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);  // tie to even
  EXPECT_EQ(float_to_bfloat16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
}

TEST(RefTensorTopK, MatchesStableSortWithTies) {
  std::mt19937 rng(test_seed());
  SCOPED_TRACE(seed_note());
  for (int iter = 0; iter < 30; ++iter) {
    const int rank = 1 + static_cast<int>(rng() % 3);
    Shape s = random_shape(rng, rank, 1, 9);
    const int axis = static_cast<int>(rng() % static_cast<unsigned>(rank));
    const int64_t n = s[static_cast<size_t>(axis)];
    const int64_t k = static_cast<int64_t>(rng() % static_cast<unsigned>(n + 1));
    const int64_t largest = iter % 3 ? 1 : 0;
    Tensor x(DType::kFloat32, s);
    for (int64_t i = 0; i < x.numel(); ++i)
      x.data<float>()[i] = static_cast<float>(rng() % 4);  // many ties
    auto r = run_op(
        "TopK", {x, {vec_i64({k}), true}},
        {{"axis", attr_int(axis - (iter % 2 ? rank : 0))}, {"largest", attr_int(largest)}}, 11, 2);
    ASSERT_TRUE(r.ok()) << r.status().message();
    const Tensor& vals = r.value()[0];
    const Tensor& idx = r.value()[1];
    ASSERT_EQ(idx.dtype(), DType::kInt64);
    // Oracle: per slice, stable sort by value; equal values keep the lower index first.
    for (int64_t f = 0; f < vals.numel(); ++f) {
      auto o = unravel(f, vals.shape());
      const int64_t j = o[static_cast<size_t>(axis)];
      std::vector<std::pair<float, int64_t>> line;
      for (int64_t i = 0; i < n; ++i) {
        auto p = o;
        p[static_cast<size_t>(axis)] = i;
        line.push_back({x.data<float>()[ravel(p, s)], i});
      }
      std::stable_sort(line.begin(), line.end(), [&](auto& a, auto& b) {
        return largest ? a.first > b.first : a.first < b.first;
      });
      ASSERT_EQ(vals.data<float>()[f], line[static_cast<size_t>(j)].first);
      ASSERT_EQ(idx.data<int64_t>()[f], line[static_cast<size_t>(j)].second);
    }
  }
  auto e = run_op("TopK", {Tensor(DType::kFloat32, {2, 5}), {vec_i64({6}), true}}, {}, 11, 2);
  EXPECT_FALSE(e.ok());
  e = run_op("TopK", {Tensor(DType::kFloat32, {2, 5}), {vec_i64({3}), false}}, {}, 11, 2);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("input 'K'"), std::string::npos);
}

TEST(RefTensorTopK, CumSum) {
  Tensor x = iota_tensor(DType::kInt64, {3, 4});
  for (int64_t axis : {0, 1, -1})
    for (int64_t excl : {0, 1})
      for (int64_t rev : {0, 1}) {
        auto r = run_op("CumSum", {x, scalar_i64(axis)},
                        {{"exclusive", attr_int(excl)}, {"reverse", attr_int(rev)}}, 14);
        ASSERT_TRUE(r.ok()) << r.status().message();
        const size_t a = static_cast<size_t>(axis < 0 ? axis + 2 : axis);
        for (int64_t f = 0; f < x.numel(); ++f) {
          auto o = unravel(f, x.shape());
          int64_t want = 0;
          for (int64_t i = 0; i < x.dim(static_cast<int>(a)); ++i) {
            const bool in = rev ? (excl ? i > o[a] : i >= o[a]) : (excl ? i < o[a] : i <= o[a]);
            auto p = o;
            p[a] = i;
            if (in) want += x.data<int64_t>()[ravel(p, x.shape())];
          }
          ASSERT_EQ(r.value()[0].data<int64_t>()[f], want);
        }
      }
}

}  // namespace
}  // namespace fungen::test
