// Reference kernels of the shape ops: Constant, Identity, Shape, Size, Reshape, Flatten, Squeeze,
// Unsqueeze, Expand, Range, ConstantOfShape, NonZero. Oracles are written independently.
#include <gtest/gtest.h>

#include <cmath>

#include "test_ref_tensor_util.h"

namespace fungen::test {
namespace {

TEST(RefTensorShape, ConstantForms) {
  Tensor v = iota_tensor(DType::kFloat32, {2, 3});
  Attribute ta;
  ta.kind = Attribute::Kind::kTensor;
  ta.t = v;
  auto r = run_op("Constant", {}, {{"value", ta}}, 13);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(same_tensor(v, r.value()[0]));

  r = run_op("Constant", {}, {{"value_ints", attr_ints({4, -5, 6})}}, 13);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(same_tensor(vec_i64({4, -5, 6}), r.value()[0]));

  r = run_op("Constant", {}, {{"value_float", attr_float(2.5f)}}, 13);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value()[0].rank(), 0);
  EXPECT_EQ(r.value()[0].data<float>()[0], 2.5f);

  r = run_op("Constant", {}, {{"value_string", attr_string("x")}}, 13);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
}

TEST(RefTensorShape, IdentityAndSize) {
  std::mt19937 rng(test_seed());
  SCOPED_TRACE(seed_note());
  for (DType dt : {DType::kFloat32, DType::kInt64, DType::kUInt8, DType::kFloat16}) {
    Tensor x = iota_tensor(dt, random_shape(rng, 3));
    auto r = run_op("Identity", {x});
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_TRUE(same_tensor(x, r.value()[0]));
    r = run_op("Size", {x});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value()[0].data<int64_t>()[0], x.numel());
  }
}

struct ShapeCase {
  int64_t start;
  int64_t end;
  bool has_start, has_end;
};
const ShapeCase kShapeCases[] = {
    {0, 0, false, false}, {1, 0, true, false},   {-2, 0, true, false}, {0, -1, false, true},
    {1, 3, true, true},   {-10, 10, true, true}, {3, 1, true, true},   {5, 6, true, true},
};

TEST(RefTensorShape, ShapeStartEnd) {
  const Shape s = {2, 3, 5, 7};
  for (const ShapeCase& c : kShapeCases) {
    AttrList attrs;
    if (c.has_start) attrs.push_back({"start", attr_int(c.start)});
    if (c.has_end) attrs.push_back({"end", attr_int(c.end)});
    auto r = run_op("Shape", {Tensor(DType::kFloat32, s)}, attrs, 15);
    ASSERT_TRUE(r.ok()) << r.status().message();
    // Oracle: Python-style s[start:end].
    int64_t st = c.has_start ? c.start : 0, en = c.has_end ? c.end : 4;
    if (st < 0) st = std::max<int64_t>(st + 4, 0);
    if (en < 0) en = std::max<int64_t>(en + 4, 0);
    st = std::min<int64_t>(st, 4);
    en = std::min<int64_t>(en, 4);
    std::vector<int64_t> want;
    for (int64_t i = st; i < en; ++i) want.push_back(s[static_cast<size_t>(i)]);
    EXPECT_TRUE(same_tensor(vec_i64(want), r.value()[0])) << c.start << ":" << c.end;
  }
}

struct ReshapeCase {
  Shape in;
  std::vector<int64_t> spec;
  int64_t allowzero;
  Shape want;
};
const ReshapeCase kReshapeCases[] = {
    {{2, 3, 4}, {4, -1}, 0, {4, 6}},
    {{2, 3, 4}, {0, -1}, 0, {2, 12}},
    {{2, 3, 4}, {0, 0, 2, 2}, 0, {2, 3, 2, 2}},
    {{2, 3, 4}, {-1}, 0, {24}},
    {{1, 64, 8400}, {1, 4, 16, 8400}, 0, {1, 4, 16, 8400}},
    {{0, 3}, {3, 0}, 1, {3, 0}},
    {{2, 3, 4}, {24}, 1, {24}},
};

TEST(RefTensorShape, Reshape) {
  for (const ReshapeCase& c : kReshapeCases) {
    Tensor x = iota_tensor(DType::kFloat32, c.in);
    auto r =
        run_op("Reshape", {x, {vec_i64(c.spec), true}}, {{"allowzero", attr_int(c.allowzero)}}, 14);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_TRUE(same_tensor(x.clone().reshaped(c.want), r.value()[0])) << shape_to_string(c.want);
  }
}

