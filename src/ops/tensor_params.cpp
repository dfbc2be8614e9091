// tensor_params.cpp — Slice and Resize parameter resolution shared by shape functions and kernels.
#include "ops/tensor_params.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "ops/op_util.h"

namespace fungen::tensor_ops {

Status kernel_error(const Node& node, int64_t opset, StatusCode code, const std::string& what) {
  return Status(code, node.describe(opset) + ": " + what);
}

// ---- Slice -------------------------------------------------------------------------------------

namespace {

int64_t clamp64(int64_t v, int64_t lo, int64_t hi) {
  return v < lo ? lo : (v > hi ? hi : v);
}

}  // namespace

Status resolve_slice(const Node& node, int64_t opset, const Shape& in, const Tensor* starts,
                     const Tensor* ends, const Tensor* axes, const Tensor* steps, SliceParams* p) {
  const int rank = static_cast<int>(in.size());
  if (rank > kMaxRank) return invalid_argument("rank " + std::to_string(rank) + " > 8");
  p->rank = rank;
  for (int d = 0; d < rank; ++d) {
    p->start[d] = 0;
    p->step[d] = 1;
    p->out[d] = in[static_cast<size_t>(d)];
  }
  // Gather the per-entry values without allocating: attributes are spans, tensors read by index.
  std::span<const int64_t> a_starts, a_ends, a_axes;
  int64_t n = 0;
  if (opset < 10) {
    a_starts = attr_ints_view(node, "starts");
    a_ends = attr_ints_view(node, "ends");
    a_axes = attr_ints_view(node, "axes");
    if (a_starts.size() != a_ends.size())
      return invalid_argument("attributes 'starts' and 'ends' differ in length");
    if (!a_axes.empty() && a_axes.size() != a_starts.size())
      return invalid_argument("attribute 'axes' differs in length from 'starts'");
    n = static_cast<int64_t>(a_starts.size());
  } else {
    if (!starts || !ends) return invalid_argument("inputs 'starts' and 'ends' are required");
    if (!is_index_dtype(starts->dtype()) || !is_index_dtype(ends->dtype()))
      return invalid_argument("inputs 'starts'/'ends' must be int32 or int64");
    n = starts->numel();
    if (ends->numel() != n) return invalid_argument("inputs 'starts' and 'ends' differ in length");
    if (axes && axes->numel() != n)
      return invalid_argument("input 'axes' differs in length from 'starts'");
    if (steps && steps->numel() != n)
      return invalid_argument("input 'steps' differs in length from 'starts'");
  }
  bool seen[kMaxRank] = {};
  for (int64_t i = 0; i < n; ++i) {
    int64_t axis = i;
    if (opset < 10) {
      if (!a_axes.empty()) axis = a_axes[static_cast<size_t>(i)];
    } else if (axes) {
      axis = int_at(*axes, i);
    }
    auto ax = normalize_axis(axis, rank);
    if (!ax)
      return invalid_argument("axis " + std::to_string(axis) + " out of range for rank " +
                              std::to_string(rank) + " (input 'axes')");
    if (seen[*ax]) return invalid_argument("axis " + std::to_string(axis) + " repeated in 'axes'");
    seen[*ax] = true;
    const int64_t dim = in[static_cast<size_t>(*ax)];
    int64_t start = opset < 10 ? a_starts[static_cast<size_t>(i)] : int_at(*starts, i);
    int64_t end = opset < 10 ? a_ends[static_cast<size_t>(i)] : int_at(*ends, i);
    int64_t step = (opset >= 10 && steps) ? int_at(*steps, i) : 1;
    if (step == 0) return invalid_argument("input 'steps' has a 0 step");
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    int64_t count = 0;
    if (step > 0) {
      start = clamp64(start, 0, dim);
      end = clamp64(end, 0, dim);
      if (end > start) count = (end - start + step - 1) / step;
    } else {
      start = clamp64(start, 0, dim - 1);
      end = clamp64(end, -1, dim - 1);
      if (start > end && dim > 0) count = (start - end + (-step) - 1) / (-step);
    }
    p->start[*ax] = start;
    p->step[*ax] = step;
    p->out[*ax] = count;
  }
  return Status();
}

// ---- Resize ------------------------------------------------------------------------------------

namespace {

bool parse_coord_mode(std::string_view s, CoordMode* m) {
  if (s == "half_pixel")
    *m = CoordMode::kHalfPixel;
  else if (s == "half_pixel_symmetric")
    *m = CoordMode::kHalfPixelSymmetric;
  else if (s == "pytorch_half_pixel")
    *m = CoordMode::kPytorchHalfPixel;
  else if (s == "align_corners")
    *m = CoordMode::kAlignCorners;
  else if (s == "asymmetric")
    *m = CoordMode::kAsymmetric;
  else if (s == "tf_half_pixel_for_nn")
    *m = CoordMode::kTfHalfPixelForNn;
  else if (s == "tf_crop_and_resize")
    *m = CoordMode::kTfCropAndResize;
  else
    return false;
  return true;
}

bool parse_nearest_mode(std::string_view s, NearestMode* m) {
  if (s == "round_prefer_floor")
    *m = NearestMode::kRoundPreferFloor;
  else if (s == "round_prefer_ceil")
    *m = NearestMode::kRoundPreferCeil;
  else if (s == "floor")
    *m = NearestMode::kFloor;
  else if (s == "ceil")
    *m = NearestMode::kCeil;
  else
    return false;
  return true;
}

float float_at(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::kFloat32:
      return t.data<float>()[i];
    case DType::kFloat64:
      return static_cast<float>(t.data<double>()[i]);
    default:
      return 0.0f;
  }
}

}  // namespace

