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

template <class T>
__global__ void maxpool_kernel(const T* src, T* dst, MaxPoolDesc d, int64_t total) {
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
    store(dst, i, m);
  }
}

template <class T>
__global__ void resize_kernel(const T* src, T* dst, Image4d in, Image4d out, bool nhwc,
                              int64_t total) {
  FUNGEN_GRID_STRIDE(i, total) {
    int64_t n, c, oy, ox;
    decompose(i, out, nhwc, n, c, oy, ox);
    store(dst, i, load(src, offset(in, nhwc, n, c, oy * in.h / out.h, ox * in.w / out.w)));
  }
}

}  // namespace

void launch_maxpool(Elem e, const void* x, void* y, const MaxPoolDesc& d, cudaStream_t stream) {
  int64_t total = d.out.n * d.out.c * d.out.h * d.out.w;
  if (total == 0) return;
  if (e == Elem::kF16) {
    maxpool_kernel<<<blocks_for(total), kThreads, 0, stream>>>(static_cast<const __half*>(x),
                                                               static_cast<__half*>(y), d, total);
  } else {
    maxpool_kernel<<<blocks_for(total), kThreads, 0, stream>>>(static_cast<const float*>(x),
                                                               static_cast<float*>(y), d, total);
  }
}

void launch_resize_nearest(Elem e, const void* x, void* y, const Image4d& in, const Image4d& out,
                           bool nhwc, cudaStream_t stream) {
  int64_t total = out.n * out.c * out.h * out.w;
  if (total == 0) return;
  if (e == Elem::kF16) {
    resize_kernel<<<blocks_for(total), kThreads, 0, stream>>>(
        static_cast<const __half*>(x), static_cast<__half*>(y), in, out, nhwc, total);
  } else {
    resize_kernel<<<blocks_for(total), kThreads, 0, stream>>>(
        static_cast<const float*>(x), static_cast<float*>(y), in, out, nhwc, total);
  }
}

}  // namespace fungen::cuda
