// Synthetic VR clips rendered from a known scene (bright dots at known directions), encoded,
// decoded and unwarped: each dot lands where the scene rendered straight into the view puts it,
// within 0.5 px. The other eye holds different dots, so a wrong eye fails too.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include <fmt/format.h>

#include "fungen/video.h"
#include "video/decoder.h"
#include "video/frame_sampler.h"
#include "video_test_util.h"

namespace fungen {
namespace {

constexpr double kDeg = std::numbers::pi / 180.0;

struct Dot {
  double yaw_deg, pitch_deg;  // pitch positive up
};

void dot_direction(const Dot& d, double out[3]) {
  double y = d.yaw_deg * kDeg, p = d.pitch_deg * kDeg;
  out[0] = std::cos(p) * std::sin(y);
  out[1] = -std::sin(p);  // y points down
  out[2] = std::cos(p) * std::cos(y);
}

// Dots in the view of UnwarpOptions{} (pitch −21°, 90°×90°) and in views turned by yaw.
const std::vector<Dot> kLeftDots = {{0, -21}, {-25, -8}, {22, -38}, {30, 5}, {-28, -42}, {8, -55}};
const std::vector<Dot> kRightDots = {{12, -15}, {-15, -30}, {35, -20}, {-5, 2}};
constexpr double kDotRadiusDeg = 1.2;

// Brightness (0..1) of the scene in direction d.
double scene(const std::vector<Dot>& dots, const double d[3]) {
  double cos_r = std::cos(kDotRadiusDeg * kDeg);
  for (const Dot& dot : dots) {
    double c[3];
    dot_direction(dot, c);
    if (c[0] * d[0] + c[1] * d[1] + c[2] * d[2] > cos_r) return 1.0;
  }
  return 0.0;
}

// Eye texture (u, v) → direction, written here independently of fungen's tables.
bool eye_uv_to_direction(const VrFormat& f, double u, double v, double d[3]) {
  if (f.projection == VrProjection::kFisheye) {
    double dx = 2 * u - 1, dy = 2 * v - 1;
    double r = std::hypot(dx, dy);
    if (r > 1) return false;
    double phi = r * f.fov_deg * kDeg / 2;
    d[0] = r > 0 ? std::sin(phi) * dx / r : 0;
    d[1] = r > 0 ? std::sin(phi) * dy / r : 0;
    d[2] = std::cos(phi);
    return true;
  }
  double span =
      f.projection == VrProjection::kHalfEquirect ? std::numbers::pi : 2 * std::numbers::pi;
  double lon = (u - 0.5) * span, lat = (v - 0.5) * std::numbers::pi;
  d[0] = std::cos(lat) * std::sin(lon);
  d[1] = std::sin(lat);
  d[2] = std::cos(lat) * std::cos(lon);
  return true;
}

// The full VR frame: left-eye dots in the left eye's picture, right-eye dots in the other.
Image render_vr_frame(const VrFormat& f, int w, int h) {
  Image img(w, h);
  int ew = f.layout == VrLayout::kSideBySide ? w / 2 : w;
  int eh = f.layout == VrLayout::kTopBottom ? h / 2 : h;
  constexpr int kSs = 3;  // supersampling per axis
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      int half = f.layout == VrLayout::kSideBySide  ? x / ew
                 : f.layout == VrLayout::kTopBottom ? y / eh
                                                    : 0;
      bool is_right = (half == 1) != f.right_eye_first;
      const auto& dots = is_right ? kRightDots : kLeftDots;
      double lx = x - (f.layout == VrLayout::kSideBySide ? half * ew : 0);
      double ly = y - (f.layout == VrLayout::kTopBottom ? half * eh : 0);
      double sum = 0;
      for (int sy = 0; sy < kSs; ++sy) {
        for (int sx = 0; sx < kSs; ++sx) {
          double d[3];
          double u = (lx + (sx + 0.5) / kSs) / ew, v = (ly + (sy + 0.5) / kSs) / eh;
          if (eye_uv_to_direction(f, u, v, d)) sum += scene(dots, d);
        }
      }
      uint8_t g = static_cast<uint8_t>(std::lround(16 + 220 * sum / (kSs * kSs)));
      uint8_t* p = img.pixel(x, y);
      p[0] = p[1] = p[2] = g;
    }
  }
  return img;
}

