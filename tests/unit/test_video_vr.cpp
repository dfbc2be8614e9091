// VR formats and remap tables: parsing, guessing, and the unwarp geometry against a forward
// mapping written independently here (direction → view pixel).
#ifdef FUNGEN_HAVE_VIDEO
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>

#include "fungen/video.h"

namespace fungen {
namespace {

constexpr double kDeg = std::numbers::pi / 180.0;

TEST(VrFormat, ParsesFlagSyntax) {
  auto f = parse_vr_format("sbs-fisheye200");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->layout, VrLayout::kSideBySide);
  EXPECT_EQ(f->projection, VrProjection::kFisheye);
  EXPECT_EQ(f->fov_deg, 200);
  EXPECT_EQ(f->to_string(), "sbs-fisheye200");
  f = parse_vr_format("tb-360");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->layout, VrLayout::kTopBottom);
  EXPECT_EQ(f->projection, VrProjection::kEquirect);
  f = parse_vr_format("rl-180");
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->right_eye_first);
  EXPECT_EQ(f->to_string(), "rl-he180");
  f = parse_vr_format("360");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->layout, VrLayout::kMono);
  EXPECT_FALSE(parse_vr_format("none")->is_vr());
  EXPECT_FALSE(parse_vr_format("sbs").ok());  // no projection
  EXPECT_FALSE(parse_vr_format("sbs-wobble").ok());
  auto bad = parse_vr_format("sbs-fisheye9999");
  EXPECT_FALSE(bad.ok());
}

TEST(VrFormat, GuessesFromFileNameThenAspect) {
  VrFormat f = detect_vr_format("/v/Scene_FISHEYE190_LR.mp4", 7680, 3840);
  EXPECT_EQ(f.projection, VrProjection::kFisheye);
  EXPECT_EQ(f.fov_deg, 190);
  EXPECT_EQ(f.layout, VrLayout::kSideBySide);
  f = detect_vr_format("scene_MKX220.mp4", 5760, 2880);
  EXPECT_EQ(f.projection, VrProjection::kFisheye);
  EXPECT_EQ(f.fov_deg, 220);
  f = detect_vr_format("scene_MKX200_RL.mp4", 5760, 2880);
  EXPECT_EQ(f.fov_deg, 200);
  EXPECT_TRUE(f.right_eye_first);
  f = detect_vr_format("scene_360_TB.mp4", 4096, 4096);
  EXPECT_EQ(f.projection, VrProjection::kEquirect);
  EXPECT_EQ(f.layout, VrLayout::kTopBottom);
  f = detect_vr_format("scene_180_sbs.mkv", 100, 100);
  EXPECT_EQ(f.projection, VrProjection::kHalfEquirect);
  EXPECT_FALSE(detect_vr_format("scene_2D.mp4", 7680, 3840).is_vr());
  EXPECT_FALSE(detect_vr_format("holiday.mp4", 1920, 1080).is_vr());
  f = detect_vr_format("untagged.mp4", 4096, 2048);  // 2:1 → side-by-side VR 180
  EXPECT_EQ(f.layout, VrLayout::kSideBySide);
  EXPECT_EQ(f.projection, VrProjection::kHalfEquirect);
}

// --- An independent forward model: direction → view pixel, and source pixel ↔ direction. ---

void rotate_to_camera(const UnwarpOptions& v, const double w[3], double c[3]) {
  // Inverse of yaw then pitch (the table applies pitch first, then yaw).
  double cy = std::cos(v.yaw_deg * kDeg), sy = std::sin(v.yaw_deg * kDeg);
  double p[3] = {w[0] * cy - w[2] * sy, w[1], w[0] * sy + w[2] * cy};
  double cp = std::cos(v.pitch_deg * kDeg), sp = std::sin(v.pitch_deg * kDeg);
  c[0] = p[0];
  c[1] = p[1] * cp + p[2] * sp;
  c[2] = -p[1] * sp + p[2] * cp;
}

