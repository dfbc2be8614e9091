// Reference kernels of Conv and ConvTranspose: direct loops over 1-3 spatial dims, viewed as 3-D.
//
// Conv, per (n, output channel) — the unit of parallel work: fill the output plane with the bias,
// then for every input channel of the group and every kernel tap add w * (shifted input row) to
// each output row. The valid output range of a tap is computed outside the row loop, so the
// innermost loop is branch-free and, for stride 1, contiguous (g++ -O2 vectorizes it).
#include <algorithm>

#include "ops/elementwise_dtypes.h"
#include "ops/nn_window.h"
#include "ops/op.h"
#include "util/thread_pool.h"

namespace fungen {
namespace {

struct ConvDims {
  int64_t n = 0, c = 0, m = 0, group = 1;
  Window3 w;
  int64_t in_plane() const { return w.in[0] * w.in[1] * w.in[2]; }
  int64_t out_plane() const { return w.out[0] * w.out[1] * w.out[2]; }
  int64_t taps() const { return w.kernel[0] * w.kernel[1] * w.kernel[2]; }
};

// One output row: y[o] += wv * x[o*stride + off] for o in [lo, hi).
template <class T>
inline void axpy_row(T* y, const T* x, T wv, int64_t lo, int64_t hi, int64_t stride, int64_t off) {
  if (stride == 1) {
    for (int64_t o = lo; o < hi; ++o) y[o] += wv * x[o + off];
  } else {
    for (int64_t o = lo; o < hi; ++o) y[o] += wv * x[o * stride + off];
  }
}

template <class T>
void conv_forward(const T* x, const T* w, const T* bias, T* y, const ConvDims& d,
                  ThreadPool* pool) {
  const Window3& g = d.w;
  const int64_t cg = d.c / d.group, mg = d.m / d.group;
  const int64_t in_plane = d.in_plane(), out_plane = d.out_plane(), taps = d.taps();
  const bool pointwise = taps == 1 && g.strides == std::array<int64_t, 3>{1, 1, 1} &&
                         g.pads == std::array<int64_t, 3>{0, 0, 0} && g.in == g.out;
  parallel_over(pool, d.n * d.m, [&](int64_t begin, int64_t end) {
    for (int64_t nm = begin; nm < end; ++nm) {
      const int64_t n = nm / d.m, m = nm % d.m, grp = m / mg;
      T* yp = y + nm * out_plane;
      std::fill(yp, yp + out_plane, bias ? bias[m] : T(0));
      for (int64_t c = 0; c < cg; ++c) {
        const T* xp = x + (n * d.c + grp * cg + c) * in_plane;
        const T* wp = w + (m * cg + c) * taps;
        if (pointwise) {
          const T wv = wp[0];
          for (int64_t i = 0; i < out_plane; ++i) yp[i] += wv * xp[i];
          continue;
        }
        for (int64_t kd = 0; kd < g.kernel[0]; ++kd) {
          const int64_t offd = kd * g.dilations[0] - g.pads[0];
          auto [od_lo, od_hi] = valid_output_range(g.out[0], g.strides[0], offd, g.in[0]);
          for (int64_t kh = 0; kh < g.kernel[1]; ++kh) {
            const int64_t offh = kh * g.dilations[1] - g.pads[1];
            auto [oh_lo, oh_hi] = valid_output_range(g.out[1], g.strides[1], offh, g.in[1]);
            for (int64_t kw = 0; kw < g.kernel[2]; ++kw) {
              const int64_t offw = kw * g.dilations[2] - g.pads[2];
              auto [ow_lo, ow_hi] = valid_output_range(g.out[2], g.strides[2], offw, g.in[2]);
              const T wv = wp[(kd * g.kernel[1] + kh) * g.kernel[2] + kw];
              for (int64_t od = od_lo; od < od_hi; ++od) {
                const int64_t id = od * g.strides[0] + offd;
                for (int64_t oh = oh_lo; oh < oh_hi; ++oh) {
                  const int64_t ih = oh * g.strides[1] + offh;
                  axpy_row(yp + (od * g.out[1] + oh) * g.out[2], xp + (id * g.in[1] + ih) * g.in[2],
                           wv, ow_lo, ow_hi, g.strides[2], offw);
                }
              }
            }
          }
        }
      }
    }
  });
}

// ConvTranspose: each input position scatters w * x into the output; per (n, output channel)
// the scatter of every input channel of its group lands in one plane, so planes run in parallel.
template <class T>
void conv_transpose(const T* x, const T* w, const T* bias, T* y, const ConvDims& d,
                    ThreadPool* pool) {
  const Window3& g = d.w;
  const int64_t cg = d.c / d.group, mg = d.m / d.group;
  const int64_t in_plane = d.in_plane(), out_plane = d.out_plane(), taps = d.taps();
  parallel_over(pool, d.n * d.m, [&](int64_t begin, int64_t end) {
    for (int64_t nm = begin; nm < end; ++nm) {
      const int64_t n = nm / d.m, m = nm % d.m, grp = m / mg, mm = m % mg;
      T* yp = y + nm * out_plane;
      std::fill(yp, yp + out_plane, bias ? bias[m] : T(0));
      for (int64_t c = 0; c < cg; ++c) {
        const int64_t ic = grp * cg + c;
        const T* xp = x + (n * d.c + ic) * in_plane;
        const T* wp = w + (ic * mg + mm) * taps;
        for (int64_t kd = 0; kd < g.kernel[0]; ++kd) {
          const int64_t offd = kd * g.dilations[0] - g.pads[0];
          auto [id_lo, id_hi] = valid_output_range(g.in[0], g.strides[0], offd, g.out[0]);
          for (int64_t kh = 0; kh < g.kernel[1]; ++kh) {
            const int64_t offh = kh * g.dilations[1] - g.pads[1];
            auto [ih_lo, ih_hi] = valid_output_range(g.in[1], g.strides[1], offh, g.out[1]);
            for (int64_t kw = 0; kw < g.kernel[2]; ++kw) {
              const int64_t offw = kw * g.dilations[2] - g.pads[2];
              auto [iw_lo, iw_hi] = valid_output_range(g.in[2], g.strides[2], offw, g.out[2]);
              const T wv = wp[(kd * g.kernel[1] + kh) * g.kernel[2] + kw];
              for (int64_t id = id_lo; id < id_hi; ++id) {
                const int64_t od = id * g.strides[0] + offd;
                for (int64_t ih = ih_lo; ih < ih_hi; ++ih) {
                  const int64_t oh = ih * g.strides[1] + offh;
                  T* yrow = yp + (od * g.out[1] + oh) * g.out[2];
                  const T* xrow = xp + (id * g.in[1] + ih) * g.in[2];
                  for (int64_t iw = iw_lo; iw < iw_hi; ++iw) {
                    yrow[iw * g.strides[2] + offw] += wv * xrow[iw];
                  }
                }
              }
            }
          }
        }
      }
    }
  });
}

Status run_conv(KernelContext& ctx, bool transpose) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  const Shape spatial(x.shape().begin() + 2, x.shape().end());
  const std::vector<int64_t> kernel(w.shape().begin() + 2, w.shape().end());
  WindowGeometry geom;
  Status s = transpose ? compute_transpose_window(ctx.node(), spatial, kernel, &geom)
                       : compute_window(ctx.node(), spatial, kernel, WindowOptions{}, &geom);
  if (!s.ok()) return s.with_context(ctx.node().describe(ctx.opset()));
  ConvDims d;
  d.n = x.dim(0);
  d.c = x.dim(1);
  d.group = ctx.node().attr_int("group", 1);
  d.m = ctx.output(0).dim(1);
  d.w = to_window3(geom);
  bool ok = dispatch_dtype(FloatTypes{}, x.dtype(), [&]<class T>() {
    const T* bias = ctx.has_input(2) ? ctx.input(2).data<T>() : nullptr;
    if (transpose) {
      conv_transpose(x.data<T>(), w.data<T>(), bias, ctx.output(0).data<T>(), d, ctx.pool());
    } else {
      conv_forward(x.data<T>(), w.data<T>(), bias, ctx.output(0).data<T>(), d, ctx.pool());
    }
  });
  if (!ok)
    return unsupported(ctx.node().describe(ctx.opset()) + ": dtype " + dtype_name(x.dtype()) +
                       " not supported");
  return Status();
}

}  // namespace

Status reference_Conv(KernelContext& ctx) {
  return run_conv(ctx, false);
}
Status reference_ConvTranspose(KernelContext& ctx) {
  return run_conv(ctx, true);
}

}  // namespace fungen
