// BatchNormalization (inference), InstanceNormalization and LayerNormalization reference kernels
// against the textbook formulas evaluated in double.
#include <gtest/gtest.h>

#include <cmath>

#include "test_ref_nn_common.h"

namespace fungen::test {
namespace {

const Shape kBatchNormShapes[] = {{2, 5, 7, 9}, {4, 5}, {1, 5, 3, 4, 6}, {1, 5, 33, 35}};

TEST(RefNnNorm, BatchNormalizationInference) {
  const uint32_t seed = test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  for (const Shape& shape : kBatchNormShapes) {
    for (int64_t opset : {9, 15}) {
      SCOPED_TRACE(shape_to_string(shape) + " opset " + std::to_string(opset));
      const int64_t c = shape[1];
      Tensor x = random_tensor(shape, rng, -3, 3);
      Tensor scale = random_tensor({c}, rng, 0.5, 2);
      Tensor bias = random_tensor({c}, rng);
      Tensor mean = random_tensor({c}, rng);
      Tensor var = random_tensor({c}, rng, 0.1f, 2);
      const float eps = 1e-3f;
      const int64_t plane = x.numel() / (shape[0] * c);
      std::vector<double> want;
      for (int64_t i = 0; i < x.numel(); ++i) {
        const int64_t ch = (i / plane) % c;
        want.push_back((element(x, i) - element(mean, ch)) /
                           std::sqrt(element(var, ch) + static_cast<double>(eps)) *
                           element(scale, ch) +
                       element(bias, ch));
      }
      auto out = run_op_pooled("BatchNormalization", {x, scale, bias, mean, var},
                               {{"epsilon", attr_float(eps)}}, opset, test_pool());
      ASSERT_TRUE(out.ok()) << out.status().message();
      expect_close(out.value()[0], want, 1e-5, 1e-5);
    }
  }
}

TEST(RefNnNorm, InstanceNormalization) {
  const uint32_t seed = test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  for (const Shape& shape : {Shape{2, 3, 5, 7}, Shape{1, 4, 11}, Shape{2, 2, 3, 4, 5}}) {
    SCOPED_TRACE(shape_to_string(shape));
    const int64_t c = shape[1];
    Tensor x = random_tensor(shape, rng, -2, 4);
    Tensor scale = random_tensor({c}, rng);
    Tensor bias = random_tensor({c}, rng);
    const int64_t plane = x.numel() / (shape[0] * c);
    std::vector<double> want;
    for (int64_t p = 0; p < shape[0] * c; ++p) {
      double mean = 0, var = 0;
      for (int64_t i = 0; i < plane; ++i)
        mean += element(x, p * plane + i) / static_cast<double>(plane);
      for (int64_t i = 0; i < plane; ++i)
        var += std::pow(element(x, p * plane + i) - mean, 2) / static_cast<double>(plane);
      for (int64_t i = 0; i < plane; ++i) {
        want.push_back(element(scale, p % c) * (element(x, p * plane + i) - mean) /
                           std::sqrt(var + 1e-5) +
                       element(bias, p % c));
      }
    }
    auto out = run_op("InstanceNormalization", {x, scale, bias}, {}, 6);
    ASSERT_TRUE(out.ok()) << out.status().message();
    expect_close(out.value()[0], want, 1e-5, 1e-5);
  }
}

struct LayerNormCase {
  Shape x;
  int64_t axis;
  Shape scale;
  bool bias;
};

const LayerNormCase kLayerNormCases[] = {
    {{2, 3, 5, 7}, -1, {7}, true}, {{2, 3, 5, 7}, 1, {3, 5, 7}, true},
    {{2, 3, 5, 7}, 2, {7}, false},  // scale broadcast over the normalized [5, 7]
    {{4, 9}, 0, {4, 9}, true},     {{1, 400, 64}, -1, {64}, true},
};

TEST(RefNnNorm, LayerNormalizationWithStatistics) {
  const uint32_t seed = test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  for (const LayerNormCase& c : kLayerNormCases) {
    SCOPED_TRACE(shape_to_string(c.x) + " axis=" + std::to_string(c.axis));
    Tensor x = random_tensor(c.x, rng, -2, 3);
    const int rank = static_cast<int>(c.x.size());
    const size_t axis = static_cast<size_t>(c.axis < 0 ? c.axis + rank : c.axis);
    const Shape norm(c.x.begin() + static_cast<std::ptrdiff_t>(axis), c.x.end());
    Tensor scale = random_tensor(c.scale, rng);
    Tensor bias = random_tensor(c.scale, rng);
    const int64_t d = shape_numel(norm), rows = x.numel() / d;
    std::vector<double> want, want_mean, want_inv;
    for (int64_t r = 0; r < rows; ++r) {
      double mean = 0, var = 0;
      for (int64_t i = 0; i < d; ++i) mean += element(x, r * d + i);
      mean /= static_cast<double>(d);
      for (int64_t i = 0; i < d; ++i)
        var += (element(x, r * d + i) - mean) * (element(x, r * d + i) - mean);
      var /= static_cast<double>(d);
      const double inv = 1.0 / std::sqrt(var + 1e-5);
      for (int64_t i = 0; i < d; ++i) {
        const auto idx = unravel(i, norm);
        const int64_t si = broadcast_index(idx, c.scale);
        want.push_back((element(x, r * d + i) - mean) * inv * element(scale, si) +
                       (c.bias ? element(bias, si) : 0.0));
      }
      want_mean.push_back(mean);
      want_inv.push_back(inv);
    }
    std::vector<OpInput> inputs = {x, scale};
    if (c.bias) inputs.push_back(bias);
    auto out = run_op_pooled("LayerNormalization", inputs, {{"axis", attr_int(c.axis)}}, 17,
                             test_pool(), 3);
    ASSERT_TRUE(out.ok()) << out.status().message();
    expect_close(out.value()[0], want, 1e-5, 1e-5, "Y");
    Shape stats_shape = c.x;
    for (size_t i = axis; i < stats_shape.size(); ++i) stats_shape[i] = 1;
    EXPECT_EQ(out.value()[1].shape(), stats_shape);
    expect_close(out.value()[1], want_mean, 1e-6, 1e-5, "Mean");
    expect_close(out.value()[2], want_inv, 1e-6, 1e-5, "InvStdDev");
  }
}

TEST(RefNnNorm, LocalResponseNormalization) {
  const uint32_t seed = test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  for (int64_t size : {1, 2, 3, 5}) {
    SCOPED_TRACE("size=" + std::to_string(size));
    const Shape shape = {2, 7, 3, 5};
    Tensor x = random_tensor(shape, rng, -2, 2);
    const double alpha = double{0.002f}, beta = double{0.6f}, bias = double{1.5f};
    const int64_t c = shape[1], plane = shape[2] * shape[3];
    std::vector<double> want;
    for (int64_t i = 0; i < x.numel(); ++i) {
      const int64_t ch = (i / plane) % c, base = i - ch * plane;
      double sq = 0;
      for (int64_t k = ch - (size - 1) / 2; k <= ch + size / 2; ++k) {
        if (k >= 0 && k < c) sq += element(x, base + k * plane) * element(x, base + k * plane);
      }
      want.push_back(element(x, i) *
                     std::pow(bias + alpha / static_cast<double>(size) * sq, -beta));
    }
    auto out = run_op("LRN", {x},
                      {{"size", attr_int(size)},
                       {"alpha", attr_float(0.002f)},
                       {"beta", attr_float(0.6f)},
                       {"bias", attr_float(1.5f)}});
    ASSERT_TRUE(out.ok()) << out.status().message();
    expect_close(out.value()[0], want, 1e-6, 1e-5);
  }
  EXPECT_FALSE(run_op("LRN", {Tensor(DType::kFloat32, {1, 3, 2, 2})}).ok());  // size missing
}

TEST(RefNnNorm, RejectsUnsupportedModesAndBadShapes) {
  const Shape x = {1, 3, 4, 4};
  auto bn = [&](AttrList attrs, Shape param, int64_t opset, int outputs) {
    return run_op(
        "BatchNormalization",
        {Tensor(DType::kFloat32, x), Tensor(DType::kFloat32, param), Tensor(DType::kFloat32, param),
         Tensor(DType::kFloat32, param), Tensor(DType::kFloat32, param)},
        attrs, opset, outputs);
  };
  EXPECT_FALSE(bn({{"training_mode", attr_int(1)}}, {3}, 15, 1).ok());
  EXPECT_FALSE(bn({{"spatial", attr_int(0)}}, {3}, 7, 1).ok());
  EXPECT_FALSE(bn({}, {4}, 15, 1).ok());
  EXPECT_FALSE(bn({}, {3}, 9, 3).ok());
  EXPECT_TRUE(bn({}, {3}, 15, 1).ok());
  EXPECT_FALSE(run_op("LayerNormalization",
                      {Tensor(DType::kFloat32, x), Tensor(DType::kFloat32, {4})},
                      {{"axis", attr_int(4)}})
                   .ok());
  EXPECT_FALSE(run_op("LayerNormalization",
                      {Tensor(DType::kFloat32, x), Tensor(DType::kFloat32, {4})},
                      {{"stash_type", attr_int(0)}})
                   .ok());
  EXPECT_FALSE(
      run_op("LayerNormalization", {Tensor(DType::kFloat32, x), Tensor(DType::kFloat32, {3})})
          .ok());
  EXPECT_FALSE(run_op("InstanceNormalization",
                      {Tensor(DType::kFloat32, x), Tensor(DType::kFloat32, {2}),
                       Tensor(DType::kFloat32, {3})},
                      {}, 6)
                   .ok());
}

}  // namespace
}  // namespace fungen::test
