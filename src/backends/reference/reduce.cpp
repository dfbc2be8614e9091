// Reference kernels of the Reduce* ops, ArgMax and ArgMin.
//
// Reduce: the input offsets of one reduction window (all positions of the reduced dims) are
// listed once in scratch; each output element then folds base + offsets[r] over the window.
// Floating sums accumulate in double; integer ones in their own type (wrapping like ORT's).
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "ops/elementwise_dtypes.h"
#include "ops/nn_reduce.h"
#include "ops/op.h"
#include "ops/op_util.h"
#include "util/thread_pool.h"

namespace fungen {
namespace {

template <class T>
using Acc = std::conditional_t<std::is_floating_point_v<T>, double, T>;

enum class Kind { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kSumSquare, kLogSum, kLogSumExp };

template <class T>
T fold(Kind kind, const T* base, const int64_t* offs, int64_t n) {
  switch (kind) {
    case Kind::kMax: {
      T v = n > 0 ? base[offs[0]] : std::numeric_limits<T>::lowest();
      for (int64_t r = 1; r < n; ++r) v = std::max(v, base[offs[r]]);
      return v;
    }
    case Kind::kMin: {
      T v = n > 0 ? base[offs[0]] : std::numeric_limits<T>::max();
      for (int64_t r = 1; r < n; ++r) v = std::min(v, base[offs[r]]);
      return v;
    }
    case Kind::kProd: {
      Acc<T> v = 1;
      for (int64_t r = 0; r < n; ++r) v *= base[offs[r]];
      return static_cast<T>(v);
    }
    case Kind::kLogSumExp: {
      if (n == 0) return -std::numeric_limits<T>::infinity();
      T mx = base[offs[0]];
      for (int64_t r = 1; r < n; ++r) mx = std::max(mx, base[offs[r]]);
      if (std::isinf(mx)) return mx;
      double s = 0;
      for (int64_t r = 0; r < n; ++r) s += std::exp(static_cast<double>(base[offs[r]] - mx));
      return static_cast<T>(static_cast<double>(mx) + std::log(s));
    }
    default:
      break;
  }
  Acc<T> s = 0;
  for (int64_t r = 0; r < n; ++r) {
    const Acc<T> v = base[offs[r]];
    switch (kind) {
      case Kind::kL1:
        if constexpr (std::is_signed_v<Acc<T>>)
          s += v < 0 ? Acc<T>(-v) : v;
        else
          s += v;
        break;
      case Kind::kL2:
      case Kind::kSumSquare:
        s += v * v;
        break;
      default:
        s += v;
        break;
    }
  }
  switch (kind) {
    case Kind::kMean:
      return static_cast<T>(n > 0 ? s / static_cast<Acc<T>>(n) : s);
    case Kind::kL2:
      return static_cast<T>(std::sqrt(static_cast<double>(s)));
    case Kind::kLogSum:
      return static_cast<T>(std::log(static_cast<double>(s)));
    default:
      return static_cast<T>(s);
  }
}

Status run_reduce(KernelContext& ctx, Kind kind) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  ReduceAxes axes;
  FUNGEN_RETURN_IF_ERROR(resolve_reduce_axes(ctx.node(), ctx.opset(), x.rank(),
                                             ctx.has_input(1) ? &ctx.input(1) : nullptr, &axes));
  if (axes.noop) {
    std::copy_n(static_cast<const std::byte*>(x.raw()), x.nbytes(),
                static_cast<std::byte*>(y.raw()));
    return Status();
  }
  const std::vector<int64_t> strides = contiguous_strides(x.shape());
  Shape kept_dims, red_dims;
  std::vector<int64_t> kept_str, red_str;
  for (int i = 0; i < x.rank(); ++i) {
    const size_t u = static_cast<size_t>(i);
    (axes.reduced[u] ? red_dims : kept_dims).push_back(x.dim(i));
    (axes.reduced[u] ? red_str : kept_str).push_back(strides[u]);
  }
  // Offsets of one window, odometer order.
  const int64_t window = shape_numel(red_dims);
  int64_t* offs = static_cast<int64_t*>(ctx.scratch());
  {
    std::vector<int64_t> idx(red_dims.size(), 0);
    for (int64_t r = 0; r < window; ++r) {
      int64_t off = 0;
      for (size_t d = 0; d < red_dims.size(); ++d) off += idx[d] * red_str[d];
      offs[r] = off;
      for (size_t d = red_dims.size(); d-- > 0;) {
        if (++idx[d] < red_dims[d]) break;
        idx[d] = 0;
      }
    }
  }
  const int64_t outputs = shape_numel(kept_dims);
  bool ok = dispatch_dtype(NumericTypes{}, x.dtype(), [&]<class T>() {
    const T* xd = x.data<T>();
    T* yd = y.data<T>();
    auto body = [&](int64_t begin, int64_t end) {
      for (int64_t o = begin; o < end; ++o) {
        int64_t base = 0, rem = o;
        for (size_t d = kept_dims.size(); d-- > 0;) {
          base += (rem % kept_dims[d]) * kept_str[d];
          rem /= kept_dims[d];
        }
        yd[o] = fold<T>(kind, xd + base, offs, window);
      }
    };
    ThreadPool* pool = ctx.pool();
    if (pool && pool->threads() > 1 && outputs > 1 && x.numel() >= 4096) {
      pool->parallel_for(0, outputs, body);
    } else {
      body(0, outputs);
    }
  });
  if (!ok) return unsupported("Reduce: dtype " + dtype_name(x.dtype()) + " not supported");
  return Status();
}

// First (or with select_last_index, last) position of the max/min along the axis.
template <bool kMax>
Status run_arg(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t axis = ctx.node().attr_int("axis", 0);
  if (axis < 0) axis += x.rank();
  const bool last = ctx.node().attr_int("select_last_index", 0) == 1;
  int64_t outer = 1, len = x.dim(static_cast<int>(axis)), inner = 1;
  for (int i = 0; i < x.rank(); ++i) {
    if (i < axis) outer *= x.dim(i);
    if (i > axis) inner *= x.dim(i);
  }
  int64_t* yd = ctx.output(0).data<int64_t>();
  bool ok = dispatch_dtype(NumericTypes{}, x.dtype(), [&]<class T>() {
    const T* xd = x.data<T>();
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        const T* p = xd + o * len * inner + i;
        int64_t best = 0;
        for (int64_t a = 1; a < len; ++a) {
          const T v = p[a * inner], b = p[best * inner];
          const bool better = kMax ? (last ? v >= b : v > b) : (last ? v <= b : v < b);
          if (better) best = a;
        }
        yd[o * inner + i] = best;
      }
    }
  });
  if (!ok) return unsupported("ArgMax/ArgMin: dtype " + dtype_name(x.dtype()) + " not supported");
  return Status();
}

}  // namespace