// Continuous view coordinates (pixel i spans [i, i+1)) of a camera-space direction.
void camera_to_view(const UnwarpOptions& v, const double c[3], double& px, double& py) {
  double x, y, sx, sy;
  if (v.projection == ViewProjection::kRectilinear) {
    x = c[0] / c[2], y = c[1] / c[2];
    sx = std::tan(v.fov_x_deg * kDeg / 2), sy = std::tan(v.fov_y_deg * kDeg / 2);
  } else {
    double theta = std::acos(c[2]);
    double rho = std::hypot(c[0], c[1]);
    double r = 2 * std::tan(theta / 2);
    x = rho > 0 ? r * c[0] / rho : 0, y = rho > 0 ? r * c[1] / rho : 0;
    sx = 2 * std::tan(v.fov_x_deg * kDeg / 4), sy = 2 * std::tan(v.fov_y_deg * kDeg / 4);
  }
  px = (x / sx + 1) * v.width / 2;
  py = (y / sy + 1) * v.height / 2;
}

// Eye-local texture coordinates (u, v in [0, 1]) → direction.
void eye_uv_to_direction(const VrFormat& f, double u, double v, double d[3]) {
  if (f.projection == VrProjection::kFisheye) {
    double dx = 2 * u - 1, dy = 2 * v - 1;
    double r = std::hypot(dx, dy);
    double phi = r * f.fov_deg * kDeg / 2;
    d[0] = r > 0 ? std::sin(phi) * dx / r : 0;
    d[1] = r > 0 ? std::sin(phi) * dy / r : 0;
    d[2] = std::cos(phi);
  } else {
    double span =
        f.projection == VrProjection::kHalfEquirect ? std::numbers::pi : 2 * std::numbers::pi;
    double lon = (u - 0.5) * span, lat = (v - 0.5) * std::numbers::pi;
    d[0] = std::cos(lat) * std::sin(lon);
    d[1] = std::sin(lat);
    d[2] = std::cos(lat) * std::cos(lon);
  }
}

struct TableCase {
  const char* format;
  UnwarpOptions view;
  int src_w, src_h;
};

class UnwarpTable : public ::testing::TestWithParam<TableCase> {};

// Every table entry, pushed back through the independent forward model, lands on the view pixel
// it was computed for (well within 0.5 px).
TEST_P(UnwarpTable, InvertsTheForwardMapping) {
  const TableCase& tc = GetParam();
  VrFormat f = parse_vr_format(tc.format).value();
  RemapTable t = make_unwarp_table(f, tc.view, tc.src_w, tc.src_h);
  ASSERT_EQ(t.width, tc.view.width);
  ASSERT_EQ(t.x.size(), static_cast<size_t>(t.width) * t.height);
  // Which part of the frame holds the chosen eye.
  bool second = (tc.view.eye == Eye::kRight) != f.right_eye_first;
  double ex = 0, ey = 0, ew = tc.src_w, eh = tc.src_h;
  if (f.layout == VrLayout::kSideBySide) ew /= 2, ex = second ? ew : 0;
  if (f.layout == VrLayout::kTopBottom) eh /= 2, ey = second ? eh : 0;
  double worst = 0;
  int inside = 0;
  for (int r = 0; r < t.height; ++r) {
    for (int c = 0; c < t.width; ++c) {
      size_t i = static_cast<size_t>(r) * t.width + c;
      if (std::isnan(t.x[i])) continue;
      ++inside;
      double u = (t.x[i] + 0.5 - ex) / ew, v = (t.y[i] + 0.5 - ey) / eh;
      ASSERT_GE(u, -1e-4);
      ASSERT_LE(u, 1 + 1e-4);
      ASSERT_GE(v, -1e-4);
      ASSERT_LE(v, 1 + 1e-4);
      double d[3], cam[3], px, py;
      eye_uv_to_direction(f, u, v, d);
      rotate_to_camera(tc.view, d, cam);
      camera_to_view(tc.view, cam, px, py);
      worst = std::max({worst, std::abs(px - (c + 0.5)), std::abs(py - (r + 0.5))});
    }
  }
  EXPECT_GT(inside, t.width * t.height / 2);
  EXPECT_LT(worst, 0.01) << tc.format;
}

UnwarpOptions view(ViewProjection p, double fov, double pitch, double yaw, int w, int h, Eye eye) {
  UnwarpOptions v;
  v.projection = p, v.fov_x_deg = v.fov_y_deg = fov, v.pitch_deg = pitch, v.yaw_deg = yaw;
  v.width = w, v.height = h, v.eye = eye;
  return v;
}

