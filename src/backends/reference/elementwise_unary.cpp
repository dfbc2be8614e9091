// Reference kernels of the unary elementwise ops: y[i] = f(x[i]) over a flat range.
// Each op is a small functor; run_unary dispatches the dtype and splits the range over the pool.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <type_traits>

#include "ops/elementwise_dtypes.h"
#include "ops/op.h"
#include "util/thread_pool.h"

namespace fungen {
namespace {

template <class In, class Out, class F>
void map_flat(const In* x, Out* y, int64_t n, ThreadPool* pool, const F& f) {
  auto body = [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = f(x[i]);
  };
  if (pool && pool->threads() > 1 && n >= (1 << 15)) {
    pool->parallel_for(0, n, body);
  } else {
    body(0, n);
  }
}

// Output dtype equals input dtype.
template <class... Ts, class F>
Status run_unary(KernelContext& ctx, TypeList<Ts...> types, const F& f) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  bool ok = dispatch_dtype(types, x.dtype(), [&]<class T>() {
    map_flat(x.data<T>(), y.data<T>(), x.numel(), ctx.pool(), [&](T v) { return f(v); });
  });
  if (!ok) return unsupported("unary op: dtype " + dtype_name(x.dtype()) + " not supported");
  return Status();
}

// Output dtype bool.
template <class... Ts, class F>
Status run_predicate(KernelContext& ctx, TypeList<Ts...> types, const F& f) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  bool ok = dispatch_dtype(types, x.dtype(), [&]<class T>() {
    map_flat(x.data<T>(), y.data<bool>(), x.numel(), ctx.pool(), [&](T v) { return f(v); });
  });
  if (!ok) return unsupported("unary op: dtype " + dtype_name(x.dtype()) + " not supported");
  return Status();
}

float attr_or(KernelContext& ctx, const char* name, float fallback) {
  return ctx.node().attr_float(name, fallback);
}

}  // namespace