TEST(RefTensorShape, ReshapeErrors) {
  Tensor x(DType::kFloat32, {2, 3, 4});
  auto r = run_op("Reshape", {x, {vec_i64({-1, -1}), true}}, {}, 14);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("more than one -1"), std::string::npos)
      << r.status().message();
  r = run_op("Reshape", {x, {vec_i64({5, -1}), true}}, {}, 14);
  EXPECT_FALSE(r.ok());
  r = run_op("Reshape", {x, {vec_i64({0, -1}), true}}, {{"allowzero", attr_int(1)}}, 14);
  EXPECT_FALSE(r.ok());
  r = run_op("Reshape", {x, {vec_i64({4, 6}), false}}, {}, 14);  // shape known only at run time
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(r.status().message().find("input 'shape' must be constant"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("Reshape"), std::string::npos);
}

TEST(RefTensorShape, FlattenSqueezeUnsqueeze) {
  Tensor x = iota_tensor(DType::kInt64, {2, 1, 3, 1});
  struct {
    int64_t axis;
    Shape want;
  } flat[] = {{0, {1, 6}}, {1, {2, 3}}, {-1, {6, 1}}, {4, {6, 1}}, {2, {2, 3}}};
  for (auto& c : flat) {
    auto r = run_op("Flatten", {x}, {{"axis", attr_int(c.axis)}}, 13);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_TRUE(same_tensor(x.clone().reshaped(c.want), r.value()[0]));
  }
  // Squeeze: attribute form (opset 11) and input form (13), and no axes.
  auto r = run_op("Squeeze", {x}, {{"axes", attr_ints({1, -1})}}, 11);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value()[0].shape(), (Shape{2, 3}));
  r = run_op("Squeeze", {x, {vec_i64({-3}), true}}, {}, 13);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value()[0].shape(), (Shape{2, 3, 1}));
  r = run_op("Squeeze", {x}, {}, 13);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value()[0].shape(), (Shape{2, 3}));
  EXPECT_TRUE(same_tensor(x.clone().reshaped({2, 3}), r.value()[0]));
  EXPECT_FALSE(run_op("Squeeze", {x, {vec_i64({0}), true}}, {}, 13).ok());  // size 2
  // Unsqueeze.
  r = run_op("Unsqueeze", {x}, {{"axes", attr_ints({0, 5})}}, 12);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value()[0].shape(), (Shape{1, 2, 1, 3, 1, 1}));
  r = run_op("Unsqueeze", {x, {vec_i64({-1, 1}), true}}, {}, 17);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value()[0].shape(), (Shape{2, 1, 1, 3, 1, 1}));
  EXPECT_FALSE(run_op("Unsqueeze", {x, {vec_i64({1, 1}), true}}, {}, 17).ok());
  r = run_op("Unsqueeze", {x, {vec_i64({0}), false}}, {}, 17);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("'axes'"), std::string::npos);
}

TEST(RefTensorShape, ExpandMatchesBroadcastOracle) {
  std::mt19937 rng(test_seed());
  SCOPED_TRACE(seed_note());
  for (int iter = 0; iter < 20; ++iter) {
    const int rank = 1 + static_cast<int>(rng() % 4);
    Shape out = random_shape(rng, rank, 1, 5);
    // Input: a suffix of out with some dims set to 1; shape spec may have 1s where input is larger.
    const int in_rank = 1 + static_cast<int>(rng() % static_cast<unsigned>(rank));
    Shape in(out.end() - in_rank, out.end());
    for (auto& d : in)
      if (rng() % 2) d = 1;
    std::vector<int64_t> spec(out.begin(), out.end());
    for (size_t i = 0; i < spec.size(); ++i)
      if (i >= spec.size() - in.size() && in[i - (spec.size() - in.size())] != 1 && rng() % 3 == 0)
        spec[i] = 1;
    Tensor x = iota_tensor(DType::kFloat32, in);
    auto r = run_op("Expand", {x, {vec_i64(spec), true}}, {}, 13);
    ASSERT_TRUE(r.ok()) << r.status().message();
    const Tensor& y = r.value()[0];
    ASSERT_EQ(y.shape(), out);
    for (int64_t i = 0; i < y.numel(); ++i) {
      auto idx = unravel(i, out);
      std::vector<int64_t> src;
      for (size_t k = 0; k < in.size(); ++k)
        src.push_back(in[k] == 1 ? 0 : idx[out.size() - in.size() + k]);
      ASSERT_EQ(y.data<float>()[i], x.data<float>()[ravel(src, in)]) << i;
    }
  }
  EXPECT_FALSE(run_op("Expand", {Tensor(DType::kFloat32, {3}), {vec_i64({4}), true}}).ok());
}