const TableCase kTables[] = {
    {"sbs-fisheye190", UnwarpOptions{}, 7680, 3840},
    {"rl-fisheye200", view(ViewProjection::kStereographic, 100, -30, 15, 320, 240, Eye::kLeft),
     5760, 2880},
    {"sbs-fisheye220", view(ViewProjection::kRectilinear, 80, 10, -20, 256, 256, Eye::kRight), 4000,
     2000},
    {"sbs-he180", UnwarpOptions{}, 4096, 2048},
    {"tb-equirect360", view(ViewProjection::kStereographic, 90, -21, 120, 200, 200, Eye::kRight),
     4096, 4096},
    {"mono-equirect360", view(ViewProjection::kRectilinear, 60, 0, -170, 128, 96, Eye::kLeft), 3840,
     1920},
};

INSTANTIATE_TEST_SUITE_P(Formats, UnwarpTable, ::testing::ValuesIn(kTables), [](const auto& info) {
  std::string s = info.param.format;
  for (char& ch : s)
    if (ch == '-') ch = '_';
  return s;
});

TEST(UnwarpTable, DefaultViewLooksAtMinus21DegreesInTheLeftEyeCentre) {
  VrFormat f = parse_vr_format("sbs-fisheye190").value();
  RemapTable t = make_unwarp_table(f, {}, 3800, 1900);
  // The centre of the view (between pixels 319 and 320) looks 21° down the lens axis: in an
  // equidistant 190° fisheye that is 21/95 of the image circle's radius below the eye centre.
  float x = 0.5f * (t.x[320 * 640 + 319] + t.x[320 * 640 + 320]);
  float y = 0.5f * (t.y[319 * 640 + 320] + t.y[320 * 640 + 320]);
  EXPECT_NEAR(x + 0.5, 950.0, 0.5);
  EXPECT_NEAR(y + 0.5, 950.0 + 950.0 * 21.0 / 95.0, 0.5);
}

TEST(Remap, ResizeTableUsesHalfPixelCentres) {
  RemapTable t = make_resize_table(1920, 1080, 640, 360);
  EXPECT_FLOAT_EQ(t.x[0], 1.0f);  // (0 + 0.5)·3 − 0.5
  EXPECT_FLOAT_EQ(t.y[0], 1.0f);
  EXPECT_FLOAT_EQ(t.x[639], 1918.0f);
  RemapTable up = make_resize_table(10, 10, 40, 40);
  EXPECT_FLOAT_EQ(up.x[0], 0.0f);  // clamped like OpenCV
}

TEST(Remap, BilinearIsExactOnLinearImagesAndBlackOutside) {
  // A linear ramp: bilinear interpolation reproduces it to the rounding of 7-bit weights.
  Image src(64, 48);
  for (int y = 0; y < 48; ++y) {
    for (int x = 0; x < 64; ++x) {
      uint8_t* p = src.pixel(x, y);
      p[0] = static_cast<uint8_t>(3 * x), p[1] = static_cast<uint8_t>(4 * y), p[2] = 100;
    }
  }
  RemapTable t;
  t.width = 50, t.height = 1, t.src_width = 64, t.src_height = 48;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> ux(0.f, 63.f), uy(0.f, 47.f);
  for (int i = 0; i < 50; ++i) {
    t.x.push_back(ux(rng));
    t.y.push_back(uy(rng));
  }
  t.x[7] = NAN;
  Image out;
  remap_bgr(src.frame(), t, out);
  for (int i = 0; i < 50; ++i) {
    const uint8_t* p = out.pixel(i, 0);
    if (i == 7) {
      EXPECT_EQ(p[0] + p[1] + p[2], 0);
      continue;
    }
    EXPECT_NEAR(p[0], 3 * t.x[i], 1.0) << i;
    EXPECT_NEAR(p[1], 4 * t.y[i], 1.0) << i;
    EXPECT_EQ(p[2], 100);
  }
}

}  // namespace
}  // namespace fungen
#endif  // FUNGEN_HAVE_VIDEO