// The view rendered straight from the scene (stereographic / rectilinear inverse written here).
Image render_view(const UnwarpOptions& v, const std::vector<Dot>& dots) {
  Image img(v.width, v.height);
  constexpr int kSs = 3;
  double cp = std::cos(v.pitch_deg * kDeg), sp = std::sin(v.pitch_deg * kDeg);
  double cy = std::cos(v.yaw_deg * kDeg), sy = std::sin(v.yaw_deg * kDeg);
  for (int y = 0; y < v.height; ++y) {
    for (int x = 0; x < v.width; ++x) {
      double sum = 0;
      for (int ssy = 0; ssy < kSs; ++ssy) {
        for (int ssx = 0; ssx < kSs; ++ssx) {
          double nx = 2 * (x + (ssx + 0.5) / kSs) / v.width - 1;
          double ny = 2 * (y + (ssy + 0.5) / kSs) / v.height - 1;
          double c[3];
          if (v.projection == ViewProjection::kRectilinear) {
            double px = nx * std::tan(v.fov_x_deg * kDeg / 2),
                   py = ny * std::tan(v.fov_y_deg * kDeg / 2);
            double n = std::sqrt(px * px + py * py + 1);
            c[0] = px / n, c[1] = py / n, c[2] = 1 / n;
          } else {
            double px = nx * 2 * std::tan(v.fov_x_deg * kDeg / 4),
                   py = ny * 2 * std::tan(v.fov_y_deg * kDeg / 4);
            double r = std::hypot(px, py), th = 2 * std::atan(r / 2);
            c[0] = r > 0 ? std::sin(th) * px / r : 0, c[1] = r > 0 ? std::sin(th) * py / r : 0;
            c[2] = std::cos(th);
          }
          double p[3] = {c[0], c[1] * cp - c[2] * sp, c[1] * sp + c[2] * cp};
          double w[3] = {p[0] * cy + p[2] * sy, p[1], -p[0] * sy + p[2] * cy};
          sum += scene(dots, w);
        }
      }
      uint8_t g = static_cast<uint8_t>(std::lround(16 + 220 * sum / (kSs * kSs)));
      uint8_t* q = img.pixel(x, y);
      q[0] = q[1] = q[2] = g;
    }
  }
  return img;
}

// Brightness-weighted centroids of the blobs of `img` (4-connected components above 80).
std::vector<std::pair<double, double>> blob_centroids(const Image& img) {
  int w = img.width(), h = img.height();
  std::vector<int> label(static_cast<size_t>(w) * h, -1);
  std::vector<std::pair<double, double>> out;
  auto value = [&](int x, int y) {
    return static_cast<double>(img.data()[(static_cast<size_t>(y) * w + x) * 3 + 1]);
  };
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      if (label[y * w + x] >= 0 || value(x, y) <= 80) continue;
      int id = static_cast<int>(out.size());
      std::vector<std::pair<int, int>> stack = {{x, y}};
      label[y * w + x] = id;
      double sw = 0, sx = 0, sy = 0;
      while (!stack.empty()) {
        auto [cx, cy] = stack.back();
        stack.pop_back();
        // Weight by brightness above the background over a 1-pixel halo too.
        double wgt = std::max(value(cx, cy) - 16.0, 0.0);
        sw += wgt, sx += wgt * (cx + 0.5), sy += wgt * (cy + 0.5);
        const int nb[4][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}};
        for (auto& n : nb) {
          int nx = cx + n[0], ny = cy + n[1];
          if (nx < 0 || ny < 0 || nx >= w || ny >= h || label[ny * w + nx] >= 0) continue;
          if (value(nx, ny) <= 20) continue;  // grow through the soft edge
          label[ny * w + nx] = id;
          stack.push_back({nx, ny});
        }
      }
      out.push_back({sx / sw, sy / sw});
    }
  }
  return out;
}

struct VrCase {
  const char* name;
  const char* format;
  int width, height;
  UnwarpOptions view;
};

UnwarpOptions small_view(ViewProjection p, Eye eye, double yaw = 0) {
  UnwarpOptions v;
  v.projection = p, v.eye = eye, v.yaw_deg = yaw;
  v.width = v.height = 320;
  return v;
}

const VrCase kCases[] = {
    {"sbs_fisheye190_left", "sbs-fisheye190", 1600, 800,
     small_view(ViewProjection::kStereographic, Eye::kLeft)},
    {"rl_fisheye200_left", "rl-fisheye200", 1600, 800,
     small_view(ViewProjection::kStereographic, Eye::kLeft)},
    {"sbs_he180_right_rectilinear", "sbs-he180", 1600, 800,
     small_view(ViewProjection::kRectilinear, Eye::kRight)},
    {"tb_equirect360_left", "tb-equirect360", 1280, 1280,
     small_view(ViewProjection::kStereographic, Eye::kLeft)},
};

