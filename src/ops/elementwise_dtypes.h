// elementwise_dtypes.h — compile-time lists of element types and a dispatch from a runtime DType
// to a template instantiation. Shape functions use the lists to validate dtypes; kernels use them
// to pick the instantiation, so the two cannot disagree.
//
//   if (!dtype_in(NumericTypes{}, d)) return ctx.fail(kUnsupported, ...);
//   dispatch_dtype(NumericTypes{}, d, [&]<class T>() { run<T>(...); });
#pragma once

#include <cstdint>
#include <string>

#include "fungen/tensor.h"
#include "ops/op.h"

namespace fungen {

template <class... Ts>
struct TypeList {};

using FloatTypes = TypeList<float, double>;
using UnsignedTypes = TypeList<uint8_t, uint16_t, uint32_t, uint64_t>;
using SignedNumericTypes = TypeList<float, double, int8_t, int16_t, int32_t, int64_t>;
using NumericTypes = TypeList<float, double, int8_t, uint8_t, int16_t, uint16_t, int32_t, int64_t,
                              uint32_t, uint64_t>;
using NumericBoolTypes = TypeList<float, double, int8_t, uint8_t, int16_t, uint16_t, int32_t,
                                  int64_t, uint32_t, uint64_t, bool>;
using BoolTypes = TypeList<bool>;

template <class... Ts>
constexpr bool dtype_in(TypeList<Ts...>, DType d) {
  return ((dtype_of<Ts>() == d) || ...);
}

// Calls f.template operator()<T>() for the T of `d`; false when `d` is not in the list.
template <class... Ts, class F>
bool dispatch_dtype(TypeList<Ts...>, DType d, F&& f) {
  return ((dtype_of<Ts>() == d ? (f.template operator()<Ts>(), true) : false) || ...);
}

// "float32, float64" — for error messages.
template <class... Ts>
std::string dtype_list_names(TypeList<Ts...>) {
  std::string s;
  ((s += (s.empty() ? "" : ", ") + dtype_name(dtype_of<Ts>())), ...);
  return s;
}

// OK when input `input`'s dtype is one of `types`, else kUnsupported naming node and dtypes.
template <class... Ts>
Status check_dtype(InferContext& ctx, TypeList<Ts...> types, size_t input) {
  DType d = ctx.input_dtype(input);
  if (!dtype_in(types, d)) {
    return ctx.fail(StatusCode::kUnsupported,
                    "input " + std::to_string(input) + " dtype " + dtype_name(d) +
                        " not supported (supported: " + dtype_list_names(types) + ")");
  }
  return Status();
}

}  // namespace fungen
