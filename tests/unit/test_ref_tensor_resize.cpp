// Reference kernels of Resize/Upsample against a direct coordinate formula evaluated in double:
// nearest (every nearest_mode), linear and cubic, for the coordinate transformation modes, with
// scales or sizes. Near-ties (where float and double rounding may pick different neighbours) are
// accepted either way.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "test_ref_tensor_util.h"

namespace fungen::test {
namespace {

struct ResizeCase {
  Shape in;              // N, C, H, W
  int64_t out_h, out_w;  // used when use_sizes
  float sh, sw;          // used when !use_sizes
  bool use_sizes;
  const char* mode;
  const char* coord;
  const char* nearest;
};

const ResizeCase kResizeCases[] = {
    // What Ultralytics exports: nearest, asymmetric, floor, scales [1, 1, 2, 2].
    {{1, 5, 7, 9}, 0, 0, 2.0f, 2.0f, false, "nearest", "asymmetric", "floor"},
    {{2, 3, 5, 4}, 0, 0, 3.0f, 1.5f, false, "nearest", "asymmetric", "floor"},
    {{1, 2, 7, 5}, 11, 3, 0, 0, true, "nearest", "half_pixel", "round_prefer_floor"},
    {{1, 2, 7, 5}, 11, 3, 0, 0, true, "nearest", "half_pixel", "round_prefer_ceil"},
    {{1, 2, 6, 5}, 9, 13, 0, 0, true, "nearest", "align_corners", "round_prefer_floor"},
    {{1, 2, 6, 5}, 4, 2, 0, 0, true, "nearest", "asymmetric", "ceil"},
    {{1, 2, 6, 5}, 13, 1, 0, 0, true, "nearest", "pytorch_half_pixel", "floor"},
    {{1, 3, 5, 7}, 0, 0, 2.0f, 2.0f, false, "linear", "half_pixel", ""},
    {{1, 3, 5, 7}, 0, 0, 0.6f, 1.7f, false, "linear", "half_pixel", ""},
    {{2, 2, 5, 7}, 9, 4, 0, 0, true, "linear", "align_corners", ""},
    {{1, 2, 5, 7}, 8, 11, 0, 0, true, "linear", "asymmetric", ""},
    {{1, 2, 5, 7}, 1, 12, 0, 0, true, "linear", "pytorch_half_pixel", ""},
    {{1, 2, 6, 5}, 0, 0, 2.0f, 2.0f, false, "cubic", "half_pixel", ""},
    {{1, 2, 6, 5}, 9, 3, 0, 0, true, "cubic", "align_corners", ""},
    {{1, 1, 4, 6}, 7, 10, 0, 0, true, "cubic", "asymmetric", ""},
};

double source_coord(const std::string& coord, double x, double scale, int64_t in, int64_t out) {
  if (coord == "half_pixel") return (x + 0.5) / scale - 0.5;
  if (coord == "pytorch_half_pixel") return out > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
  if (coord == "align_corners")
    return out == 1 ? 0.0 : x * static_cast<double>(in - 1) / static_cast<double>(out - 1);
  return x / scale;  // asymmetric
}

// The nearest indices that a float implementation may legitimately pick (two near a tie).
std::vector<int64_t> nearest_candidates(const std::string& mode, double c, int64_t in) {
  auto pick = [&](double v) {
    const double fl = std::floor(v);
    if (mode == "floor") return fl;
    if (mode == "ceil") return std::ceil(v);
    if (v - fl == 0.5) return mode == "round_prefer_ceil" ? fl + 1 : fl;
    return std::round(v);
  };
  std::vector<int64_t> out;
  for (double e : {-1e-4, 0.0, 1e-4}) {
    const int64_t i = std::clamp<int64_t>(static_cast<int64_t>(pick(c + e)), 0, in - 1);
    if (std::find(out.begin(), out.end(), i) == out.end()) out.push_back(i);
  }
  return out;
}

// Linear or cubic weights over input indices along one axis, in double.
std::vector<std::pair<int64_t, double>> taps(const std::string& mode, double c, int64_t in,
                                             double a = -0.75) {
  std::vector<std::pair<int64_t, double>> t;
  if (mode == "linear") {
    c = std::clamp(c, 0.0, static_cast<double>(in - 1));
    const int64_t i0 = static_cast<int64_t>(std::floor(c));
    const int64_t i1 = std::min(i0 + 1, in - 1);
    t.push_back({i0, 1.0 - (c - static_cast<double>(i0))});
    t.push_back({i1, c - static_cast<double>(i0)});
    return t;
  }
  const double f = std::floor(c), s = c - f;
  auto w = [&](double x) {
    x = std::fabs(x);
    if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0.0;
  };
  for (int k = -1; k <= 2; ++k)
    t.push_back({std::clamp<int64_t>(static_cast<int64_t>(f) + k, 0, in - 1), w(s - k)});
  return t;
}

TEST(RefTensorResize, MatchesDirectFormula) {
  std::mt19937 rng(test_seed());
  SCOPED_TRACE(seed_note());
  for (const ResizeCase& c : kResizeCases) {
    const std::string mode = c.mode, coord = c.coord;
    SCOPED_TRACE(mode + "/" + coord + "/" + c.nearest + " " + shape_to_string(c.in));
    Tensor x = random_tensor(c.in, rng);
    Tensor scales(DType::kFloat32, {4});
    std::vector<OpInput> ins = {x, Tensor(), Tensor()};
    int64_t oh, ow;
    double sh, sw;
    if (c.use_sizes) {
      ins.push_back({vec_i64({c.in[0], c.in[1], c.out_h, c.out_w}), true});
      oh = c.out_h;
      ow = c.out_w;
      sh = static_cast<double>(static_cast<float>(oh) / static_cast<float>(c.in[2]));
      sw = static_cast<double>(static_cast<float>(ow) / static_cast<float>(c.in[3]));
    } else {
      const float s[4] = {1, 1, c.sh, c.sw};
      std::copy(s, s + 4, scales.data<float>());
      ins[2] = OpInput(scales, true);
      oh = static_cast<int64_t>(std::floor(c.sh * static_cast<double>(c.in[2])));
      ow = static_cast<int64_t>(std::floor(c.sw * static_cast<double>(c.in[3])));
      sh = c.sh;
      sw = c.sw;
    }
    AttrList attrs = {{"mode", attr_string(mode)},
                      {"coordinate_transformation_mode", attr_string(coord)}};
    if (*c.nearest) attrs.push_back({"nearest_mode", attr_string(c.nearest)});
    auto r = run_op("Resize", ins, attrs, 13);
    ASSERT_TRUE(r.ok()) << r.status().message();
    const Tensor& y = r.value()[0];
    ASSERT_EQ(y.shape(), (Shape{c.in[0], c.in[1], oh, ow}));
    const int64_t H = c.in[2], W = c.in[3];
    for (int64_t f = 0; f < y.numel(); ++f) {
      auto o = unravel(f, y.shape());
      const double cy = source_coord(coord, static_cast<double>(o[2]), sh, H, oh);
      const double cx = source_coord(coord, static_cast<double>(o[3]), sw, W, ow);
      const float* plane = x.data<float>() + (o[0] * c.in[1] + o[1]) * H * W;
      const float got = y.data<float>()[f];
      if (mode == "nearest") {
        bool hit = false;
        for (int64_t iy : nearest_candidates(c.nearest, cy, H))
          for (int64_t ix : nearest_candidates(c.nearest, cx, W))
            hit = hit || plane[iy * W + ix] == got;
        ASSERT_TRUE(hit) << "output " << f << " (y=" << o[2] << ", x=" << o[3] << ")";
      } else {
        double want = 0;
        for (auto [iy, wy] : taps(mode, cy, H))
          for (auto [ix, wx] : taps(mode, cx, W)) want += wy * wx * plane[iy * W + ix];
        ASSERT_NEAR(got, want, 2e-5 * (1 + std::fabs(want))) << "output " << f;
      }
    }
  }
}

TEST(RefTensorResize, CubicExcludeOutsideAndInputForms) {
  std::mt19937 rng(test_seed());
  SCOPED_TRACE(seed_note());
  Tensor x = random_tensor({1, 1, 5, 6}, rng);
  Tensor scales(DType::kFloat32, {4});
  const float s[4] = {1, 1, 1.6f, 0.8f};
  std::copy(s, s + 4, scales.data<float>());
  auto r = run_op("Resize", {x, Tensor(), {scales, true}},
                  {{"mode", attr_string("cubic")},
                   {"exclude_outside", attr_int(1)},
                   {"cubic_coeff_a", attr_float(-0.5f)}},
                  13);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Tensor& y = r.value()[0];
  ASSERT_EQ(y.shape(), (Shape{1, 1, 8, 4}));
  auto excl = [&](double c, int64_t in) {
    auto t = taps("cubic", c, in, -0.5);
    const double f = std::floor(c);
    double sum = 0;
    for (int k = 0; k < 4; ++k) {
      const double raw = f - 1 + k;
      if (raw < 0 || raw > static_cast<double>(in - 1)) t[static_cast<size_t>(k)].second = 0;
      sum += t[static_cast<size_t>(k)].second;
    }
    for (auto& p : t) p.second /= sum;
    return t;
  };
  for (int64_t f = 0; f < y.numel(); ++f) {
    auto o = unravel(f, y.shape());
    double want = 0;
    for (auto [iy, wy] : excl((o[2] + 0.5) / 1.6f - 0.5, 5))
      for (auto [ix, wx] : excl((o[3] + 0.5) / 0.8f - 0.5, 6))
        want += wy * wx * x.data<float>()[iy * 6 + ix];
    ASSERT_NEAR(y.data<float>()[f], want, 1e-4) << f;
  }
  // Opset 11 with an empty roi, opset 10 (X, scales) and Upsample 9 give the YOLO nearest result.
  Tensor s2(DType::kFloat32, {4});
  const float two[4] = {1, 1, 2, 2};
  std::copy(two, two + 4, s2.data<float>());
  AttrList yolo = {{"mode", attr_string("nearest")},
                   {"coordinate_transformation_mode", attr_string("asymmetric")},
                   {"nearest_mode", attr_string("floor")}};
  auto a = run_op("Resize", {x, {Tensor(DType::kFloat32, {0}), true}, {s2, true}}, yolo, 11);
  auto b = run_op("Resize", {x, {s2, true}}, {{"mode", attr_string("nearest")}}, 10);
  auto u = run_op("Upsample", {x, {s2, true}}, {{"mode", attr_string("nearest")}}, 9);
  ASSERT_TRUE(a.ok() && b.ok() && u.ok())
      << a.status().message() << b.status().message() << u.status().message();
  EXPECT_TRUE(same_tensor(a.value()[0], b.value()[0]));
  EXPECT_TRUE(same_tensor(a.value()[0], u.value()[0]));
  for (int64_t f = 0; f < a.value()[0].numel(); ++f) {
    auto o = unravel(f, a.value()[0].shape());
    ASSERT_EQ(a.value()[0].data<float>()[f], x.data<float>()[(o[2] / 2) * 6 + o[3] / 2]);
  }
}

TEST(RefTensorResize, AxesPolicyAndErrors) {
  Tensor x = iota_tensor(DType::kFloat32, {1, 1, 4, 6});
  // Opset 18 axes with sizes and keep_aspect_ratio_policy.
  auto r = run_op(
      "Resize", {x, Tensor(), Tensor(), {vec_i64({8, 8}), true}},
      {{"axes", attr_ints({2, 3})}, {"keep_aspect_ratio_policy", attr_string("not_larger")}}, 18);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value()[0].shape(), (Shape{1, 1, 5, 8}));
  r = run_op(
      "Resize", {x, Tensor(), Tensor(), {vec_i64({8, 8}), true}},
      {{"axes", attr_ints({2, 3})}, {"keep_aspect_ratio_policy", attr_string("not_smaller")}}, 18);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value()[0].shape(), (Shape{1, 1, 8, 12}));
  // Integer data resizes with nearest.
  Tensor xi = iota_tensor(DType::kUInt8, {1, 2, 3, 3});
  r = run_op("Resize", {xi, Tensor(), Tensor(), {vec_i64({1, 2, 6, 6}), true}},
             {{"coordinate_transformation_mode", attr_string("asymmetric")},
              {"nearest_mode", attr_string("floor")}},
             13);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value()[0].data<uint8_t>()[7], xi.data<uint8_t>()[0]);  // (y=1, x=1) -> (0, 0)
  // Errors.
  Tensor s2(DType::kFloat32, {4});
  const float two[4] = {1, 1, 2, 2};
  std::copy(two, two + 4, s2.data<float>());
  auto e = run_op("Resize", {x, Tensor(), {s2, false}}, {}, 13);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("input 'scales' must be constant"), std::string::npos)
      << e.status().message();
  e = run_op("Resize", {x, Tensor(), {s2, true}}, {{"antialias", attr_int(1)}}, 18);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kUnsupported);
  e = run_op("Resize", {x, Tensor(), {s2, true}}, {{"mode", attr_string("linear")}}, 13);
  EXPECT_TRUE(e.ok());
  e = run_op("Resize", {xi, Tensor(), {s2, true}}, {{"mode", attr_string("linear")}}, 13);
  EXPECT_FALSE(e.ok());
  e = run_op("Resize", {x, Tensor(), {s2, true}, {vec_i64({1, 1, 8, 12}), true}}, {}, 13);
  EXPECT_FALSE(e.ok());
}

