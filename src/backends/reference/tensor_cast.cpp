// Reference kernels of Cast and CastLike (shape functions: ops/tensor_cast.cpp).
//
// Semantics: float -> integer truncates toward zero; values out of the target's range (and NaN),
// which ONNX leaves undefined, give what x86-64 code compiled from static_cast gives (the
// "integer indefinite" value, then wrap-around for narrow types), as ONNX Runtime on x86 does.
// float -> float16/bfloat16 rounds to nearest even; double goes through float first.
// integer -> integer wraps; anything -> bool is "!= 0" (NaN is true).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "ops/op.h"
#include "ops/op_util.h"
#include "ops/tensor_params.h"

namespace fungen {

namespace {

struct Half {
  uint16_t bits;
};
struct BFloat {
  uint16_t bits;
};

template <class T>
constexpr bool kIsFloatLike =
    std::is_floating_point_v<T> || std::is_same_v<T, Half> || std::is_same_v<T, BFloat>;

template <class T>
double to_double(T v) {
  if constexpr (std::is_same_v<T, Half>)
    return float16_to_float(v.bits);
  else if constexpr (std::is_same_v<T, BFloat>)
    return bfloat16_to_float(v.bits);
  else
    return static_cast<double>(v);
}

// x86-64 truncation: cvttsd2si gives the minimum value for NaN and out-of-range inputs.
inline int32_t trunc_i32(double v) {
  if (!(v > -2147483649.0 && v < 2147483648.0)) return std::numeric_limits<int32_t>::min();
  return static_cast<int32_t>(v);
}
inline int64_t trunc_i64(double v) {
  if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0))
    return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(v);
}

template <class D>
D float_to_int(double v) {
  if constexpr (std::is_same_v<D, uint64_t>) {
    if (v >= 9223372036854775808.0)
      return static_cast<uint64_t>(trunc_i64(v - 9223372036854775808.0)) ^ (uint64_t{1} << 63);
    return static_cast<uint64_t>(trunc_i64(v));
  } else if constexpr (sizeof(D) == 8 || std::is_same_v<D, uint32_t>) {
    return static_cast<D>(trunc_i64(v));
  } else {
    return static_cast<D>(trunc_i32(v));
  }
}

template <class S, class D>
D convert(S s) {
  if constexpr (std::is_same_v<S, D>) {
    return s;
  } else if constexpr (std::is_same_v<D, bool>) {
    if constexpr (kIsFloatLike<S>)
      return to_double(s) != 0.0;
    else
      return s != 0;
  } else if constexpr (std::is_same_v<D, Half> || std::is_same_v<D, BFloat>) {
    float f;
    if constexpr (kIsFloatLike<S>)
      f = static_cast<float>(to_double(s));
    else
      f = static_cast<float>(s);
    return D{std::is_same_v<D, Half> ? float_to_float16(f) : float_to_bfloat16(f)};
  } else if constexpr (std::is_floating_point_v<D>) {
    if constexpr (kIsFloatLike<S>)
      return static_cast<D>(to_double(s));
    else
      return static_cast<D>(s);
  } else {  // integer destination
    if constexpr (kIsFloatLike<S>)
      return float_to_int<D>(to_double(s));
    else
      return static_cast<D>(s);
  }
}

template <class S, class D>
void cast_run(const void* src, void* dst, int64_t n) {
  const auto* s = static_cast<const S*>(src);
  auto* d = static_cast<D*>(dst);
  for (int64_t i = 0; i < n; ++i) d[i] = convert<S, D>(s[i]);
}

// Calls f.template operator()<T>() for the C++ type that stores dtype dt.
template <class F>
bool with_type(DType dt, F&& f) {
  switch (dt) {
    case DType::kFloat32:
      f.template operator()<float>();
      return true;
    case DType::kFloat64:
      f.template operator()<double>();
      return true;
    case DType::kFloat16:
      f.template operator()<Half>();
      return true;
    case DType::kBFloat16:
      f.template operator()<BFloat>();
      return true;
    case DType::kInt8:
      f.template operator()<int8_t>();
      return true;
    case DType::kUInt8:
      f.template operator()<uint8_t>();
      return true;
    case DType::kInt16:
      f.template operator()<int16_t>();
      return true;
    case DType::kUInt16:
      f.template operator()<uint16_t>();
      return true;
    case DType::kInt32:
      f.template operator()<int32_t>();
      return true;
    case DType::kUInt32:
      f.template operator()<uint32_t>();
      return true;
    case DType::kInt64:
      f.template operator()<int64_t>();
      return true;
    case DType::kUInt64:
      f.template operator()<uint64_t>();
      return true;
    case DType::kBool:
      f.template operator()<bool>();
      return true;
    default:
      return false;
  }
}

Status cast_tensor(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  if (x.dtype() == y.dtype()) {
    if (y.raw() != x.raw() && y.nbytes() > 0) std::memcpy(y.raw(), x.raw(), y.nbytes());
    return Status();
  }
  bool inner_ok = false;
  const bool outer_ok = with_type(x.dtype(), [&]<class S>() {
    inner_ok =
        with_type(y.dtype(), [&]<class D>() { cast_run<S, D>(x.raw(), y.raw(), x.numel()); });
  });
  if (!outer_ok || !inner_ok)
    return tensor_ops::kernel_error(
        ctx.node(), ctx.opset(), StatusCode::kUnsupported,
        "cast from " + dtype_name(x.dtype()) + " to " + dtype_name(y.dtype()));
  return Status();
}

}  // namespace

Status reference_Cast(KernelContext& ctx) {
  return cast_tensor(ctx);
}
Status reference_CastLike(KernelContext& ctx) {
  return cast_tensor(ctx);
}

}  // namespace fungen
