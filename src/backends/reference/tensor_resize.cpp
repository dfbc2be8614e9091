// Reference kernels of Resize and Upsample (shape functions: ops/tensor_resize.cpp).
//
// Per axis, each output coordinate gets its input taps (offsets and weights) once, in scratch;
// then every output element combines its taps. Coordinates are computed in float with ONNX
// Runtime's formulas and the bilinear sum in its order, so float results match it bit for bit.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/op.h"
#include "ops/op_util.h"
#include "ops/tensor_params.h"

namespace fungen {

using tensor_ops::CoordMode;
using tensor_ops::kMaxRank;
using tensor_ops::ResizeMode;
using tensor_ops::ResizeParams;
using tensor_ops::ResizeTap;

namespace {

using Byte = unsigned char;

void cubic_coeffs(float s, float a, float* c) {
  const float s1 = s + 1.0f, s2 = 1.0f - s, s3 = 2.0f - s;
  c[0] = ((a * s1 - 5.0f * a) * s1 + 8.0f * a) * s1 - 4.0f * a;
  c[1] = ((a + 2.0f) * s - (a + 3.0f)) * s * s + 1.0f;
  c[2] = ((a + 2.0f) * s2 - (a + 3.0f)) * s2 * s2 + 1.0f;
  c[3] = ((a * s3 - 5.0f * a) * s3 + 8.0f * a) * s3 - 4.0f * a;
}

// Fills the taps of every output coordinate along `axis`.
void build_taps(const ResizeParams& p, int axis, int64_t stride, ResizeTap* taps) {
  const int64_t n_in = p.in[axis];
  const float last = static_cast<float>(n_in - 1);
  const bool extrapolate = p.coord == CoordMode::kTfCropAndResize;
  for (int64_t o = 0; o < p.out[axis]; ++o) {
    ResizeTap& t = taps[o];
    for (int k = 0; k < 4; ++k) {
      t.off[k] = 0;
      t.w[k] = 0.0f;
    }
    // An axis of scale 1 is not resampled, whatever the mode and coordinate transformation
    // (ONNX Runtime does so, tf_crop_and_resize's roi included).
    float c;
    if (p.scale[axis] == 1.0f)
      c = static_cast<float>(o);
    else
      c = tensor_ops::resize_source_coord(p, axis, static_cast<float>(o));
    if (extrapolate && (c < 0.0f || c > last)) {
      t.off[0] = -1;
      continue;
    }
    switch (p.mode) {
      case ResizeMode::kNearest: {
        const int64_t i =
            std::clamp<int64_t>(tensor_ops::resize_nearest_index(p, axis, c), 0, n_in - 1);
        t.off[0] = i * stride;
        t.w[0] = 1.0f;
        break;
      }
      case ResizeMode::kLinear: {
        c = std::max(0.0f, std::min(c, last));
        const int64_t i1 = std::min(static_cast<int64_t>(c), n_in - 1);
        const int64_t i2 = std::min(i1 + 1, n_in - 1);
        t.off[0] = i1 * stride;
        t.off[1] = i2 * stride;
        t.w[0] = std::fabs(c - static_cast<float>(i2));  // weight of i1: distance to i2
        t.w[1] = std::fabs(c - static_cast<float>(i1));
        if (i1 == i2) t.w[0] = t.w[1] = 0.5f;
        break;
      }
      case ResizeMode::kCubic: {
        const float f = std::floor(c);
        const int64_t base = static_cast<int64_t>(f) - 1;
        cubic_coeffs(c - f, p.cubic_a, t.w);
        float sum = 0.0f;
        for (int k = 0; k < 4; ++k) {
          const int64_t i = base + k;
          if (p.exclude_outside && (i < 0 || i >= n_in)) t.w[k] = 0.0f;
          sum += t.w[k];
          t.off[k] = std::clamp<int64_t>(i, 0, n_in - 1) * stride;
        }
        if (p.exclude_outside && sum != 0.0f)
          for (int k = 0; k < 4; ++k) t.w[k] /= sum;
        break;
      }
    }
  }
}

template <class T>
void resize_nearest(const ResizeParams& p, const ResizeTap* const* tab, const T* src, T* dst,
                    T extra) {
  const int r = p.rank;
  const int last = r - 1;
  int64_t idx[kMaxRank] = {};
  int64_t prev_base = -1;
  do {
    int64_t base = 0;
    bool outside = false;
    for (int d = 0; d < last; ++d) {
      const int64_t o = tab[d][idx[d]].off[0];
      outside = outside || o < 0;
      base += o;
    }
    const ResizeTap* tl = tab[last];
    const int64_t width = p.out[last];
    if (!outside && base == prev_base) {  // same source row as the previous output row
      std::memcpy(dst, dst - width, static_cast<size_t>(width) * sizeof(T));
      dst += width;
    } else {
      for (int64_t j = 0; j < width; ++j) {
        const int64_t o = tl[j].off[0];
        *dst++ = (outside || o < 0) ? extra : src[base + o];
      }
    }
    prev_base = outside ? -1 : base;
  } while ([&] {
    for (int d = last - 1; d >= 0; --d) {
      if (++idx[d] < p.out[d]) return true;
      idx[d] = 0;
    }
    return false;
  }());
}

// Bilinear over the last two axes (the common case), same sum order as the general path.
template <class T>
void resize_bilinear(const ResizeParams& p, const ResizeTap* const* tab, const T* src, T* dst,
                     T extra) {
  const int r = p.rank;
  const int64_t H = p.out[r - 2], W = p.out[r - 1];
  int64_t planes = 1;
  for (int d = 0; d + 2 < r; ++d) planes *= p.out[d];
  const int64_t in_plane = p.in[r - 2] * p.in[r - 1];
  for (int64_t pl = 0; pl < planes; ++pl) {
    const T* s = src + pl * in_plane;
    for (int64_t y = 0; y < H; ++y) {
      const ResizeTap& ty = tab[r - 2][y];
      for (int64_t x = 0; x < W; ++x) {
        const ResizeTap& tx = tab[r - 1][x];
        if (ty.off[0] < 0 || tx.off[0] < 0) {
          *dst++ = extra;
          continue;
        }
        const T* r0 = s + ty.off[0];
        const T* r1 = s + ty.off[1];
        T acc = static_cast<T>(ty.w[0] * tx.w[0]) * r0[tx.off[0]];
        acc = acc + static_cast<T>(ty.w[0] * tx.w[1]) * r0[tx.off[1]];
        acc = acc + static_cast<T>(ty.w[1] * tx.w[0]) * r1[tx.off[0]];
        acc = acc + static_cast<T>(ty.w[1] * tx.w[1]) * r1[tx.off[1]];
        *dst++ = acc;
      }
    }
  }
}

// N-linear: 2^k corners over the k axes that actually resample.
template <class T>
void resize_linear(const ResizeParams& p, const ResizeTap* const* tab, const T* src, T* dst,
                   T extra) {
  const int r = p.rank;
  int active[kMaxRank];
  int k = 0;
  for (int d = 0; d < r; ++d)
    if (p.scale[d] != 1.0f) active[k++] = d;
  if (k == 2 && active[0] == r - 2 && active[1] == r - 1) {
    resize_bilinear<T>(p, tab, src, dst, extra);
    return;
  }
  bool is_active[kMaxRank] = {};
  for (int i = 0; i < k; ++i) is_active[active[i]] = true;
  const int corners = 1 << k;
  int64_t idx[kMaxRank] = {};
  const int64_t total = [&] {
    int64_t n = 1;
    for (int d = 0; d < r; ++d) n *= p.out[d];
    return n;
  }();
  for (int64_t e = 0; e < total; ++e) {
    int64_t base = 0;
    bool outside = false;
    for (int d = 0; d < r; ++d) {
      const ResizeTap& t = tab[d][idx[d]];
      outside = outside || t.off[0] < 0;
      if (!is_active[d]) base += t.off[0];
    }
    T acc = 0;
    if (outside) {
      acc = extra;
    } else {
      for (int c = 0; c < corners; ++c) {
        int64_t off = base;
        float w = 1.0f;
        bool first = true;
        for (int i = 0; i < k; ++i) {
          const int bit = (c >> (k - 1 - i)) & 1;  // last active axis varies fastest
          const ResizeTap& t = tab[active[i]][idx[active[i]]];
          off += t.off[bit];
          w = first ? t.w[bit] : w * t.w[bit];
          first = false;
        }
        const T term = static_cast<T>(w) * src[off];
        acc = c == 0 ? term : acc + term;
      }
    }
    *dst++ = acc;
    for (int d = r - 1; d >= 0; --d) {
      if (++idx[d] < p.out[d]) break;
      idx[d] = 0;
    }
  }
}

// Bicubic over the last two axes (the shape function rejects other resampled axes).
template <class T>
void resize_cubic(const ResizeParams& p, const ResizeTap* const* tab, const T* src, T* dst,
                  T extra) {
  const int r = p.rank;
  const int64_t H = p.out[r - 2], W = p.out[r - 1];
  const int64_t in_plane = p.in[r - 2] * p.in[r - 1];
  int64_t planes = 1;
  for (int d = 0; d + 2 < r; ++d) planes *= p.out[d];
  for (int64_t pl = 0; pl < planes; ++pl) {
    const T* s = src + pl * in_plane;
    for (int64_t y = 0; y < H; ++y) {
      const ResizeTap& ty = tab[r - 2][y];
      for (int64_t x = 0; x < W; ++x) {
        const ResizeTap& tx = tab[r - 1][x];
        if (ty.off[0] < 0 || tx.off[0] < 0) {
          *dst++ = extra;
          continue;
        }
        T acc = 0;
        for (int i = 0; i < 4; ++i) {
          T row = 0;
          for (int j = 0; j < 4; ++j) row += static_cast<T>(tx.w[j]) * s[ty.off[i] + tx.off[j]];
          acc += static_cast<T>(ty.w[i]) * row;
        }
        *dst++ = acc;
      }
    }
  }
}

template <class T>
void run_typed(const ResizeParams& p, const ResizeTap* const* tab, const void* src, void* dst) {
  const T extra = static_cast<T>(p.extrapolation);
  const T* s = static_cast<const T*>(src);
  T* d = static_cast<T*>(dst);
  switch (p.mode) {
    case ResizeMode::kNearest:
      resize_nearest<T>(p, tab, s, d, extra);
      break;
    case ResizeMode::kLinear:
      resize_linear<T>(p, tab, s, d, extra);
      break;
    case ResizeMode::kCubic:
      resize_cubic<T>(p, tab, s, d, extra);
      break;
  }
}

const Tensor* values_or_null(const KernelContext& ctx, size_t i) {
  return ctx.has_input(i) && ctx.input(i).numel() > 0 ? &ctx.input(i) : nullptr;
}

Status resize_kernel(KernelContext& ctx, bool upsample) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  if (y.numel() == 0) return Status();
  const bool resize10 = !upsample && ctx.opset() < 11;
  const bool four_inputs = !upsample && !resize10;
  const Tensor* roi = four_inputs ? values_or_null(ctx, 1) : nullptr;
  const Tensor* scales =
      (upsample && ctx.opset() < 9) ? nullptr : values_or_null(ctx, four_inputs ? 2 : 1);
  const Tensor* sizes = four_inputs ? values_or_null(ctx, 3) : nullptr;
  ResizeParams p;
  Status s = tensor_ops::resolve_resize(ctx.node(), ctx.opset(), upsample, x.shape(), roi, scales,
                                        sizes, &p);
  if (!s.ok()) return tensor_ops::kernel_error(ctx.node(), ctx.opset(), s.code(), s.message());
  int64_t taps = 0;
  for (int d = 0; d < p.rank; ++d) {
    if (p.out[d] != y.dim(d))
      return tensor_ops::kernel_error(ctx.node(), ctx.opset(), StatusCode::kInternal,
                                      "output shape changed since load");
    taps += p.out[d];
  }
  // An output of the input's shape is the input, whatever the scales say (ONNX Runtime).
  if (y.shape() == x.shape()) {
    if (y.raw() != x.raw()) std::memcpy(y.raw(), x.raw(), y.nbytes());
    return Status();
  }
  if (ctx.scratch_bytes() < static_cast<size_t>(taps) * sizeof(ResizeTap))
    return tensor_ops::kernel_error(ctx.node(), ctx.opset(), StatusCode::kInternal,
                                    "scratch too small");
  auto* all = static_cast<ResizeTap*>(ctx.scratch());
  const ResizeTap* tab[kMaxRank];
  int64_t stride = 1;
  int64_t pos = taps;
  for (int d = p.rank - 1; d >= 0; --d) {
    pos -= p.out[d];
    build_taps(p, d, stride, all + pos);
    tab[d] = all + pos;
    stride *= p.in[d];
  }
  if (p.mode == ResizeMode::kNearest) {
    switch (dtype_size(x.dtype())) {
      case 1:
        run_typed<uint8_t>(p, tab, x.raw(), y.raw());
        return Status();
      case 2:
        run_typed<uint16_t>(p, tab, x.raw(), y.raw());
        return Status();
      case 4:
        if (x.dtype() == DType::kFloat32)
          run_typed<float>(p, tab, x.raw(), y.raw());
        else
          run_typed<uint32_t>(p, tab, x.raw(), y.raw());
        return Status();
      case 8:
        if (x.dtype() == DType::kFloat64)
          run_typed<double>(p, tab, x.raw(), y.raw());
        else
          run_typed<uint64_t>(p, tab, x.raw(), y.raw());
        return Status();
      default:
        break;
    }
  } else if (x.dtype() == DType::kFloat32) {
    run_typed<float>(p, tab, x.raw(), y.raw());
    return Status();
  } else if (x.dtype() == DType::kFloat64) {
    run_typed<double>(p, tab, x.raw(), y.raw());
    return Status();
  }
  return tensor_ops::kernel_error(ctx.node(), ctx.opset(), StatusCode::kUnsupported,
                                  "dtype " + dtype_name(x.dtype()));
}

}  // namespace

Status reference_Resize(KernelContext& ctx) {
  return resize_kernel(ctx, false);
}
Status reference_Upsample(KernelContext& ctx) {
  return resize_kernel(ctx, true);
}

}  // namespace fungen
