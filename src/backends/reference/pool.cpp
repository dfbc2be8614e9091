// Reference kernels of MaxPool, AveragePool and the global pools. Windows are walked by brute
// force per output element with bounds checks: pools are a tiny share of a detector's time.
#include <algorithm>
#include <limits>

#include "ops/elementwise_dtypes.h"
#include "ops/nn_window.h"
#include "ops/op.h"
#include "util/thread_pool.h"

namespace fungen {
namespace {

using MaxPoolTypes = TypeList<float, double, int8_t, uint8_t>;

Status window_of(KernelContext& ctx, Window3* w, std::array<int64_t, 3>* pads_end = nullptr) {
  const Shape& x = ctx.input(0).shape();
  WindowGeometry g;
  Status s = compute_window(ctx.node(), Shape(x.begin() + 2, x.end()),
                            ctx.node().attr_ints("kernel_shape"), WindowOptions{true, true}, &g);
  if (!s.ok()) return s.with_context(ctx.node().describe(ctx.opset()));
  *w = to_window3(g);
  if (pads_end) {
    *pads_end = {0, 0, 0};
    for (int i = 0; i < g.rank(); ++i) {
      (*pads_end)[static_cast<size_t>(3 - g.rank() + i)] = g.pads_end[static_cast<size_t>(i)];
    }
  }
  return Status();
}

// Calls visit(output_index, window_start[3]) for every output element of plane `nc`.
template <class F>
void for_each_window(const Window3& w, F&& visit) {
  int64_t o = 0;
  for (int64_t od = 0; od < w.out[0]; ++od) {
    for (int64_t oh = 0; oh < w.out[1]; ++oh) {
      for (int64_t ow = 0; ow < w.out[2]; ++ow, ++o) {
        visit(o,
              std::array<int64_t, 3>{od * w.strides[0] - w.pads[0], oh * w.strides[1] - w.pads[1],
                                     ow * w.strides[2] - w.pads[2]});
      }
    }
  }
}

}  // namespace

// Padding never wins the max. Indices are flat positions in X: row-major (storage_order 0) or
// with the spatial dims column-major (storage_order 1), plus the (n, c) plane offset.
Status reference_MaxPool(KernelContext& ctx) {
  Window3 w;
  FUNGEN_RETURN_IF_ERROR(window_of(ctx, &w));
  const Tensor& x = ctx.input(0);
  const int64_t planes = x.dim(0) * x.dim(1);
  const int64_t in_plane = w.in[0] * w.in[1] * w.in[2];
  const int64_t out_plane = w.out[0] * w.out[1] * w.out[2];
  const bool column_major = ctx.node().attr_int("storage_order", 0) == 1;
  const int spatial = x.rank() - 2;
  int64_t* indices = ctx.has_output(1) ? ctx.output(1).data<int64_t>() : nullptr;
  bool ok = dispatch_dtype(MaxPoolTypes{}, x.dtype(), [&]<class T>() {
    const T* xd = x.data<T>();
    T* yd = ctx.output(0).data<T>();
    parallel_over(ctx.pool(), planes, [&](int64_t begin, int64_t end) {
      for (int64_t nc = begin; nc < end; ++nc) {
        const T* xp = xd + nc * in_plane;
        for_each_window(w, [&](int64_t o, const std::array<int64_t, 3>& s) {
          T best = std::numeric_limits<T>::lowest();
          int64_t best_pos[3] = {-1, -1, -1};
          for (int64_t kd = 0; kd < w.kernel[0]; ++kd) {
            const int64_t id = s[0] + kd * w.dilations[0];
            if (id < 0 || id >= w.in[0]) continue;
            for (int64_t kh = 0; kh < w.kernel[1]; ++kh) {
              const int64_t ih = s[1] + kh * w.dilations[1];
              if (ih < 0 || ih >= w.in[1]) continue;
              for (int64_t kw = 0; kw < w.kernel[2]; ++kw) {
                const int64_t iw = s[2] + kw * w.dilations[2];
                if (iw < 0 || iw >= w.in[2]) continue;
                const T v = xp[(id * w.in[1] + ih) * w.in[2] + iw];
                if (v > best || best_pos[0] < 0) {
                  best = v;
                  best_pos[0] = id, best_pos[1] = ih, best_pos[2] = iw;
                }
              }
            }
          }
          yd[nc * out_plane + o] = best;
          if (indices) {
            int64_t flat;
            if (!column_major) {
              flat = (best_pos[0] * w.in[1] + best_pos[1]) * w.in[2] + best_pos[2];
            } else {  // the first spatial dim varies fastest
              flat = 0;
              int64_t mul = 1;
              for (int i = 3 - spatial; i < 3; ++i) {
                flat += best_pos[i] * mul;
                mul *= w.in[i];
              }
            }
            indices[nc * out_plane + o] = nc * in_plane + flat;
          }
        });
      }
    });
  });
  if (!ok) return unsupported("MaxPool: dtype " + dtype_name(x.dtype()) + " not supported");
  return Status();
}

// The divisor counts the window's positions inside X (count_include_pad=0), or inside X plus
// its pads (count_include_pad=1; positions past the end pads that ceil_mode adds never count).
Status reference_AveragePool(KernelContext& ctx) {
  Window3 w;
  std::array<int64_t, 3> pad_end;
  FUNGEN_RETURN_IF_ERROR(window_of(ctx, &w, &pad_end));
  const Tensor& x = ctx.input(0);
  const bool include_pad = ctx.node().attr_int("count_include_pad", 0) == 1;
  const int64_t planes = x.dim(0) * x.dim(1);
  const int64_t in_plane = w.in[0] * w.in[1] * w.in[2];
  const int64_t out_plane = w.out[0] * w.out[1] * w.out[2];
  bool ok = dispatch_dtype(FloatTypes{}, x.dtype(), [&]<class T>() {
    const T* xd = x.data<T>();
    T* yd = ctx.output(0).data<T>();
    parallel_over(ctx.pool(), planes, [&](int64_t begin, int64_t end) {
      for (int64_t nc = begin; nc < end; ++nc) {
        const T* xp = xd + nc * in_plane;
        for_each_window(w, [&](int64_t o, const std::array<int64_t, 3>& s) {
          T sum = 0;
          int64_t count = 0;
          for (int64_t kd = 0; kd < w.kernel[0]; ++kd) {
            const int64_t id = s[0] + kd * w.dilations[0];
            const bool in_d = id >= 0 && id < w.in[0];
            if (!in_d && !(include_pad && id < w.in[0] + pad_end[0])) continue;
            for (int64_t kh = 0; kh < w.kernel[1]; ++kh) {
              const int64_t ih = s[1] + kh * w.dilations[1];
              const bool in_h = ih >= 0 && ih < w.in[1];
              if (!in_h && !(include_pad && ih < w.in[1] + pad_end[1])) continue;
              for (int64_t kw = 0; kw < w.kernel[2]; ++kw) {
                const int64_t iw = s[2] + kw * w.dilations[2];
                const bool in_w = iw >= 0 && iw < w.in[2];
                if (!in_w && !(include_pad && iw < w.in[2] + pad_end[2])) continue;
                ++count;
                if (in_d && in_h && in_w) sum += xp[(id * w.in[1] + ih) * w.in[2] + iw];
              }
            }
          }
          yd[nc * out_plane + o] = count > 0 ? sum / static_cast<T>(count) : T(0);
        });
      }
    });
  });
  if (!ok) return unsupported("AveragePool: dtype " + dtype_name(x.dtype()) + " not supported");
  return Status();
}

namespace {

template <bool kMax>
Status global_pool(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int64_t planes = x.dim(0) * x.dim(1);
  const int64_t plane = planes == 0 ? 0 : x.numel() / planes;
  bool ok = dispatch_dtype(FloatTypes{}, x.dtype(), [&]<class T>() {
    const T* xd = x.data<T>();
    T* yd = ctx.output(0).data<T>();
    parallel_over(ctx.pool(), planes, [&](int64_t begin, int64_t end) {
      for (int64_t nc = begin; nc < end; ++nc) {
        const T* p = xd + nc * plane;
        if constexpr (kMax) {
          T best = std::numeric_limits<T>::lowest();
          for (int64_t i = 0; i < plane; ++i) best = std::max(best, p[i]);
          yd[nc] = best;
        } else {
          T sum = 0;
          for (int64_t i = 0; i < plane; ++i) sum += p[i];
          yd[nc] = sum / static_cast<T>(plane);
        }
      }
    });
  });
  if (!ok) return unsupported("global pool: dtype " + dtype_name(x.dtype()) + " not supported");
  return Status();
}

}  // namespace

Status reference_GlobalAveragePool(KernelContext& ctx) {
  return global_pool<false>(ctx);
}
Status reference_GlobalMaxPool(KernelContext& ctx) {
  return global_pool<true>(ctx);
}

}  // namespace fungen
