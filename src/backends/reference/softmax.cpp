// Reference kernels of Softmax, LogSoftmax and Hardmax over [outer, axis, inner]: subtract the max,
// exponentiate, normalize by the sum (accumulated in the element type, as ONNX Runtime does).
// inner == 1 walks contiguous rows; otherwise the axis is walked with stride `inner` per column.
#include <algorithm>
#include <cmath>

#include "ops/elementwise_dtypes.h"
#include "ops/op.h"
#include "util/thread_pool.h"

namespace fungen {
namespace {

enum class Mode { kSoftmax, kLogSoftmax, kHardmax };

template <class T, Mode kMode>
void softmax_column(const T* x, T* y, int64_t len, int64_t stride) {
  T mx = x[0];
  int64_t arg = 0;
  for (int64_t a = 1; a < len; ++a) {
    if (x[a * stride] > mx) mx = x[a * stride], arg = a;
  }
  T sum = 0;
  if constexpr (kMode == Mode::kHardmax) {  // 1 at the first maximum, 0 elsewhere
    for (int64_t a = 0; a < len; ++a) y[a * stride] = a == arg ? T(1) : T(0);
  } else if constexpr (kMode == Mode::kLogSoftmax) {
    for (int64_t a = 0; a < len; ++a) sum += std::exp(x[a * stride] - mx);
    const T log_sum = std::log(sum);
    for (int64_t a = 0; a < len; ++a) y[a * stride] = x[a * stride] - mx - log_sum;
  } else {
    for (int64_t a = 0; a < len; ++a) {
      const T e = std::exp(x[a * stride] - mx);
      y[a * stride] = e;
      sum += e;
    }
    const T inv = T(1) / sum;
    for (int64_t a = 0; a < len; ++a) y[a * stride] *= inv;
  }
}

template <Mode kMode>
Status run_softmax(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int rank = x.rank();
  int64_t axis = ctx.node().attr_int("axis", ctx.opset() >= 13 ? -1 : 1);
  if (axis < 0) axis += rank;
  int64_t outer = 1, len = 1, inner = 1;
  if (ctx.opset() >= 13) {
    for (int i = 0; i < rank; ++i) {
      if (i < axis)
        outer *= x.dim(i);
      else if (i == axis)
        len = x.dim(i);
      else
        inner *= x.dim(i);
    }
  } else {  // coerce to 2-D [prod(dims < axis), prod(dims >= axis)]
    for (int i = 0; i < rank; ++i) (i < axis ? outer : len) *= x.dim(i);
  }
  if (x.numel() == 0) return Status();
  bool ok = dispatch_dtype(FloatTypes{}, x.dtype(), [&]<class T>() {
    const T* xd = x.data<T>();
    T* yd = ctx.output(0).data<T>();
    auto body = [&](int64_t begin, int64_t end) {
      for (int64_t col = begin; col < end; ++col) {
        const int64_t o = col / inner, i = col % inner;
        const int64_t base = o * len * inner + i;
        softmax_column<T, kMode>(xd + base, yd + base, len, inner);
      }
    };
    ThreadPool* pool = ctx.pool();
    if (pool && pool->threads() > 1 && outer * inner > 1 && x.numel() >= 4096) {
      pool->parallel_for(0, outer * inner, body);
    } else {
      body(0, outer * inner);
    }
  });
  if (!ok) return unsupported("Softmax: dtype " + dtype_name(x.dtype()) + " not supported");
  return Status();
}

}  // namespace

Status reference_Softmax(KernelContext& ctx) {
  return run_softmax<Mode::kSoftmax>(ctx);
}
Status reference_LogSoftmax(KernelContext& ctx) {
  return run_softmax<Mode::kLogSoftmax>(ctx);
}
Status reference_Hardmax(KernelContext& ctx) {
  return run_softmax<Mode::kHardmax>(ctx);
}

}  // namespace fungen
