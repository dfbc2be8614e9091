// remap_table.cpp — where each output pixel of a resize or a VR view samples the source frame.
#include <algorithm>
#include <cmath>
#include <numbers>

#include "fungen/video.h"
#include "video/frame_sampler.h"

namespace fungen {
namespace {

constexpr double kDeg = std::numbers::pi / 180.0;

// The part of the frame that holds the eye to unwarp.
struct EyeRect {
  double x0, y0, w, h;
};

EyeRect eye_rect(const VrFormat& f, Eye eye, int w, int h) {
  // Which half: the left eye is the first half unless the file is "_RL".
  int half = (eye == Eye::kRight) != f.right_eye_first ? 1 : 0;
  switch (f.layout) {
    case VrLayout::kSideBySide:
      return {half * w / 2.0, 0.0, w / 2.0, static_cast<double>(h)};
    case VrLayout::kTopBottom:
      return {0.0, half * h / 2.0, static_cast<double>(w), h / 2.0};
    case VrLayout::kMono:
      break;
  }
  return {0.0, 0.0, static_cast<double>(w), static_cast<double>(h)};
}

// A unit direction (x right, y down, z forward) → eye-local texture coordinates in [0, 1]²;
// false where the projection has no picture.
bool direction_to_eye_uv(const VrFormat& f, const double d[3], double& u, double& v) {
  switch (f.projection) {
    case VrProjection::kFisheye: {
      double phi = std::acos(std::clamp(d[2], -1.0, 1.0));
      double half_fov = f.fov_deg * kDeg / 2;
      if (phi > half_fov) return false;
      double r = phi / half_fov;  // equidistant: radius grows linearly with the angle
      double rho = std::hypot(d[0], d[1]);
      double cx = rho > 1e-12 ? d[0] / rho : 0.0, cy = rho > 1e-12 ? d[1] / rho : 0.0;
      u = 0.5 + 0.5 * r * cx;
      v = 0.5 + 0.5 * r * cy;
      return true;
    }
    case VrProjection::kHalfEquirect:
    case VrProjection::kEquirect: {
      double lon = std::atan2(d[0], d[2]);
      double lat = std::asin(std::clamp(d[1], -1.0, 1.0));
      double span =
          f.projection == VrProjection::kHalfEquirect ? std::numbers::pi : 2 * std::numbers::pi;
      if (std::abs(lon) > span / 2) return false;
      u = 0.5 + lon / span;
      v = 0.5 + lat / std::numbers::pi;
      return true;
    }
    case VrProjection::kFlat:
      break;
  }
  return false;
}

}  // namespace

bool view_pixel_direction(const UnwarpOptions& view, double px, double py, double dir[3]) {
  double nx = 2.0 * px / view.width - 1.0, ny = 2.0 * py / view.height - 1.0;
  if (view.projection == ViewProjection::kRectilinear) {
    if (view.fov_x_deg >= 180 || view.fov_y_deg >= 180) return false;
    double x = nx * std::tan(view.fov_x_deg * kDeg / 2),
           y = ny * std::tan(view.fov_y_deg * kDeg / 2);
    double n = std::sqrt(x * x + y * y + 1.0);
    dir[0] = x / n, dir[1] = y / n, dir[2] = 1.0 / n;
    return true;
  }
  // Stereographic: plane radius r = 2·tan(θ/2) for the angle θ off the view axis.
  double x = nx * 2 * std::tan(view.fov_x_deg * kDeg / 4);
  double y = ny * 2 * std::tan(view.fov_y_deg * kDeg / 4);
  double r = std::hypot(x, y);
  double theta = 2 * std::atan(r / 2);
  double s = r > 1e-12 ? std::sin(theta) / r : 0.5;
  dir[0] = x * s, dir[1] = y * s, dir[2] = std::cos(theta);
  return true;
}

RemapTable make_resize_table(int src_width, int src_height, int dst_width, int dst_height) {
  RemapTable t;
  t.width = dst_width, t.height = dst_height;
  t.src_width = src_width, t.src_height = src_height;
  size_t n = static_cast<size_t>(dst_width) * dst_height;
  t.x.resize(n);
  t.y.resize(n);
  double sx = static_cast<double>(src_width) / dst_width;
  double sy = static_cast<double>(src_height) / dst_height;
  for (int r = 0; r < dst_height; ++r) {
    float y = static_cast<float>(std::max((r + 0.5) * sy - 0.5, 0.0));
    for (int c = 0; c < dst_width; ++c) {
      size_t i = static_cast<size_t>(r) * dst_width + c;
      t.x[i] = static_cast<float>(std::max((c + 0.5) * sx - 0.5, 0.0));
      t.y[i] = y;
    }
  }
  return t;
}

RemapTable make_unwarp_table(const VrFormat& format, const UnwarpOptions& view, int src_width,
                             int src_height) {
  RemapTable t;
  t.width = view.width, t.height = view.height;
  t.src_width = src_width, t.src_height = src_height;
  size_t n = static_cast<size_t>(view.width) * view.height;
  t.x.assign(n, NAN);
  t.y.assign(n, NAN);
  EyeRect eye = eye_rect(format, view.eye, src_width, src_height);
  double cp = std::cos(view.pitch_deg * kDeg), sp = std::sin(view.pitch_deg * kDeg);
  double cy = std::cos(view.yaw_deg * kDeg), sy = std::sin(view.yaw_deg * kDeg);
  for (int r = 0; r < view.height; ++r) {
    for (int c = 0; c < view.width; ++c) {
      double d[3];
      if (!view_pixel_direction(view, c + 0.5, r + 0.5, d)) continue;
      // Pitch (about x; negative looks down since y points down), then yaw (about y).
      double p[3] = {d[0], d[1] * cp - d[2] * sp, d[1] * sp + d[2] * cp};
      double w[3] = {p[0] * cy + p[2] * sy, p[1], -p[0] * sy + p[2] * cy};
      double u, v;
      if (!direction_to_eye_uv(format, w, u, v)) continue;
      size_t i = static_cast<size_t>(r) * view.width + c;
      t.x[i] = static_cast<float>(eye.x0 + u * eye.w - 0.5);
      t.y[i] = static_cast<float>(eye.y0 + v * eye.h - 0.5);
    }
  }
  return t;
}

void remap_bgr(const Frame& src, const RemapTable& table, Image& dst) {
  if (dst.width() != table.width || dst.height() != table.height) {
    dst = Image(table.width, table.height);
  }
  video::PlaneTaps taps;
  video::build_taps(table.x, table.y, src.width, src.height, src.stride, 3, taps);
  video::sample_packed_bgr(src.bgr, taps, table.width, table.height, dst.data(), table.width * 3);
}

}  // namespace fungen