class VrClip : public ::testing::TestWithParam<VrCase> {};

TEST_P(VrClip, DotsLandWhereTheAnalyticViewPutsThem) {
  const VrCase& c = GetParam();
  VrFormat f = parse_vr_format(c.format).value();
  Image frame = render_vr_frame(f, c.width, c.height);
  std::string path = test::temp_dir() + "/" + c.name + "_" + f.to_string() + ".mp4";
  ASSERT_TRUE(test::encode_frames({frame, frame}, 25,
                                  "-c:v libx264 -preset ultrafast -crf 4 -pix_fmt yuv420p", path));
  auto reader = VideoReader::open(path, {.device = DecodeDevice::kCpu});
  ASSERT_TRUE(reader.ok()) << reader.status().message();
  RemapTable table = make_unwarp_table(f, c.view, reader->info().width, reader->info().height);
  VideoFrame vf;
  auto more = reader->read(vf, table);
  ASSERT_TRUE(more.ok() && more.value());

  const auto& dots = c.view.eye == Eye::kRight ? kRightDots : kLeftDots;
  auto expected = blob_centroids(render_view(c.view, dots));
  auto got = blob_centroids(vf.image);
  ASSERT_GE(expected.size(), 3u);
  ASSERT_EQ(got.size(), expected.size());
  for (const auto& e : expected) {
    double best = 1e9;
    for (const auto& g : got)
      best = std::min(best, std::hypot(g.first - e.first, g.second - e.second));
    if (std::getenv("FUNGEN_TEST_VERBOSE")) std::printf("%s dot error %.3f px\n", c.name, best);
    EXPECT_LT(best, 0.5) << "dot expected at (" << e.first << ", " << e.second << ")";
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, VrClip, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

// The AVX2 kernel computes what the scalar reference computes, for planar and NV12 frames.
TEST(VrClip, SimdSamplerMatchesTheScalarReference) {
  for (const char* fmt_args :
       {"-c:v libx264 -preset ultrafast -pix_fmt yuv420p", "-c:v rawvideo -pix_fmt nv12"}) {
    std::string path =
        test::temp_dir() + "/simd_" + std::to_string(std::string(fmt_args).size()) +
        (std::string(fmt_args).find("rawvideo") != std::string::npos ? ".nut" : ".mp4");
    ASSERT_TRUE(test::ffmpeg("-f lavfi -i testsrc2=size=1000x500:rate=25:duration=0.04 " +
                             std::string(fmt_args) + " '" + path + "'"));
    auto dec = video::Decoder::open(path, {.device = DecodeDevice::kCpu});
    ASSERT_TRUE(dec.ok());
    video::DecodedFrame f;
    ASSERT_TRUE((*dec)->next(f).value());
    RemapTable t =
        make_unwarp_table(parse_vr_format("sbs-fisheye190").value(),
                          small_view(ViewProjection::kStereographic, Eye::kLeft), 1000, 500);
    t.width = 317, t.height = 323;  // odd widths exercise the scalar tail of each row
    t.x.resize(317 * 323), t.y.resize(317 * 323);
    Image simd, scalar;
    video::FrameSampler a, b;
    ASSERT_TRUE(a.sample(f.frame.get(), 0, t, simd).ok());
    video::set_sampler_simd(false);
    Status s = b.sample(f.frame.get(), 0, t, scalar);
    video::set_sampler_simd(true);
    ASSERT_TRUE(s.ok());
    int worst = 0;
    for (size_t i = 0; i < 317u * 323u * 3; ++i)
      worst = std::max(worst, std::abs(simd.data()[i] - scalar.data()[i]));
    EXPECT_LE(worst, 1) << fmt_args;
  }
}

TEST(VrClip, FormatIsGuessedFromTheFileName) {
  VrFormat f = parse_vr_format("sbs-fisheye190").value();
  Image frame = render_vr_frame(f, 400, 200);
  std::string path = test::temp_dir() + "/scene_FISHEYE190_LR.mp4";
  ASSERT_TRUE(
      test::encode_frames({frame}, 25, "-c:v libx264 -preset ultrafast -pix_fmt yuv420p", path));
  auto reader = VideoReader::open(path);
  ASSERT_TRUE(reader.ok());
  VrFormat g = detect_vr_format(path, reader->info().width, reader->info().height);
  EXPECT_EQ(g.to_string(), "sbs-fisheye190");
}

}  // namespace
}  // namespace fungen