Status resolve_resize(const Node& node, int64_t opset, bool op_upsample, const Shape& in,
                      const Tensor* roi, const Tensor* scales, const Tensor* sizes,
                      ResizeParams* p) {
  const int rank = static_cast<int>(in.size());
  if (rank > kMaxRank) return unsupported("rank " + std::to_string(rank) + " > 8");
  p->rank = rank;
  for (int d = 0; d < rank; ++d) {
    p->in[d] = in[static_cast<size_t>(d)];
    p->roi_start[d] = 0.0f;
    p->roi_end[d] = 1.0f;
  }
  std::string_view mode = attr_string_view(node, "mode", "nearest");
  if (mode == "nearest")
    p->mode = ResizeMode::kNearest;
  else if (mode == "linear" || mode == "bilinear" || mode == "trilinear")
    p->mode = ResizeMode::kLinear;
  else if (mode == "cubic" && !op_upsample && opset >= 11)
    p->mode = ResizeMode::kCubic;
  else
    return unsupported("attribute mode='" + std::string(mode) + "' is not supported");

  const bool legacy = op_upsample || opset < 11;
  if (legacy) {
    p->coord = CoordMode::kAsymmetric;
    p->nearest = NearestMode::kSimple;
  } else {
    std::string_view cm = attr_string_view(node, "coordinate_transformation_mode", "half_pixel");
    if (!parse_coord_mode(cm, &p->coord) ||
        (opset < 19 && p->coord == CoordMode::kHalfPixelSymmetric) ||
        (opset >= 13 && p->coord == CoordMode::kTfHalfPixelForNn))
      return unsupported("attribute coordinate_transformation_mode='" + std::string(cm) +
                         "' is not valid at this opset");
    std::string_view nm = attr_string_view(node, "nearest_mode", "round_prefer_floor");
    if (!parse_nearest_mode(nm, &p->nearest))
      return unsupported("attribute nearest_mode='" + std::string(nm) + "' is not supported");
    p->cubic_a = node.attr_float("cubic_coeff_a", -0.75f);
    p->exclude_outside = node.attr_int("exclude_outside", 0) != 0;
    p->extrapolation = node.attr_float("extrapolation_value", 0.0f);
  }
  if (node.attr_int("antialias", 0) != 0)
    return unsupported("attribute antialias=1 is not supported (export with antialias=False)");

  // Axes (opset 18): scales/sizes name only these axes; others keep scale 1.
  int axis_list[kMaxRank];
  int n_axes = rank;
  for (int d = 0; d < rank; ++d) axis_list[d] = d;
  std::span<const int64_t> axes_attr = attr_ints_view(node, "axes");
  if (!axes_attr.empty()) {
    if (opset < 18) return unsupported("attribute 'axes' needs opset >= 18");
    if (static_cast<int>(axes_attr.size()) > rank)
      return invalid_argument("attribute 'axes' too long");
    bool seen[kMaxRank] = {};
    n_axes = static_cast<int>(axes_attr.size());
    for (int i = 0; i < n_axes; ++i) {
      auto a = normalize_axis(axes_attr[static_cast<size_t>(i)], rank);
      if (!a || seen[*a]) return invalid_argument("attribute 'axes' has a bad or repeated axis");
      seen[*a] = true;
      axis_list[i] = *a;
    }
  }

  if (roi && roi->numel() > 0 && p->coord == CoordMode::kTfCropAndResize) {
    if (roi->dtype() != DType::kFloat32 && roi->dtype() != DType::kFloat64)
      return unsupported("input 'roi' must be float32 or float64");
    if (roi->numel() != 2 * n_axes)
      return invalid_argument("input 'roi' must hold 2 values per axis");
    for (int i = 0; i < n_axes; ++i) {
      p->roi_start[axis_list[i]] = float_at(*roi, i);
      p->roi_end[axis_list[i]] = float_at(*roi, n_axes + i);
    }
  }

  for (int d = 0; d < rank; ++d) {
    p->scale[d] = 1.0f;
    p->out[d] = p->in[d];
  }
  const bool have_scales = scales && scales->numel() > 0;
  const bool have_sizes = sizes && sizes->numel() > 0;
  if (op_upsample && opset < 9) {
    std::span<const float> s;
    const Attribute* a = node.attr("scales");
    if (a && a->kind == Attribute::Kind::kFloats) s = a->floats;
    if (static_cast<int>(s.size()) != rank)
      return invalid_argument("attribute 'scales' must have one value per axis");
    for (int d = 0; d < rank; ++d) p->scale[d] = s[static_cast<size_t>(d)];
  } else if (have_scales && have_sizes) {
    return invalid_argument("only one of inputs 'scales' and 'sizes' may be given");
  } else if (have_scales) {
    if (scales->dtype() != DType::kFloat32) return unsupported("input 'scales' must be float32");
    if (scales->numel() != n_axes)
      return invalid_argument("input 'scales' must have one value per axis");
    for (int i = 0; i < n_axes; ++i) {
      float s = scales->data<float>()[i];
      if (!(s > 0.0f)) return invalid_argument("input 'scales' must be positive");
      p->scale[axis_list[i]] = s;
    }
  } else if (have_sizes) {
    if (sizes->dtype() != DType::kInt64) return invalid_argument("input 'sizes' must be int64");
    if (sizes->numel() != n_axes)
      return invalid_argument("input 'sizes' must have one value per axis");
    std::string_view policy = attr_string_view(node, "keep_aspect_ratio_policy", "stretch");
    if (policy == "stretch") {
      for (int i = 0; i < n_axes; ++i) {
        int d = axis_list[i];
        p->out[d] = sizes->data<int64_t>()[i];
        if (p->out[d] < 0) return invalid_argument("input 'sizes' must be non-negative");
        p->scale[d] =
            p->in[d] == 0 ? 1.0f : static_cast<float>(p->out[d]) / static_cast<float>(p->in[d]);
      }
      return Status();
    }
    if (policy != "not_larger" && policy != "not_smaller")
      return unsupported("attribute keep_aspect_ratio_policy='" + std::string(policy) + "'");
    const bool larger = policy == "not_smaller";
    float s = larger ? 0.0f : 3.4e38f;
    for (int i = 0; i < n_axes; ++i) {
      int d = axis_list[i];
      float r = static_cast<float>(sizes->data<int64_t>()[i]) / static_cast<float>(p->in[d]);
      s = larger ? std::max(s, r) : std::min(s, r);
    }
    for (int i = 0; i < n_axes; ++i) {
      int d = axis_list[i];
      p->scale[d] = s;
      p->out[d] = static_cast<int64_t>(std::round(s * static_cast<float>(p->in[d])));
    }
    return Status();
  } else {
    return invalid_argument("one of inputs 'scales' and 'sizes' must be given");
  }
  for (int d = 0; d < rank; ++d) {
    if (!(p->scale[d] > 0.0f)) return invalid_argument("scales must be positive");
    p->out[d] = static_cast<int64_t>(p->scale[d] * static_cast<float>(p->in[d]));
  }
  return Status();
}

