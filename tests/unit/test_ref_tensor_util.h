// test_ref_tensor_util.h — small helpers shared by the tensor-op tests (test_ref_tensor_*.cpp):
// tensors of any dtype with distinct values, index arithmetic for the naive oracles, comparison.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "fungen/tensor.h"
#include "op_test_util.h"

namespace fungen::test {

inline std::string seed_note() {
  return "FUNGEN_TEST_SEED=" + std::to_string(test_seed());
}

// A tensor whose element i holds a value derived from i (distinct bytes for byte-moving ops).
inline Tensor iota_tensor(DType dt, Shape shape, int64_t offset = 0) {
  Tensor t(dt, std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) {
    const int64_t v = i + offset;
    switch (dt) {
      case DType::kFloat32:
        t.data<float>()[i] = static_cast<float>(v) * 0.5f;
        break;
      case DType::kFloat64:
        t.data<double>()[i] = static_cast<double>(v) * 0.25;
        break;
      case DType::kInt64:
        t.data<int64_t>()[i] = v * 1000003;
        break;
      case DType::kInt32:
        t.data<int32_t>()[i] = static_cast<int32_t>(v * 7);
        break;
      case DType::kUInt8:
      case DType::kInt8:
      case DType::kBool:
        t.data<uint8_t>()[i] = static_cast<uint8_t>(v * 13 + 1);
        break;
      case DType::kFloat16:
      case DType::kInt16:
      case DType::kUInt16:
      case DType::kBFloat16:
        t.data<uint16_t>()[i] = static_cast<uint16_t>(v * 31 + 3);
        break;
      default:
        break;
    }
  }
  return t;
}

inline std::vector<int64_t> strides_for(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
  return st;
}

// Multi-index of flat position `flat` in shape `s`.
inline std::vector<int64_t> unravel(int64_t flat, const Shape& s) {
  std::vector<int64_t> idx(s.size());
  for (size_t i = s.size(); i-- > 0;) {
    idx[i] = s[i] == 0 ? 0 : flat % s[i];
    flat = s[i] == 0 ? 0 : flat / s[i];
  }
  return idx;
}

inline int64_t ravel(const std::vector<int64_t>& idx, const Shape& s) {
  int64_t f = 0;
  for (size_t i = 0; i < s.size(); ++i) f = f * s[i] + idx[i];
  return f;
}

inline const unsigned char* elem_ptr(const Tensor& t, int64_t i) {
  return static_cast<const unsigned char*>(t.raw()) +
         static_cast<size_t>(i) * dtype_size(t.dtype());
}

// Byte-exact comparison of dtype, shape and contents; reports the first differing element.
inline ::testing::AssertionResult same_tensor(const Tensor& want, const Tensor& got) {
  if (want.dtype() != got.dtype())
    return ::testing::AssertionFailure()
           << "dtype " << dtype_name(got.dtype()) << " != " << dtype_name(want.dtype());
  if (want.shape() != got.shape())
    return ::testing::AssertionFailure()
           << "shape " << shape_to_string(got.shape()) << " != " << shape_to_string(want.shape());
  const size_t es = dtype_size(want.dtype());
  for (int64_t i = 0; i < want.numel(); ++i)
    if (std::memcmp(elem_ptr(want, i), elem_ptr(got, i), es) != 0)
      return ::testing::AssertionFailure() << "element " << i << " differs";
  return ::testing::AssertionSuccess();
}

inline Shape random_shape(std::mt19937& rng, int rank, int64_t lo = 1, int64_t hi = 6) {
  std::uniform_int_distribution<int64_t> d(lo, hi);
  Shape s(static_cast<size_t>(rank));
  for (auto& v : s) v = d(rng);
  return s;
}

inline Tensor scalar_i64(int64_t v) {
  return int64_tensor({}, {v});
}
inline Tensor vec_i64(std::vector<int64_t> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return int64_tensor({n}, std::move(v));
}

}  // namespace fungen::test
