// op_util.h — small helpers shared by shape functions and kernels.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "fungen/tensor.h"

namespace fungen {

// Maps a possibly negative axis into [0, rank); nullopt when out of range.
inline std::optional<int> normalize_axis(int64_t axis, int rank) {
  if (axis < -rank || axis >= rank) return std::nullopt;
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

// Numpy-style multidirectional broadcast of two shapes; nullopt when incompatible.
std::optional<Shape> broadcast_shapes(const Shape& a, const Shape& b);

// C-order strides (in elements) of a shape.
std::vector<int64_t> contiguous_strides(const Shape& shape);

// Strides to read `in` as if broadcast to `out` (0 on broadcast dims). in.size() <= out.size().
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out);

// Reads an integer tensor (int32 or int64) as int64 values.
std::vector<int64_t> tensor_to_int64s(const Tensor& t);

// IEEE binary16 and bfloat16 bit patterns <-> float (round to nearest even; NaN stays NaN).
float float16_to_float(uint16_t bits);
uint16_t float_to_float16(float value);
float bfloat16_to_float(uint16_t bits);
uint16_t float_to_bfloat16(float value);

}  // namespace fungen
