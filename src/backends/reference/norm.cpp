// Reference kernels of BatchNormalization (inference), InstanceNormalization,
// LayerNormalization and LRN. Statistics accumulate in double.
#include <algorithm>
#include <cmath>

#include "ops/elementwise_dtypes.h"
#include "ops/op.h"
#include "ops/op_util.h"
#include "util/thread_pool.h"

namespace fungen {
namespace {

Status bad_dtype(KernelContext& ctx) {
  return unsupported(ctx.node().describe(ctx.opset()) + ": dtype " +
                     dtype_name(ctx.input(0).dtype()) + " not supported");
}

}  // namespace

// y = x * s + b' per channel, with s = scale / sqrt(var + eps) and b' = B - mean * s.
Status reference_BatchNormalization(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const float eps = ctx.node().attr_float("epsilon", 1e-5f);
  const int64_t n = x.dim(0), c = x.dim(1);
  const int64_t plane = n * c == 0 ? 0 : x.numel() / (n * c);
  bool ok = dispatch_dtype(FloatTypes{}, x.dtype(), [&]<class T>() {
    const T* scale = ctx.input(1).data<T>();
    const T* bias = ctx.input(2).data<T>();
    const T* mean = ctx.input(3).data<T>();
    const T* var = ctx.input(4).data<T>();
    const T* xd = x.data<T>();
    T* yd = ctx.output(0).data<T>();
    parallel_over(ctx.pool(), n * c, [&](int64_t begin, int64_t end) {
      for (int64_t nc = begin; nc < end; ++nc) {
        const int64_t ch = nc % c;
        const T s = scale[ch] / std::sqrt(var[ch] + static_cast<T>(eps));
        const T b = bias[ch] - mean[ch] * s;
        const T* xp = xd + nc * plane;
        T* yp = yd + nc * plane;
        for (int64_t i = 0; i < plane; ++i) yp[i] = xp[i] * s + b;
      }
    });
  });
  return ok ? Status() : bad_dtype(ctx);
}

// Per (n, c) plane: y = scale * (x - mean) / sqrt(var + eps) + B, biased variance.
Status reference_InstanceNormalization(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const double eps = ctx.node().attr_float("epsilon", 1e-5f);
  const int64_t n = x.dim(0), c = x.dim(1);
  const int64_t plane = n * c == 0 ? 0 : x.numel() / (n * c);
  bool ok = dispatch_dtype(FloatTypes{}, x.dtype(), [&]<class T>() {
    const T* scale = ctx.input(1).data<T>();
    const T* bias = ctx.input(2).data<T>();
    const T* xd = x.data<T>();
    T* yd = ctx.output(0).data<T>();
    parallel_over(ctx.pool(), n * c, [&](int64_t begin, int64_t end) {
      for (int64_t nc = begin; nc < end; ++nc) {
        const int64_t ch = nc % c;
        const T* xp = xd + nc * plane;
        T* yp = yd + nc * plane;
        double sum = 0;
        for (int64_t i = 0; i < plane; ++i) sum += xp[i];
        const double mean = sum / static_cast<double>(plane);
        double sq = 0;
        for (int64_t i = 0; i < plane; ++i) sq += (xp[i] - mean) * (xp[i] - mean);
        const double inv = 1.0 / std::sqrt(sq / static_cast<double>(plane) + eps);
        for (int64_t i = 0; i < plane; ++i) {
          yp[i] = static_cast<T>((xp[i] - mean) * inv * scale[ch] + bias[ch]);
        }
      }
    });
  });
  return ok ? Status() : bad_dtype(ctx);
}

// Across channels: y = x / (bias + alpha / size * sum of x^2 over channels
// [c - floor((size-1)/2), c + ceil((size-1)/2)])^beta.
Status reference_LRN(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const double alpha = ctx.node().attr_float("alpha", 1e-4f);
  const double beta = ctx.node().attr_float("beta", 0.75f);
  const double bias = ctx.node().attr_float("bias", 1.0f);
  const int64_t size = ctx.node().attr_int("size", 1);
  const int64_t n = x.dim(0), c = x.dim(1);
  const int64_t plane = n * c == 0 ? 0 : x.numel() / (n * c);
  const int64_t before = (size - 1) / 2, after = size - 1 - before;
  bool ok = dispatch_dtype(FloatTypes{}, x.dtype(), [&]<class T>() {
    const T* xd = x.data<T>();
    T* yd = ctx.output(0).data<T>();
    parallel_over(ctx.pool(), n * c, [&](int64_t begin, int64_t end) {
      for (int64_t nc = begin; nc < end; ++nc) {
        const int64_t img = nc / c, ch = nc % c;
        const int64_t lo = std::max<int64_t>(0, ch - before),
                      hi = std::min<int64_t>(c - 1, ch + after);
        for (int64_t i = 0; i < plane; ++i) {
          double sq = 0;
          for (int64_t k = lo; k <= hi; ++k) {
            const double v = xd[(img * c + k) * plane + i];
            sq += v * v;
          }
          yd[nc * plane + i] = static_cast<T>(
              xd[nc * plane + i] / std::pow(bias + alpha / static_cast<double>(size) * sq, beta));
        }
      }
    });
  });
  return ok ? Status() : bad_dtype(ctx);
}

// Rows of D = prod(X[axis:]) elements; Scale and B broadcast to X[axis:].
Status reference_LayerNormalization(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const double eps = ctx.node().attr_float("epsilon", 1e-5f);
  int64_t axis = ctx.node().attr_int("axis", -1);
  if (axis < 0) axis += x.rank();
  const Shape norm(x.shape().begin() + axis, x.shape().end());
  const int64_t d = shape_numel(norm);
  const int64_t rows = d == 0 ? 0 : x.numel() / d;
  const std::vector<int64_t> norm_strides = contiguous_strides(norm);
  const std::vector<int64_t> scale_strides = broadcast_strides(ctx.input(1).shape(), norm);
  const bool has_bias = ctx.has_input(2);
  const std::vector<int64_t> bias_strides = has_bias ? broadcast_strides(ctx.input(2).shape(), norm)
                                                     : std::vector<int64_t>(norm.size(), 0);
  const bool dense = ctx.input(1).numel() == d && (!has_bias || ctx.input(2).numel() == d);
  bool ok = dispatch_dtype(FloatTypes{}, x.dtype(), [&]<class T>() {
    const T* xd = x.data<T>();
    const T* scale = ctx.input(1).data<T>();
    const T* bias = has_bias ? ctx.input(2).data<T>() : nullptr;
    T* yd = ctx.output(0).data<T>();
    T* mean_out = ctx.has_output(1) ? ctx.output(1).data<T>() : nullptr;
    T* inv_out = ctx.has_output(2) ? ctx.output(2).data<T>() : nullptr;
    parallel_over(ctx.pool(), rows, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const T* xp = xd + r * d;
        T* yp = yd + r * d;
        double sum = 0;
        for (int64_t i = 0; i < d; ++i) sum += xp[i];
        const double mean = sum / static_cast<double>(d);
        double sq = 0;
        for (int64_t i = 0; i < d; ++i) sq += (xp[i] - mean) * (xp[i] - mean);
        const double inv = 1.0 / std::sqrt(sq / static_cast<double>(d) + eps);
        for (int64_t i = 0; i < d; ++i) {
          int64_t si = i, bi = i;
          if (!dense) {
            si = bi = 0;
            int64_t rem = i;
            for (size_t k = 0; k < norm.size(); ++k) {
              const int64_t idx = rem / norm_strides[k];
              rem %= norm_strides[k];
              si += idx * scale_strides[k];
              bi += idx * bias_strides[k];
            }
          }
          const double v =
              (xp[i] - mean) * inv * scale[si] + (bias ? static_cast<double>(bias[bi]) : 0.0);
          yp[i] = static_cast<T>(v);
        }
        if (mean_out) mean_out[r] = static_cast<T>(mean);
        if (inv_out) inv_out[r] = static_cast<T>(inv);
      }
    });
  });
  return ok ? Status() : bad_dtype(ctx);
}

}  // namespace fungen