// Generic lambdas: T is deduced per dtype. Float math uses the T overloads of <cmath>, so float
// stays float as in ONNX Runtime.
Status reference_Abs(KernelContext& ctx) {
  return run_unary(ctx, NumericTypes{}, []<class T>(T x) -> T {
    if constexpr (std::is_unsigned_v<T>) {
      return x;
    } else {
      return x < T(0) ? T(-x) : x;
    }
  });
}
Status reference_Neg(KernelContext& ctx) {
  return run_unary(ctx, SignedNumericTypes{}, []<class T>(T x) -> T { return T(-x); });
}
Status reference_Exp(KernelContext& ctx) {
  return run_unary(ctx, FloatTypes{}, []<class T>(T x) -> T { return std::exp(x); });
}
Status reference_Log(KernelContext& ctx) {
  return run_unary(ctx, FloatTypes{}, []<class T>(T x) -> T { return std::log(x); });
}
Status reference_Sqrt(KernelContext& ctx) {
  return run_unary(ctx, FloatTypes{}, []<class T>(T x) -> T { return std::sqrt(x); });
}
Status reference_Reciprocal(KernelContext& ctx) {
  return run_unary(ctx, FloatTypes{}, []<class T>(T x) -> T { return T(1) / x; });
}
Status reference_Floor(KernelContext& ctx) {
  return run_unary(ctx, FloatTypes{}, []<class T>(T x) -> T { return std::floor(x); });
}
Status reference_Ceil(KernelContext& ctx) {
  return run_unary(ctx, FloatTypes{}, []<class T>(T x) -> T { return std::ceil(x); });
}
// Halves round to even (the default floating-point rounding mode).
Status reference_Round(KernelContext& ctx) {
  return run_unary(ctx, FloatTypes{}, []<class T>(T x) -> T { return std::nearbyint(x); });
}
// exp(-x) overflows to inf for x < -88 (float), giving 1/inf = 0: the right limit.
Status reference_Sigmoid(KernelContext& ctx) {
  return run_unary(ctx, FloatTypes{},
                   []<class T>(T x) -> T { return T(1) / (T(1) + std::exp(-x)); });
}
Status reference_Tanh(KernelContext& ctx) {
  return run_unary(ctx, FloatTypes{}, []<class T>(T x) -> T { return std::tanh(x); });
}
Status reference_Relu(KernelContext& ctx) {
  return run_unary(ctx, SignedNumericTypes{},
                   []<class T>(T x) -> T { return x > T(0) ? x : T(0); });
}
Status reference_LeakyRelu(KernelContext& ctx) {
  const float alpha = attr_or(ctx, "alpha", 0.01f);
  return run_unary(ctx, FloatTypes{},
                   [=]<class T>(T x) -> T { return x >= T(0) ? x : T(alpha) * x; });
}
Status reference_Elu(KernelContext& ctx) {
  const float alpha = attr_or(ctx, "alpha", 1.0f);
  return run_unary(ctx, FloatTypes{}, [=]<class T>(T x) -> T {
    return x >= T(0) ? x : T(alpha) * (std::exp(x) - T(1));
  });
}
Status reference_Selu(KernelContext& ctx) {
  const float alpha = attr_or(ctx, "alpha", 1.67326319217681884765625f);
  const float gamma = attr_or(ctx, "gamma", 1.05070102214813232421875f);
  return run_unary(ctx, FloatTypes{}, [=]<class T>(T x) -> T {
    return x > T(0) ? T(gamma) * x : T(gamma) * (T(alpha) * std::exp(x) - T(alpha));
  });
}
Status reference_Celu(KernelContext& ctx) {
  const float alpha = attr_or(ctx, "alpha", 1.0f);
  return run_unary(ctx, FloatTypes{}, [=]<class T>(T x) -> T {
    return std::max(T(0), x) + std::min(T(0), T(alpha) * (std::exp(x / T(alpha)) - T(1)));
  });
}
Status reference_ThresholdedRelu(KernelContext& ctx) {
  const float alpha = attr_or(ctx, "alpha", 1.0f);
  return run_unary(ctx, FloatTypes{}, [=]<class T>(T x) -> T { return x > T(alpha) ? x : T(0); });
}
Status reference_HardSigmoid(KernelContext& ctx) {
  const float alpha = attr_or(ctx, "alpha", 0.2f);
  const float beta = attr_or(ctx, "beta", 0.5f);
  return run_unary(ctx, FloatTypes{}, [=]<class T>(T x) -> T {
    return std::max(T(0), std::min(T(1), T(alpha) * x + T(beta)));
  });
}
// x * HardSigmoid(x) with alpha = 1/6, beta = 0.5.
Status reference_HardSwish(KernelContext& ctx) {
  return run_unary(ctx, FloatTypes{}, []<class T>(T x) -> T {
    return x * std::max(T(0), std::min(T(1), x * T(1.0 / 6.0) + T(0.5)));
  });
}
Status reference_Softplus(KernelContext& ctx) {
  return run_unary(ctx, FloatTypes{}, []<class T>(T x) -> T {
    // log(1 + e^x) = max(x, 0) + log1p(e^-|x|), exact for large |x|.
    return std::max(x, T(0)) + std::log1p(std::exp(-std::abs(x)));
  });
}
Status reference_Softsign(KernelContext& ctx) {
  return run_unary(ctx, FloatTypes{}, []<class T>(T x) -> T { return x / (T(1) + std::abs(x)); });
}
Status reference_Mish(KernelContext& ctx) {
  return run_unary(ctx, FloatTypes{}, []<class T>(T x) -> T {
    return x * std::tanh(std::max(x, T(0)) + std::log1p(std::exp(-std::abs(x))));
  });
}
Status reference_Gelu(KernelContext& ctx) {
  if (ctx.node().attr_string("approximate", "none") == "tanh") {
    return run_unary(ctx, FloatTypes{}, []<class T>(T x) -> T {
      const T k = T(0.7978845608028654);  // sqrt(2 / pi)
      return T(0.5) * x * (T(1) + std::tanh(k * (x + T(0.044715) * x * x * x)));
    });
  }
  return run_unary(ctx, FloatTypes{}, []<class T>(T x) -> T {
    return T(0.5) * x * (T(1) + std::erf(x * T(0.7071067811865476)));
  });
}
Status reference_Erf(KernelContext& ctx) {
  return run_unary(ctx, FloatTypes{}, []<class T>(T x) -> T { return std::erf(x); });
}
Status reference_Sin(KernelContext& ctx) {
  return run_unary(ctx, FloatTypes{}, []<class T>(T x) -> T { return std::sin(x); });
}
Status reference_Cos(KernelContext& ctx) {
  return run_unary(ctx, FloatTypes{}, []<class T>(T x) -> T { return std::cos(x); });
}
Status reference_Tan(KernelContext& ctx) {
  return run_unary(ctx, FloatTypes{}, []<class T>(T x) -> T { return std::tan(x); });
}
Status reference_Asin(KernelContext& ctx) {
  return run_unary(ctx, FloatTypes{}, []<class T>(T x) -> T { return std::asin(x); });
}
Status reference_Acos(KernelContext& ctx) {
  return run_unary(ctx, FloatTypes{}, []<class T>(T x) -> T { return std::acos(x); });
}
Status reference_Atan(KernelContext& ctx) {
  return run_unary(ctx, FloatTypes{}, []<class T>(T x) -> T { return std::atan(x); });
}
Status reference_Sinh(KernelContext& ctx) {
  return run_unary(ctx, FloatTypes{}, []<class T>(T x) -> T { return std::sinh(x); });
}
Status reference_Cosh(KernelContext& ctx) {
  return run_unary(ctx, FloatTypes{}, []<class T>(T x) -> T { return std::cosh(x); });
}
Status reference_Asinh(KernelContext& ctx) {
  return run_unary(ctx, FloatTypes{}, []<class T>(T x) -> T { return std::asinh(x); });
}
Status reference_Acosh(KernelContext& ctx) {
  return run_unary(ctx, FloatTypes{}, []<class T>(T x) -> T { return std::acosh(x); });
}
Status reference_Atanh(KernelContext& ctx) {
  return run_unary(ctx, FloatTypes{}, []<class T>(T x) -> T { return std::atanh(x); });
}
Status reference_Sign(KernelContext& ctx) {
  return run_unary(ctx, NumericTypes{},
                   []<class T>(T x) -> T { return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0)); });
}
Status reference_Not(KernelContext& ctx) {
  return run_unary(ctx, BoolTypes{}, [](bool x) { return !x; });
}
Status reference_IsNaN(KernelContext& ctx) {
  return run_predicate(ctx, FloatTypes{}, []<class T>(T x) { return std::isnan(x); });
}
Status reference_IsInf(KernelContext& ctx) {
  const bool neg = ctx.node().attr_int("detect_negative", 1) != 0;
  const bool pos = ctx.node().attr_int("detect_positive", 1) != 0;
  return run_predicate(ctx, FloatTypes{}, [=]<class T>(T x) {
    return std::isinf(x) && ((x > T(0) && pos) || (x < T(0) && neg));
  });
}