TEST(RefTensorShape, RangeIntAndFloat) {
  struct {
    int64_t s, l, d;
  } ic[] = {{0, 10, 3}, {10, 4, -2}, {5, 5, 1}, {3, 9, 3}, {-3, 4, 2}, {4, 1, 1}};
  for (auto& c : ic) {
    auto r =
        run_op("Range", {{scalar_i64(c.s), true}, {scalar_i64(c.l), true}, {scalar_i64(c.d), true}},
               {}, 11);
    ASSERT_TRUE(r.ok()) << r.status().message();
    std::vector<int64_t> want;
    for (int64_t v = c.s; c.d > 0 ? v < c.l : v > c.l; v += c.d) want.push_back(v);
    EXPECT_TRUE(same_tensor(vec_i64(want), r.value()[0])) << c.s << " " << c.l << " " << c.d;
  }
  auto f = [](float v) {
    Tensor t(DType::kFloat32, {});
    t.data<float>()[0] = v;
    return OpInput(t, true);
  };
  auto r = run_op("Range", {f(0.5f), f(3.0f), f(0.75f)}, {}, 11);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r.value()[0].numel(), 4);  // 0.5, 1.25, 2.0, 2.75
  EXPECT_EQ(r.value()[0].data<float>()[3], 2.75f);
  auto bad = run_op("Range", {{scalar_i64(0), false}, {scalar_i64(4), true}, {scalar_i64(1), true}},
                    {}, 11);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'start'"), std::string::npos);
}

TEST(RefTensorShape, ConstantOfShape) {
  auto r = run_op("ConstantOfShape", {{vec_i64({2, 3}), true}}, {}, 12);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(same_tensor(Tensor(DType::kFloat32, {2, 3}), r.value()[0]));
  Attribute v;
  v.kind = Attribute::Kind::kTensor;
  v.t = int64_tensor({1}, {-7});
  r = run_op("ConstantOfShape", {{vec_i64({3, 0, 2}), true}}, {{"value", v}}, 12);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value()[0].shape(), (Shape{3, 0, 2}));
  r = run_op("ConstantOfShape", {{vec_i64({5}), true}}, {{"value", v}}, 12);
  ASSERT_TRUE(r.ok());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(r.value()[0].data<int64_t>()[i], -7);
  EXPECT_FALSE(run_op("ConstantOfShape", {{vec_i64({5}), false}}, {}, 12).ok());
}

TEST(RefTensorShape, NonZeroOnlyWhenConstant) {
  std::mt19937 rng(test_seed());
  SCOPED_TRACE(seed_note());
  Tensor x(DType::kFloat32, {3, 4, 2});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = (rng() % 3 == 0) ? 0.0f : 1.5f;
  x.data<float>()[0] = -0.0f;
  auto r = run_op("NonZero", {{x, true}}, {}, 13);
  ASSERT_TRUE(r.ok()) << r.status().message();
  std::vector<std::vector<int64_t>> want;
  for (int64_t i = 0; i < x.numel(); ++i)
    if (x.data<float>()[i] != 0.0f) want.push_back(unravel(i, x.shape()));
  const Tensor& y = r.value()[0];
  ASSERT_EQ(y.shape(), (Shape{3, static_cast<int64_t>(want.size())}));
  for (size_t k = 0; k < want.size(); ++k)
    for (int d = 0; d < 3; ++d)
      EXPECT_EQ(y.data<int64_t>()[d * y.dim(1) + static_cast<int64_t>(k)],
                want[k][static_cast<size_t>(d)]);
  auto bad = run_op("NonZero", {{x, false}}, {}, 13);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kUnsupported);
}

}  // namespace
}  // namespace fungen::test