float resize_source_coord(const ResizeParams& p, int axis, float x) {
  const float scale = p.scale[axis];
  const float len_in = static_cast<float>(p.in[axis]);
  const float len_out = static_cast<float>(p.out[axis]);
  switch (p.coord) {
    case CoordMode::kHalfPixel:
      return (x + 0.5f) / scale - 0.5f;
    case CoordMode::kHalfPixelSymmetric: {
      const float adjustment = len_out / (scale * len_in);
      const float center = len_in / 2.0f;
      const float offset = center * (1.0f - adjustment);
      return offset + (x + 0.5f) / scale - 0.5f;
    }
    case CoordMode::kPytorchHalfPixel:
      return len_out > 1.0f ? (x + 0.5f) / scale - 0.5f : 0.0f;
    case CoordMode::kAlignCorners:
      return len_out == 1.0f ? 0.0f : x * (len_in - 1.0f) / (len_out - 1.0f);
    case CoordMode::kAsymmetric:
      return x / scale;
    case CoordMode::kTfHalfPixelForNn:
      return (x + 0.5f) / scale;
    case CoordMode::kTfCropAndResize: {
      const float s = p.roi_start[axis], e = p.roi_end[axis];
      if (len_out > 1.0f)
        return s * (len_in - 1.0f) + x * (e - s) * (len_in - 1.0f) / (len_out - 1.0f);
      return 0.5f * (s + e) * (len_in - 1.0f);
    }
  }
  return x;
}

