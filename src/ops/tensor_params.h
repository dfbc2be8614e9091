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
#include <string>
#include <string_view>

#include "fungen/status.h"
#include "fungen/tensor.h"
#include "graph/graph.h"
#include "ops/op.h"

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

// Strides in elements of a C-order shape, on the stack.
inline void strides_of(const Dims& d, int64_t* s) {
  int64_t acc = 1;
  for (int i = d.rank - 1; i >= 0; --i) {
    s[i] = acc;
    acc *= d.d[i];
  }
}

// Advances a row-major counter over dims [0, n); returns false after the last index.
inline bool next_index(int64_t* idx, const int64_t* dims, int n) {
  for (int d = n - 1; d >= 0; --d) {
    if (++idx[d] < dims[d]) return true;
    idx[d] = 0;
  }
  return false;
}

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

inline bool is_index_dtype(DType d) {
  return d == DType::kInt32 || d == DType::kInt64;
}

// True when the element at p (of dtype dt) is not zero; -0.0 counts as zero, NaN as non-zero.
inline bool element_nonzero(const void* p, DType dt) {
  switch (dt) {
    case DType::kFloat32:
      return *static_cast<const float*>(p) != 0.0f;
    case DType::kFloat64:
      return *static_cast<const double*>(p) != 0.0;
    case DType::kFloat16:
    case DType::kBFloat16: {
      uint16_t b;
      std::memcpy(&b, p, 2);
      return (b & 0x7fffu) != 0;
    }
    default: {
      const auto* c = static_cast<const unsigned char*>(p);
      for (size_t k = 0; k < dtype_size(dt); ++k)
        if (c[k]) return true;
      return false;
    }
  }
}

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
  kHalfPixel,
  kHalfPixelSymmetric,
  kPytorchHalfPixel,
  kAlignCorners,
  kAsymmetric,
  kTfHalfPixelForNn,
  kTfCropAndResize
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

// One output coordinate's input taps along one axis: element offsets (index * stride; -1 means
// "outside the image": extrapolation_value) and weights. Nearest uses 1 tap, linear 2, cubic 4.
struct ResizeTap {
  int64_t off[4];
  float w[4];
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

// ---- Shape-function helpers
// ----------------------------------------------------------------------

namespace fungen::tensor_ops {

// The constant value of input i, or an error saying that `name` must be constant at load.
inline Status require_constant(const InferContext& ctx, size_t i, const char* name,
                               const Tensor** out) {
  *out = ctx.has_input(i) ? ctx.input_constant(i) : nullptr;
  if (*out) return Status();
  return ctx.fail(StatusCode::kUnsupported,
                  std::string("input '") + name +
                      "' must be constant at load (data-dependent shapes are not supported)");
}

inline Status check_max_rank(const InferContext& ctx, int rank, const char* what) {
  if (rank <= kMaxRank) return Status();
  return ctx.fail(
      StatusCode::kUnsupported,
      std::string(what) + " has rank " + std::to_string(rank) + "; tensor ops handle up to 8");
}

// Re-raises a plain-message Status from a resolve_* helper with the node's name in front.
inline Status with_node(const InferContext& ctx, const Status& s) {
  return s.ok() ? s : ctx.fail(s.code(), s.message());
}

}  // namespace fungen::tensor_ops

namespace fungen::tensor_ops {

// ---- Pad ---------------------------------------------------------------------------------------
enum class PadMode { kConstant, kReflect, kEdge, kWrap };
struct PadParams {
  int rank = 0;
  PadMode mode = PadMode::kConstant;
  int64_t begin[kMaxRank] = {};  // may be negative (crop)
  int64_t end[kMaxRank] = {};
};
// From attribute 'pads'/'paddings' (opset < 11) or inputs pads/axes (opset >= 11; axes may be
// null).
Status resolve_pad(const Node& node, int64_t opset, const Shape& in, const Tensor* pads,
                   const Tensor* axes, PadParams* p);

}  // namespace fungen::tensor_ops