Status reference_ReduceSum(KernelContext& ctx) {
  return run_reduce(ctx, Kind::kSum);
}
Status reference_ReduceMean(KernelContext& ctx) {
  return run_reduce(ctx, Kind::kMean);
}
Status reference_ReduceMax(KernelContext& ctx) {
  return run_reduce(ctx, Kind::kMax);
}
Status reference_ReduceMin(KernelContext& ctx) {
  return run_reduce(ctx, Kind::kMin);
}
Status reference_ReduceProd(KernelContext& ctx) {
  return run_reduce(ctx, Kind::kProd);
}
Status reference_ReduceL1(KernelContext& ctx) {
  return run_reduce(ctx, Kind::kL1);
}
Status reference_ReduceL2(KernelContext& ctx) {
  return run_reduce(ctx, Kind::kL2);
}
Status reference_ReduceSumSquare(KernelContext& ctx) {
  return run_reduce(ctx, Kind::kSumSquare);
}
Status reference_ReduceLogSum(KernelContext& ctx) {
  return run_reduce(ctx, Kind::kLogSum);
}
Status reference_ReduceLogSumExp(KernelContext& ctx) {
  return run_reduce(ctx, Kind::kLogSumExp);
}
Status reference_ArgMax(KernelContext& ctx) {
  return run_arg<true>(ctx);
}
Status reference_ArgMin(KernelContext& ctx) {
  return run_arg<false>(ctx);
}

}  // namespace fungen