// Two ONNX Runtime behaviours the spec does not spell out: an axis of scale 1 is not resampled
// (tf_crop_and_resize's roi included), and an output of the input's shape is the input.
TEST(RefTensorResize, OrtShortcuts) {
  std::mt19937 rng(test_seed());
  SCOPED_TRACE(seed_note());
  Tensor x = random_tensor({1, 1, 4, 5}, rng);
  Tensor roi(DType::kFloat32, {8});
  const float rv[8] = {0, 0, 0.1f, 0.3f, 1, 1, 0.9f, 0.6f};
  std::copy(rv, rv + 8, roi.data<float>());
  Tensor scales(DType::kFloat32, {4});
  const float sv[4] = {1, 1, 2, 1};
  std::copy(sv, sv + 4, scales.data<float>());
  auto r = run_op("Resize", {x, {roi, true}, {scales, true}},
                  {{"mode", attr_string("nearest")},
                   {"coordinate_transformation_mode", attr_string("tf_crop_and_resize")}},
                  13);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Tensor& y = r.value()[0];
  ASSERT_EQ(y.shape(), (Shape{1, 1, 8, 5}));
  for (int64_t oy = 0; oy < 8; ++oy) {  // every output row is some input row, unchanged along W
    bool found = false;
    for (int64_t iy = 0; iy < 4 && !found; ++iy)
      found = std::equal(y.data<float>() + oy * 5, y.data<float>() + oy * 5 + 5,
                         x.data<float>() + iy * 5);
    EXPECT_TRUE(found || y.data<float>()[oy * 5] == 0.0f) << oy;
  }
  const float same[4] = {1, 1, 1.1f, 1.1f};  // floor(4 * 1.1) = 4, floor(5 * 1.1) = 5: no change
  std::copy(same, same + 4, scales.data<float>());
  r = run_op("Resize", {x, Tensor(), {scales, true}},
             {{"mode", attr_string("nearest")},
              {"coordinate_transformation_mode", attr_string("half_pixel")},
              {"nearest_mode", attr_string("floor")}},
             13);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(same_tensor(x, r.value()[0]));
}

}  // namespace
}  // namespace fungen::test
