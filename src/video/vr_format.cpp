// vr_format.cpp — naming, parsing and guessing VR formats; small parsers for video flags.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <vector>

#include "fungen/log.h"
#include "fungen/video.h"

namespace fungen {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string> split_tokens(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == '_' || c == '-' || c == '.' || c == ' ' || c == '(' || c == ')' || c == '[' ||
        c == ']') {
      if (!cur.empty()) out.push_back(lower(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(lower(cur));
  return out;
}

// A projection token: "180", "he180", "360", "equirect360", "fisheye", "fisheye200", "mkx220"...
bool parse_projection(std::string_view t, VrFormat& f) {
  auto number_after = [&](std::string_view prefix, double fallback) {
    std::string_view rest = t.substr(prefix.size());
    if (rest.empty()) return fallback;
    if (!std::all_of(rest.begin(), rest.end(),
                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
      return -1.0;
    }
    return std::stod(std::string(rest));
  };
  if (t == "180" || t == "he180" || t == "he" || t == "halfequirect" || t == "hequirect") {
    f.projection = VrProjection::kHalfEquirect, f.fov_deg = 180;
    return true;
  }
  if (t == "360" || t == "equirect360" || t == "equirect" || t == "er360") {
    f.projection = VrProjection::kEquirect, f.fov_deg = 360;
    return true;
  }
  for (std::string_view prefix : {"fisheye", "mkx", "vrca", "fe"}) {
    if (t.starts_with(prefix)) {
      double fov = number_after(prefix, prefix == "fisheye" || prefix == "fe" ? 190.0 : 200.0);
      if (fov < 90 || fov > 360) return false;
      f.projection = VrProjection::kFisheye, f.fov_deg = fov;
      return true;
    }
  }
  return false;
}

// A layout token; false when `t` is not one.
bool parse_layout(std::string_view t, VrFormat& f) {
  if (t == "sbs" || t == "lr" || t == "3dh") {
    f.layout = VrLayout::kSideBySide, f.right_eye_first = false;
  } else if (t == "rl") {
    f.layout = VrLayout::kSideBySide, f.right_eye_first = true;
  } else if (t == "tb" || t == "ou" || t == "3dv" || t == "overunder") {
    f.layout = VrLayout::kTopBottom, f.right_eye_first = false;
  } else if (t == "bt") {
    f.layout = VrLayout::kTopBottom, f.right_eye_first = true;
  } else if (t == "mono") {
    f.layout = VrLayout::kMono;
  } else {
    return false;
  }
  return true;
}

}  // namespace

std::string VrFormat::to_string() const {
  if (!is_vr()) return "none";
  std::string layout_name = layout == VrLayout::kSideBySide  ? (right_eye_first ? "rl" : "sbs")
                            : layout == VrLayout::kTopBottom ? (right_eye_first ? "bt" : "tb")
                                                             : "mono";
  std::string proj;
  switch (projection) {
    case VrProjection::kFisheye:
      proj = fmt::format("fisheye{:g}", fov_deg);
      break;
    case VrProjection::kHalfEquirect:
      proj = "he180";
      break;
    case VrProjection::kEquirect:
      proj = "equirect360";
      break;
    case VrProjection::kFlat:
      break;
  }
  return layout_name + "-" + proj;
}

Result<VrFormat> parse_vr_format(std::string_view text) {
  std::string s = lower(text);
  if (s == "none" || s == "2d" || s == "flat" || s == "off") return VrFormat{};
  VrFormat f;
  bool have_layout = false, have_projection = false;
  for (const std::string& t : split_tokens(s)) {
    if (!have_layout && parse_layout(t, f)) {
      have_layout = true;
    } else if (!have_projection && parse_projection(t, f)) {
      have_projection = true;
    } else {
      return invalid_argument(
          "--vr '" + std::string(text) + "': '" + t +
          "' is not a layout (sbs, rl, tb, mono) or projection (he180, "
          "equirect360, fisheye190/200/220); e.g. sbs-fisheye200, tb-360, none");
    }
  }
  if (!have_projection) {
    return invalid_argument("--vr '" + std::string(text) +
                            "' names no projection (he180, equirect360, fisheye190, ...)");
  }
  if (!have_layout) {
    f.layout = f.projection == VrProjection::kEquirect ? VrLayout::kMono : VrLayout::kSideBySide;
  }
  return f;
}

VrFormat detect_vr_format(std::string_view file_name, int width, int height) {
  std::string stem = std::filesystem::path(std::string(file_name)).stem().string();
  VrFormat f;
  bool have_layout = false, have_projection = false;
  for (const std::string& t : split_tokens(stem)) {
    if (t == "2d") return VrFormat{};
    if (!have_layout && parse_layout(t, f))
      have_layout = true;
    else if (!have_projection && parse_projection(t, f))
      have_projection = true;
    else if (t == "eac360" || t == "eac") {
      log(LogLevel::kWarn, "{}: EAC (equi-angular cubemap) is not supported; pass --vr", file_name);
    }
  }
  if (have_projection) {
    if (!have_layout) {
      f.layout = f.projection == VrProjection::kEquirect ? VrLayout::kMono : VrLayout::kSideBySide;
    }
    return f;
  }
  double aspect = height > 0 ? static_cast<double>(width) / height : 0.0;
  if (have_layout || (aspect > 1.85 && aspect < 2.15)) {
    // FunGen's guess: a 2:1 frame (or a layout token alone) is side-by-side VR 180.
    if (!have_layout) f.layout = VrLayout::kSideBySide;
    f.projection = VrProjection::kHalfEquirect;
    f.fov_deg = 180;
    return f;
  }
  return VrFormat{};
}

Result<ViewProjection> parse_view_projection(std::string_view text) {
  std::string s = lower(text);
  if (s == "stereographic" || s == "sg") return ViewProjection::kStereographic;
  if (s == "rectilinear" || s == "flat" || s == "perspective") return ViewProjection::kRectilinear;
  return invalid_argument("view projection '" + std::string(text) +
                          "' is not 'stereographic' or 'rectilinear'");
}

Result<VideoOptions> parse_decode_device(std::string_view text, VideoOptions base) {
  std::string s = lower(text);
  if (s == "auto") {
    base.device = DecodeDevice::kAuto;
  } else if (s == "cpu") {
    base.device = DecodeDevice::kCpu;
  } else if (s == "cuda" || s == "nvdec") {
    base.device = DecodeDevice::kCuda;
  } else if (s.starts_with("cuda:") && s.size() > 5 &&
             std::all_of(s.begin() + 5, s.end(),
                         [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    base.device = DecodeDevice::kCuda;
    base.cuda_device = std::stoi(s.substr(5));
  } else {
    return invalid_argument("decode device '" + std::string(text) +
                            "' is not auto, cpu, cuda or cuda:N");
  }
  return base;
}

bool is_video_file_name(const std::string& path) {
  std::string ext = lower(std::filesystem::path(path).extension().string());
  for (const char* e : {".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".ts", ".wmv", ".flv"}) {
    if (ext == e) return true;
  }
  return false;
}

}  // namespace fungen
