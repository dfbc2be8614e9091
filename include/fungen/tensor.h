// fungen/tensor.h — a dense, C-order tensor: dtype, shape and a pointer to its bytes.
//
//   fungen::Tensor t(fungen::DType::kFloat32, {1, 3, 640, 640});  // owns zeroed memory
//   float* p = t.data<float>();
//   fungen::Tensor v = fungen::Tensor::view(fungen::DType::kFloat32, {4}, external_ptr);
//
// Copies share the bytes (like a shared_ptr); clone() makes a deep copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace fungen {

// Values are ONNX's TensorProto.DataType numbers, so a dtype read from a file needs no table.
enum class DType : int32_t {
  kUndefined = 0,
  kFloat32 = 1,
  kUInt8 = 2,
  kInt8 = 3,
  kUInt16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kString = 8,  // not computed on; named so a model that uses it gets a clear error
  kBool = 9,
  kFloat16 = 10,
  kFloat64 = 11,
  kUInt32 = 12,
  kUInt64 = 13,
  kBFloat16 = 16,
};

using Shape = std::vector<int64_t>;

// Bytes per element, 0 for kUndefined/kString and unknown values.
size_t dtype_size(DType dtype);
// "float32", "int64", ... ; "dtype(<n>)" for values fungen does not know.
std::string dtype_name(DType dtype);
bool dtype_is_known(int32_t onnx_value);

int64_t shape_numel(const Shape& shape);
// "[1,3,640,640]"
std::string shape_to_string(const Shape& shape);

template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::kFloat32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::kFloat64;
}
template <>
constexpr DType dtype_of<uint8_t>() {
  return DType::kUInt8;
}
template <>
constexpr DType dtype_of<int8_t>() {
  return DType::kInt8;
}
template <>
constexpr DType dtype_of<uint16_t>() {
  return DType::kUInt16;
}
template <>
constexpr DType dtype_of<int16_t>() {
  return DType::kInt16;
}
template <>
constexpr DType dtype_of<int32_t>() {
  return DType::kInt32;
}
template <>
constexpr DType dtype_of<int64_t>() {
  return DType::kInt64;
}
template <>
constexpr DType dtype_of<uint32_t>() {
  return DType::kUInt32;
}
template <>
constexpr DType dtype_of<uint64_t>() {
  return DType::kUInt64;
}
template <>
constexpr DType dtype_of<bool>() {
  return DType::kBool;
}

class Tensor {
 public:
  Tensor() = default;
  // Allocates zero-filled storage (64-byte aligned).
  Tensor(DType dtype, Shape shape);
  // Wraps memory owned elsewhere; the caller keeps it alive while the view is used.
  static Tensor view(DType dtype, Shape shape, void* data);
  // Wraps memory whose lifetime `owner` holds.
  static Tensor view(DType dtype, Shape shape, void* data, std::shared_ptr<void> owner);

  Tensor clone() const;

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const { return shape_[static_cast<size_t>(i)]; }
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  bool empty() const { return dtype_ == DType::kUndefined; }

  void* raw() { return data_; }
  const void* raw() const { return data_; }
  template <class T>
  T* data() {
    return static_cast<T*>(data_);
  }
  template <class T>
  const T* data() const {
    return static_cast<const T*>(data_);
  }

  // Same bytes, another shape of equal element count (no copy).
  Tensor reshaped(Shape shape) const;
  // Points this view at other bytes of the same dtype and shape (the executor binds inputs so).
  void rebind(void* data) { data_ = data; }

 private:
  DType dtype_ = DType::kUndefined;
  Shape shape_;
  std::shared_ptr<void> owner_;
  void* data_ = nullptr;
};

}  // namespace fungen
