// tensor_params.h — parameters of the tensor ops that both the shape function (from constant
// inputs) and the reference kernel (from run-time inputs) resolve the same way: Slice ranges,
// Resize scales and sizes, plus small fixed-size helpers (kernels allocate nothing while running).
//
//   SliceParams p;
//   Status s = resolve_slice(node, opset, in_shape, starts, ends, axes, steps, &p);
//   // p.start[d], p.step[d], p.out[d] for every axis d < p.rank
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "fungen/status.h"
#include "fungen/tensor.h"
#include "graph/graph.h"

namespace fungen::tensor_ops {

// Tensor ops handle at most this rank; shape functions reject more.
constexpr int kMaxRank = 8;

// A rank-sized array that lives on the stack.
struct Dims {
  int rank = 0;
  int64_t d[kMaxRank] = {};
  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < rank; ++i) n *= d[i];
    return n;
  }
};

inline Dims dims_of(const Shape& s) {
  Dims r;
  r.rank = static_cast<int>(s.size());
  for (int i = 0; i < r.rank && i < kMaxRank; ++i) r.d[i] = s[static_cast<size_t>(i)];
  return r;
}

// Element i of an int32/int64 tensor as int64 (no allocation).
inline int64_t int_at(const Tensor& t, int64_t i) {
  if (t.dtype() == DType::kInt32) return t.data<int32_t>()[i];
  return t.data<int64_t>()[i];
}

inline bool is_index_dtype(DType d) { return d == DType::kInt32 || d == DType::kInt64; }

// Attribute views that do not copy (kernels read attributes without allocating).
inline std::span<const int64_t> attr_ints_view(const Node& node, std::string_view key) {
  const Attribute* a = node.attr(key);
  if (!a || a->kind != Attribute::Kind::kInts) return {};
  return a->ints;
}
inline std::string_view attr_string_view(const Node& node, std::string_view key,
                                         std::string_view fallback) {
  const Attribute* a = node.attr(key);
  if (!a || a->kind != Attribute::Kind::kString) return fallback;
  return a->s;
}

// The error of a kernel, naming its node.
Status kernel_error(const Node& node, int64_t opset, StatusCode code, const std::string& what);

// ---- Slice -------------------------------------------------------------------------------------
struct SliceParams {
  int rank = 0;
  int64_t start[kMaxRank] = {};  // first input index read along each axis
  int64_t step[kMaxRank] = {};   // may be negative
  int64_t out[kMaxRank] = {};    // output extent along each axis
};

// Resolves Slice (opset >= 10: tensors starts/ends/axes/steps, axes/steps may be null; opset < 10:
// attributes starts/ends/axes, tensors null) into per-axis start/step/extent, clamped per the
// ONNX spec. The message of an error names the offending input.
Status resolve_slice(const Node& node, int64_t opset, const Shape& in, const Tensor* starts,
                     const Tensor* ends, const Tensor* axes, const Tensor* steps, SliceParams* p);

// ---- Resize ------------------------------------------------------------------------------------
enum class ResizeMode { kNearest, kLinear, kCubic };
enum class CoordMode {
  kHalfPixel, kHalfPixelSymmetric, kPytorchHalfPixel, kAlignCorners, kAsymmetric,
  kTfHalfPixelForNn, kTfCropAndResize
};
enum class NearestMode { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil, kSimple };

struct ResizeParams {
  ResizeMode mode = ResizeMode::kNearest;
  CoordMode coord = CoordMode::kHalfPixel;
  NearestMode nearest = NearestMode::kRoundPreferFloor;
  float cubic_a = -0.75f;
  bool exclude_outside = false;
  float extrapolation = 0.0f;
  int rank = 0;
  int64_t in[kMaxRank] = {};
  int64_t out[kMaxRank] = {};
  float scale[kMaxRank] = {};
  float roi_start[kMaxRank] = {};
  float roi_end[kMaxRank] = {};
};

// Resolves Resize (opset 10..19) or Upsample (7..9) from attributes and inputs (roi/scales/sizes,
// each may be null). `op_upsample` selects Upsample's input layout. Errors are plain messages.
Status resolve_resize(const Node& node, int64_t opset, bool op_upsample, const Shape& in,
                      const Tensor* roi, const Tensor* scales, const Tensor* sizes,
                      ResizeParams* p);

// The input coordinate that output coordinate x maps to along one axis (float math, like ORT).
float resize_source_coord(const ResizeParams& p, int axis, float x);
// Nearest input index for a source coordinate (before clamping).
int64_t resize_nearest_index(const ResizeParams& p, int axis, float x);

}  // namespace fungen::tensor_ops
