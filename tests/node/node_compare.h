// node_compare.h — compares an engine output with an ONNX test's expected tensor, the way
// ONNX's backend tests do: floats within atol + rtol * |expected| (NaN equals NaN, infinities
// must match; bfloat16 gets one unit in its last place), integers and bools exactly. Returns ""
// when equal, else what differs.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "fungen/tensor.h"

namespace node_test {

inline constexpr double kRtol = 1e-3;
inline constexpr double kAtol = 1e-5;
// bfloat16 keeps 8 significant bits, so two correct roundings (to nearest, or ONNX 1.12's test
// data, which truncated) can differ by one unit in the last place: 2^-7 relative.
inline constexpr double kRtolBFloat16 = 1.0 / 128;

inline float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  if (exp == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
  if (exp == 0) {
    if (mant == 0) return std::bit_cast<float>(sign);
    float v = std::ldexp(static_cast<float>(mant), -24);  // subnormal
    return sign ? -v : v;
  }
  return std::bit_cast<float>(sign | ((exp + 112) << 23) | (mant << 13));
}

// Element i as a double (floats) or its exact integer bits (ints), for comparing and printing.
inline double element_as_double(const fungen::Tensor& t, int64_t i) {
  using fungen::DType;
  const size_t k = static_cast<size_t>(i);
  switch (t.dtype()) {
    case DType::kFloat32:
      return t.data<float>()[k];
    case DType::kFloat64:
      return t.data<double>()[k];
    case DType::kFloat16:
      return half_to_float(t.data<uint16_t>()[k]);
    case DType::kBFloat16:
      return std::bit_cast<float>(static_cast<uint32_t>(t.data<uint16_t>()[k]) << 16);
    case DType::kInt8:
      return t.data<int8_t>()[k];
    case DType::kUInt8:
    case DType::kBool:
      return t.data<uint8_t>()[k];
    case DType::kInt16:
      return t.data<int16_t>()[k];
    case DType::kUInt16:
      return t.data<uint16_t>()[k];
    case DType::kInt32:
      return t.data<int32_t>()[k];
    case DType::kUInt32:
      return t.data<uint32_t>()[k];
    case DType::kInt64:
      return static_cast<double>(t.data<int64_t>()[k]);
    case DType::kUInt64:
      return static_cast<double>(t.data<uint64_t>()[k]);
    default:
      return 0;
  }
}

inline bool is_float(fungen::DType d) {
  using fungen::DType;
  return d == DType::kFloat32 || d == DType::kFloat64 || d == DType::kFloat16 ||
         d == DType::kBFloat16;
}

inline std::string compare_tensors(const fungen::Tensor& got, const fungen::Tensor& want) {
  if (got.dtype() != want.dtype()) {
    return "dtype " + fungen::dtype_name(got.dtype()) + ", expected " +
           fungen::dtype_name(want.dtype());
  }
  if (got.shape() != want.shape()) {
    return "shape " + fungen::shape_to_string(got.shape()) + ", expected " +
           fungen::shape_to_string(want.shape());
  }
  const int64_t n = want.numel();
  if (n > 0 && got.raw() == nullptr) return "output has no data";
  if (!is_float(want.dtype())) {  // exact, on the bytes
    const size_t size = fungen::dtype_size(want.dtype());
    for (int64_t i = 0; i < n; ++i) {
      const auto* a = static_cast<const uint8_t*>(got.raw()) + static_cast<size_t>(i) * size;
      const auto* b = static_cast<const uint8_t*>(want.raw()) + static_cast<size_t>(i) * size;
      bool equal = want.dtype() == fungen::DType::kBool ? ((*a != 0) == (*b != 0))
                                                        : std::memcmp(a, b, size) == 0;
      if (!equal) {
        return "element " + std::to_string(i) + ": got " +
               std::to_string(static_cast<long long>(element_as_double(got, i))) + ", expected " +
               std::to_string(static_cast<long long>(element_as_double(want, i))) + " (of " +
               std::to_string(n) + ", shape " + fungen::shape_to_string(want.shape()) + ")";
      }
    }
    return "";
  }
  const double rtol = want.dtype() == fungen::DType::kBFloat16 ? kRtolBFloat16 : kRtol;
  int64_t bad = 0, first = -1;
  double worst = 0;
  for (int64_t i = 0; i < n; ++i) {
    double a = element_as_double(got, i), b = element_as_double(want, i);
    bool ok;
    if (std::isnan(b))
      ok = std::isnan(a);
    else if (std::isinf(b))
      ok = a == b;
    else
      ok = std::fabs(a - b) <= kAtol + rtol * std::fabs(b);  // false for NaN a
    if (!ok) {
      if (first < 0) first = i;
      ++bad;
      if (std::isfinite(a) && std::isfinite(b)) worst = std::max(worst, std::fabs(a - b));
    }
  }
  if (bad == 0) return "";
  char buf[256];
  std::snprintf(buf, sizeof(buf),
                "%lld of %lld elements differ; first at %lld: got %.9g expected %.9g; "
                "max abs diff %.3g (shape %s)",
                static_cast<long long>(bad), static_cast<long long>(n),
                static_cast<long long>(first), element_as_double(got, first),
                element_as_double(want, first), worst,
                fungen::shape_to_string(want.shape()).c_str());
  return buf;
}

}  // namespace node_test
