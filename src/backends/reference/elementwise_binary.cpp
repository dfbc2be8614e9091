// Reference kernels of the broadcasting elementwise ops. Every op is a scalar functor run by
// binary_broadcast over the runs of a BroadcastPlan (see elementwise_broadcast.h).
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "backends/reference/elementwise_broadcast.h"
#include "ops/elementwise_dtypes.h"
#include "ops/op.h"

namespace fungen {
namespace {

using reference::binary_run;
using reference::for_each_run;
using reference::make_broadcast_plan;

template <class A, class B, class O, class F>
void binary_broadcast(const Tensor& a, const Tensor& b, Tensor& out, ThreadPool* pool, const F& f) {
  auto plan = make_broadcast_plan<2>(out.shape(), {&a.shape(), &b.shape()});
  const A* pa = a.data<A>();
  const B* pb = b.data<B>();
  O* po = out.data<O>();
  for_each_run(plan, pool,
               [&](int64_t o, const std::array<int64_t, 2>& off, int64_t n,
                   const std::array<int64_t, 2>& st) {
                 binary_run(pa + off[0], st[0], pb + off[1], st[1], po + o, n, f);
               });
}

Status bad_dtype(KernelContext& ctx, DType d) {
  return unsupported(ctx.node().describe(ctx.opset()) + ": dtype " + dtype_name(d) +
                     " not supported");
}

// Output dtype equals the input dtype.
template <class... Ts, class F>
Status run_binary(KernelContext& ctx, TypeList<Ts...> types, const F& f) {
  DType d = ctx.input(0).dtype();
  bool ok = dispatch_dtype(types, d, [&]<class T>() {
    binary_broadcast<T, T, T>(ctx.input(0), ctx.input(1), ctx.output(0), ctx.pool(),
                              [&](T a, T b) -> T { return f(a, b); });
  });
  return ok ? Status() : bad_dtype(ctx, d);
}

// Output dtype bool.
template <class... Ts, class F>
Status run_compare(KernelContext& ctx, TypeList<Ts...> types, const F& f) {
  DType d = ctx.input(0).dtype();
  bool ok = dispatch_dtype(types, d, [&]<class T>() {
    binary_broadcast<T, T, bool>(ctx.input(0), ctx.input(1), ctx.output(0), ctx.pool(),
                                 [&](T a, T b) -> bool { return f(a, b); });
  });
  return ok ? Status() : bad_dtype(ctx, d);
}

// Variadic ops: out = input0 broadcast, then out = f(out, input_k) for each further input.
template <class... Ts, class F>
Status run_variadic(KernelContext& ctx, TypeList<Ts...> types, const F& f) {
  DType d = ctx.input(0).dtype();
  Tensor& out = ctx.output(0);
  bool ok = dispatch_dtype(types, d, [&]<class T>() {
    const Tensor& first = ctx.input(0);
    auto plan = make_broadcast_plan<1>(out.shape(), {&first.shape()});
    const T* src = first.data<T>();
    T* dst = out.data<T>();
    for_each_run(plan, ctx.pool(),
                 [&](int64_t o, const std::array<int64_t, 1>& off, int64_t n,
                     const std::array<int64_t, 1>& st) {
                   for (int64_t i = 0; i < n; ++i) dst[o + i] = src[off[0] + i * st[0]];
                 });
    for (size_t k = 1; k < ctx.num_inputs(); ++k) {
      binary_broadcast<T, T, T>(out, ctx.input(k), out, ctx.pool(),
                                [&](T a, T b) -> T { return f(a, b); });
    }
  });
  return ok ? Status() : bad_dtype(ctx, d);
}

// Integer division truncates toward zero (C++ and ONNX Runtime); x/0 gives 0 instead of a trap,
// and lowest/-1 wraps instead of trapping.
template <class T>
T divide(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    if (b == 0) return T(0);
    if constexpr (std::is_signed_v<T>) {
      if (b == T(-1)) return static_cast<T>(T(0) - static_cast<std::make_unsigned_t<T>>(a));
    }
  }
  return static_cast<T>(a / b);
}

// fmod=0 (integers): the remainder takes the divisor's sign, like Python's %.
template <class T>
T mod_floor(T a, T b) {
  if (b == 0) return T(0);
  if constexpr (std::is_signed_v<T>) {
    if (b == T(-1)) return T(0);
  }
  T r = static_cast<T>(a % b);
  if constexpr (std::is_signed_v<T>) {
    if (r != 0 && ((r < 0) != (b < 0))) r = static_cast<T>(r + b);
  }
  return r;
}

// fmod=1: the remainder takes the dividend's sign, like C's fmod.
template <class T>
T mod_trunc(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::fmod(a, b);
  } else {
    if (b == 0) return T(0);
    if constexpr (std::is_signed_v<T>) {
      if (b == T(-1)) return T(0);
    }
    return static_cast<T>(a % b);
  }
}

using PowTypes = TypeList<float, double, int32_t, int64_t>;

}  // namespace

