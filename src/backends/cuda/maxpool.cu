#include <cfloat>

#include "backends/cuda/common.cuh"
#include "backends/cuda/pool_resize.cuh"

namespace fungen::cuda {
namespace {

// Output element i -> (n, c, oh, ow) in the tensor's layout.
__device__ __forceinline__ void decompose(int64_t i, const Image4d& o, bool nhwc, int64_t& n,
                                          int64_t& c, int64_t& y, int64_t& x) {
  if (nhwc) {
    c = i % o.c;
    i /= o.c;
    x = i % o.w;
    i /= o.w;
    y = i % o.h;
    n = i / o.h;
  } else {
    x = i % o.w;
    i /= o.w;
    y = i % o.h;
    i /= o.h;
    c = i % o.c;
    n = i / o.c;
  }
}

__device__ __forceinline__ int64_t offset(const Image4d& t, bool nhwc, int64_t n, int64_t c,
                                          int64_t y, int64_t x) {
  return nhwc ? ((n * t.h + y) * t.w + x) * t.c + c : ((n * t.c + c) * t.h + y) * t.w + x;
}

// NHWC with y_ld / y2: the output pixel's row at pixel * ld.
template <class T>
__global__ void maxpool_kernel(const T* src, T* dst, MaxPoolDesc d, int64_t total, T* dst2,
                               int64_t ld2) {
  FUNGEN_GRID_STRIDE(i, total) {
    int64_t n, c, oy, ox;
    decompose(i, d.out, d.nhwc, n, c, oy, ox);
    float m = -FLT_MAX;
    for (int ky = 0; ky < d.kh; ++ky) {
      int64_t iy = oy * d.sh - d.ph + ky;
      if (iy < 0 || iy >= d.in.h) continue;
      for (int kx = 0; kx < d.kw; ++kx) {
        int64_t ix = ox * d.sw - d.pw + kx;
        if (ix < 0 || ix >= d.in.w) continue;
        m = fmaxf(m, load(src, offset(d.in, d.nhwc, n, c, iy, ix)));
      }
    }
    const int64_t pixel = (n * d.out.h + oy) * d.out.w + ox;
    store(dst, d.nhwc && d.y_ld ? pixel * d.y_ld + c : i, m);
    if (dst2) store(dst2, pixel * ld2 + c, m);
  }
}

// y_ld (NHWC only): elements between output pixels, 0 when packed.
template <class T>
__global__ void resize_kernel(const T* src, T* dst, Image4d in, Image4d out, bool nhwc,
                              int64_t total, int64_t y_ld) {
  FUNGEN_GRID_STRIDE(i, total) {
    int64_t n, c, oy, ox;
    decompose(i, out, nhwc, n, c, oy, ox);
    const int64_t to = y_ld ? ((n * out.h + oy) * out.w + ox) * y_ld + c : i;
    store(dst, to, load(src, offset(in, nhwc, n, c, oy * in.h / out.h, ox * in.w / out.w)));
  }
}

// NHWC with channels in 16-byte vectors (8 halves / 4 floats): one thread per output pixel and
// vector (the index math once per 8 or 4 channels); T the element type.
// ld, ld2: output rows in 16-byte vectors (dst2 null: no second output).
template <class T>
__global__ void maxpool_nhwc_vec(const uint4* src, uint4* dst, MaxPoolDesc d, int64_t total,
                                 int64_t ld, uint4* dst2, int64_t ld2) {
  constexpr int kN = 16 / sizeof(T);
  const int64_t cv = d.out.c / kN;
  FUNGEN_GRID_STRIDE(i, total) {
    const int64_t p = i / cv, c = i - p * cv;
    const int64_t ox = p % d.out.w, t = p / d.out.w, oy = t % d.out.h, n = t / d.out.h;
    float m[kN];
    for (int k = 0; k < kN; ++k) m[k] = -FLT_MAX;
    for (int ky = 0; ky < d.kh; ++ky) {
      const int64_t iy = oy * d.sh - d.ph + ky;
      if (iy < 0 || iy >= d.in.h) continue;
      for (int kx = 0; kx < d.kw; ++kx) {
        const int64_t ix = ox * d.sw - d.pw + kx;
        if (ix < 0 || ix >= d.in.w) continue;
        uint4 u = src[((n * d.in.h + iy) * d.in.w + ix) * cv + c];
        const T* v = reinterpret_cast<const T*>(&u);
        for (int k = 0; k < kN; ++k) m[k] = fmaxf(m[k], load(v, k));
      }
    }
    uint4 o;
    T* ov = reinterpret_cast<T*>(&o);
    for (int k = 0; k < kN; ++k) store(ov, k, m[k]);
    dst[p * ld + c] = o;
    if (dst2) dst2[p * ld2 + c] = o;
  }
}

// Nearest resize by integer factors, NHWC, 16-byte vectors: a gather of whole vectors.
__global__ void resize_nhwc_vec(const uint4* src, uint4* dst, Image4d in, Image4d out, int64_t cv,
                                int64_t dst_ld, int64_t total) {
  FUNGEN_GRID_STRIDE(i, total) {
    const int64_t p = i / cv, c = i - p * cv;
    const int64_t ox = p % out.w, t = p / out.w, oy = t % out.h, n = t / out.h;
    const int64_t iy = oy * in.h / out.h, ix = ox * in.w / out.w;
    dst[p * dst_ld + c] = src[((n * in.h + iy) * in.w + ix) * cv + c];
  }
}

bool aligned16(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

}  // namespace

void launch_maxpool(Elem e, const void* x, void* y, const MaxPoolDesc& d, cudaStream_t stream,
                    void* y2, int64_t y2_ld) {
  int64_t total = d.out.n * d.out.c * d.out.h * d.out.w;
  if (total == 0) return;
  MaxPoolDesc dd = d;
  if (!dd.nhwc) {  // slices are NHWC only
    dd.y_ld = 0;
    y2 = nullptr;
  }
  if (!y2) y2_ld = 0;
  const int64_t unit = 16 / static_cast<int64_t>(elem_size(e));
  const int64_t ld = dd.y_ld ? dd.y_ld : dd.out.c;
  if (dd.nhwc && dd.out.c % unit == 0 && ld % unit == 0 && aligned16(x) && aligned16(y) &&
      (!y2 || (y2_ld % unit == 0 && aligned16(y2)))) {
    const auto* xs = static_cast<const uint4*>(x);
    auto* ys = static_cast<uint4*>(y);
    auto* y2s = static_cast<uint4*>(y2);
    const int64_t n = total / unit;
    if (e == Elem::kF16)
      maxpool_nhwc_vec<__half>
          <<<blocks_for(n), kThreads, 0, stream>>>(xs, ys, dd, n, ld / unit, y2s, y2_ld / unit);
    else
      maxpool_nhwc_vec<float>
          <<<blocks_for(n), kThreads, 0, stream>>>(xs, ys, dd, n, ld / unit, y2s, y2_ld / unit);
    return;
  }
  if (e == Elem::kF16) {
    maxpool_kernel<<<blocks_for(total), kThreads, 0, stream>>>(static_cast<const __half*>(x),
                                                               static_cast<__half*>(y), dd, total,
                                                               static_cast<__half*>(y2), y2_ld);
  } else {
    maxpool_kernel<<<blocks_for(total), kThreads, 0, stream>>>(static_cast<const float*>(x),
                                                               static_cast<float*>(y), dd, total,
                                                               static_cast<float*>(y2), y2_ld);
  }
}

void launch_resize_nearest(Elem e, const void* x, void* y, const Image4d& in, const Image4d& out,
                           bool nhwc, cudaStream_t stream, int64_t y_ld) {
  int64_t total = out.n * out.c * out.h * out.w;
  if (total == 0) return;
  if (!nhwc) y_ld = 0;
  const int64_t unit = 16 / static_cast<int64_t>(elem_size(e));
  const int64_t ld = y_ld ? y_ld : out.c;
  if (nhwc && out.c % unit == 0 && ld % unit == 0 && aligned16(x) && aligned16(y)) {
    resize_nhwc_vec<<<blocks_for(total / unit), kThreads, 0, stream>>>(
        static_cast<const uint4*>(x), static_cast<uint4*>(y), in, out, out.c / unit, ld / unit,
        total / unit);
    return;
  }
  if (e == Elem::kF16) {
    resize_kernel<<<blocks_for(total), kThreads, 0, stream>>>(
        static_cast<const __half*>(x), static_cast<__half*>(y), in, out, nhwc, total, y_ld);
  } else {
    resize_kernel<<<blocks_for(total), kThreads, 0, stream>>>(
        static_cast<const float*>(x), static_cast<float*>(y), in, out, nhwc, total, y_ld);
  }
}

}  // namespace fungen::cuda