int64_t resize_nearest_index(const ResizeParams& p, int axis, float x) {
  switch (p.nearest) {
    case NearestMode::kRoundPreferFloor:
      if (x == static_cast<float>(static_cast<int64_t>(x)) + 0.5f)
        return static_cast<int64_t>(std::floor(x));
      return static_cast<int64_t>(std::round(x));
    case NearestMode::kRoundPreferCeil:
      return static_cast<int64_t>(std::round(x));
    case NearestMode::kFloor:
      return static_cast<int64_t>(std::floor(x));
    case NearestMode::kCeil:
      return static_cast<int64_t>(std::ceil(x));
    case NearestMode::kSimple:
      if (p.scale[axis] < 1.0f) return static_cast<int64_t>(std::ceil(x));
      return static_cast<int64_t>(x);
  }
  return 0;
}

}  // namespace fungen::tensor_ops

namespace fungen::tensor_ops {

Status resolve_pad(const Node& node, int64_t opset, const Shape& in, const Tensor* pads,
                   const Tensor* axes, PadParams* p) {
  const int rank = static_cast<int>(in.size());
  if (rank > kMaxRank) return unsupported("rank " + std::to_string(rank) + " > 8");
  p->rank = rank;
  std::string_view mode = attr_string_view(node, "mode", "constant");
  if (mode == "constant")
    p->mode = PadMode::kConstant;
  else if (mode == "reflect")
    p->mode = PadMode::kReflect;
  else if (mode == "edge")
    p->mode = PadMode::kEdge;
  else if (mode == "wrap" && opset >= 19)
    p->mode = PadMode::kWrap;
  else
    return unsupported("attribute mode='" + std::string(mode) + "' is not supported");
  for (int d = 0; d < rank; ++d) p->begin[d] = p->end[d] = 0;
  if (opset < 11) {
    std::span<const int64_t> a = attr_ints_view(node, opset < 2 ? "paddings" : "pads");
    if (static_cast<int>(a.size()) != 2 * rank)
      return invalid_argument("attribute 'pads' must hold 2 values per axis (" +
                              std::to_string(2 * rank) + ")");
    for (int d = 0; d < rank; ++d) {
      p->begin[d] = a[static_cast<size_t>(d)];
      p->end[d] = a[static_cast<size_t>(rank + d)];
    }
  } else {
    if (!pads || !is_index_dtype(pads->dtype()))
      return invalid_argument("input 'pads' must be int64");
    int n_axes = rank;
    int axis_of[kMaxRank];
    for (int d = 0; d < rank; ++d) axis_of[d] = d;
    if (axes) {
      if (!is_index_dtype(axes->dtype()))
        return invalid_argument("input 'axes' must be int32 or int64");
      if (axes->numel() > rank) return invalid_argument("input 'axes' is longer than the rank");
      n_axes = static_cast<int>(axes->numel());
      bool seen[kMaxRank] = {};
      for (int i = 0; i < n_axes; ++i) {
        auto a = normalize_axis(int_at(*axes, i), rank);
        if (!a || seen[*a]) return invalid_argument("input 'axes' has a bad or repeated axis");
        seen[*a] = true;
        axis_of[i] = *a;
      }
    }
    if (pads->numel() != 2 * n_axes)
      return invalid_argument("input 'pads' must hold 2 values per axis (" +
                              std::to_string(2 * n_axes) + ")");
    for (int i = 0; i < n_axes; ++i) {
      p->begin[axis_of[i]] = int_at(*pads, i);
      p->end[axis_of[i]] = int_at(*pads, n_axes + i);
    }
  }
  for (int d = 0; d < rank; ++d) {
    const int64_t dim = in[static_cast<size_t>(d)];
    const int64_t kept = dim + std::min<int64_t>(p->begin[d], 0) + std::min<int64_t>(p->end[d], 0);
    if (kept < 0)
      return invalid_argument("pads crop more than axis " + std::to_string(d) + " holds");
    if (p->mode != PadMode::kConstant && kept == 0 && (p->begin[d] > 0 || p->end[d] > 0))
      return invalid_argument("mode '" + std::string(mode) + "' cannot pad an empty axis " +
                              std::to_string(d));
  }
  return Status();
}

}  // namespace fungen::tensor_ops