Status reference_Add(KernelContext& ctx) {
  return run_binary(ctx, NumericTypes{}, []<class T>(T a, T b) { return static_cast<T>(a + b); });
}
Status reference_Sub(KernelContext& ctx) {
  return run_binary(ctx, NumericTypes{}, []<class T>(T a, T b) { return static_cast<T>(a - b); });
}
Status reference_Mul(KernelContext& ctx) {
  return run_binary(ctx, NumericTypes{}, []<class T>(T a, T b) { return static_cast<T>(a * b); });
}
Status reference_Div(KernelContext& ctx) {
  return run_binary(ctx, NumericTypes{}, []<class T>(T a, T b) { return divide(a, b); });
}
Status reference_Mod(KernelContext& ctx) {
  if (ctx.node().attr_int("fmod", 0) == 1) {
    return run_binary(ctx, NumericTypes{}, []<class T>(T a, T b) { return mod_trunc(a, b); });
  }
  using IntTypes =
      TypeList<int8_t, uint8_t, int16_t, uint16_t, int32_t, int64_t, uint32_t, uint64_t>;
  return run_binary(ctx, IntTypes{}, []<class T>(T a, T b) { return mod_floor(a, b); });
}
Status reference_BitShift(KernelContext& ctx) {
  if (ctx.node().attr_string("direction", "") == "LEFT") {
    return run_binary(ctx, UnsignedTypes{}, []<class T>(T a, T b) {
      return b >= sizeof(T) * 8 ? T(0) : static_cast<T>(a << b);
    });
  }
  return run_binary(ctx, UnsignedTypes{}, []<class T>(T a, T b) {
    return b >= sizeof(T) * 8 ? T(0) : static_cast<T>(a >> b);
  });
}
Status reference_Max(KernelContext& ctx) {
  return run_variadic(ctx, NumericTypes{}, []<class T>(T a, T b) { return std::max(a, b); });
}
Status reference_Min(KernelContext& ctx) {
  return run_variadic(ctx, NumericTypes{}, []<class T>(T a, T b) { return std::min(a, b); });
}
Status reference_Sum(KernelContext& ctx) {
  return run_variadic(ctx, NumericTypes{}, []<class T>(T a, T b) { return static_cast<T>(a + b); });
}
Status reference_Mean(KernelContext& ctx) {
  FUNGEN_RETURN_IF_ERROR(
      run_variadic(ctx, FloatTypes{}, []<class T>(T a, T b) { return static_cast<T>(a + b); }));
  Tensor& out = ctx.output(0);
  const double n = static_cast<double>(ctx.num_inputs());
  dispatch_dtype(FloatTypes{}, out.dtype(), [&]<class T>() {
    T* p = out.data<T>();
    for (int64_t i = 0; i < out.numel(); ++i) p[i] = static_cast<T>(p[i] / static_cast<T>(n));
  });
  return Status();
}

Status reference_Equal(KernelContext& ctx) {
  return run_compare(ctx, NumericBoolTypes{}, []<class T>(T a, T b) { return a == b; });
}
Status reference_Less(KernelContext& ctx) {
  return run_compare(ctx, NumericTypes{}, []<class T>(T a, T b) { return a < b; });
}
Status reference_Greater(KernelContext& ctx) {
  return run_compare(ctx, NumericTypes{}, []<class T>(T a, T b) { return a > b; });
}
Status reference_LessOrEqual(KernelContext& ctx) {
  return run_compare(ctx, NumericTypes{}, []<class T>(T a, T b) { return a <= b; });
}
Status reference_GreaterOrEqual(KernelContext& ctx) {
  return run_compare(ctx, NumericTypes{}, []<class T>(T a, T b) { return a >= b; });
}
Status reference_And(KernelContext& ctx) {
  return run_binary(ctx, BoolTypes{}, [](bool a, bool b) { return a && b; });
}
Status reference_Or(KernelContext& ctx) {
  return run_binary(ctx, BoolTypes{}, [](bool a, bool b) { return a || b; });
}
Status reference_Xor(KernelContext& ctx) {
  return run_binary(ctx, BoolTypes{}, [](bool a, bool b) { return a != b; });
}

Status reference_PRelu(KernelContext& ctx) {
  return run_binary(ctx, SignedNumericTypes{},
                    []<class T>(T x, T slope) { return x < T(0) ? static_cast<T>(slope * x) : x; });
}

// Floating bases use std::pow in the base's precision; integer bases compute in double and
// truncate, as ONNX Runtime does.
Status reference_Pow(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  bool ok = false;
  dispatch_dtype(PowTypes{}, a.dtype(), [&]<class T>() {
    ok = dispatch_dtype(NumericTypes{}, b.dtype(), [&]<class U>() {
      binary_broadcast<T, U, T>(a, b, ctx.output(0), ctx.pool(), [](T x, U y) -> T {
        if constexpr (std::is_floating_point_v<T>) {
          return static_cast<T>(std::pow(x, static_cast<T>(y)));
        } else {
          return static_cast<T>(std::pow(static_cast<double>(x), static_cast<double>(y)));
        }
      });
    });
  });
  return ok ? Status() : bad_dtype(ctx, a.dtype());
}

Status reference_Where(KernelContext& ctx) {
  const Tensor& c = ctx.input(0);
  const Tensor& x = ctx.input(1);
  const Tensor& y = ctx.input(2);
  Tensor& out = ctx.output(0);
  bool ok = dispatch_dtype(NumericBoolTypes{}, x.dtype(), [&]<class T>() {
    auto plan = make_broadcast_plan<3>(out.shape(), {&c.shape(), &x.shape(), &y.shape()});
    const bool* pc = c.data<bool>();
    const T* px = x.data<T>();
    const T* py = y.data<T>();
    T* po = out.data<T>();
    for_each_run(plan, ctx.pool(),
                 [&](int64_t o, const std::array<int64_t, 3>& off, int64_t n,
                     const std::array<int64_t, 3>& st) {
                   for (int64_t i = 0; i < n; ++i) {
                     po[o + i] =
                         pc[off[0] + i * st[0]] ? px[off[1] + i * st[1]] : py[off[2] + i * st[2]];
                   }
                 });
  });
  return ok ? Status() : bad_dtype(ctx, x.dtype());
}

}  // namespace fungen