// x + bias below -lambd, x - bias above lambd, 0 between (computed in double, then cast).
Status reference_Shrink(KernelContext& ctx) {
  const double bias = ctx.node().attr_float("bias", 0.0f);
  const double lambd = ctx.node().attr_float("lambd", 0.5f);
  return run_unary(ctx, NumericTypes{}, [=]<class T>(T x) -> T {
    const double v = static_cast<double>(x);
    return static_cast<T>(v < -lambd ? v + bias : (v > lambd ? v - bias : 0.0));
  });
}

Status reference_Dropout(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::copy_n(static_cast<const std::byte*>(x.raw()), x.nbytes(),
              static_cast<std::byte*>(ctx.output(0).raw()));
  if (ctx.has_output(1)) std::fill_n(ctx.output(1).data<bool>(), ctx.output(1).numel(), true);
  return Status();
}

// min(max(x, lo), hi); a bound not given is the dtype's lowest/highest value.
Status reference_Clip(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  bool ok = dispatch_dtype(NumericTypes{}, x.dtype(), [&]<class T>() {
    T lo = std::numeric_limits<T>::lowest();
    T hi = std::numeric_limits<T>::max();
    if (ctx.opset() < 11) {
      if (ctx.node().has_attr("min")) lo = static_cast<T>(ctx.node().attr_float("min", 0.0f));
      if (ctx.node().has_attr("max")) hi = static_cast<T>(ctx.node().attr_float("max", 0.0f));
    } else {
      if (ctx.has_input(1)) lo = *ctx.input(1).data<T>();
      if (ctx.has_input(2)) hi = *ctx.input(2).data<T>();
    }
    map_flat(x.data<T>(), ctx.output(0).data<T>(), x.numel(), ctx.pool(),
             [=](T v) { return std::min(std::max(v, lo), hi); });
  });
  if (!ok) return unsupported("Clip: dtype " + dtype_name(x.dtype()) + " not supported");
  return Status();
}

}  // namespace fungen
