#include "backends/cuda/common.cuh"
#include "backends/cuda/unary.cuh"

namespace fungen::cuda {
namespace {

template <class T>
__global__ void sigmoid_kernel(const T* x, T* y, int64_t n) {
  FUNGEN_GRID_STRIDE(i, n) {
    store(y, i, 1.0f / (1.0f + __expf(-load(x, i))));
  }
}

// 16 bytes per thread (8 halves / 4 floats); n16 = n / (16 / sizeof(T)).
template <class T>
__global__ void sigmoid_vec_kernel(const uint4* x, uint4* y, int64_t n16) {
  constexpr int kN = 16 / sizeof(T);
  FUNGEN_GRID_STRIDE(i, n16) {
    uint4 u = x[i];
    T* v = reinterpret_cast<T*>(&u);
    for (int k = 0; k < kN; ++k) store(v, k, 1.0f / (1.0f + __expf(-load(v, k))));
    y[i] = u;
  }
}

bool aligned16(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

}  // namespace

void launch_unary(UnaryOp op, Elem e, const void* x, void* y, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  const int64_t unit = 16 / static_cast<int64_t>(elem_size(e));
  if (n % unit == 0 && aligned16(x) && aligned16(y)) {
    const auto* xv = static_cast<const uint4*>(x);
    auto* yv = static_cast<uint4*>(y);
    if (e == Elem::kF16)
      sigmoid_vec_kernel<__half><<<blocks_for(n / unit), kThreads, 0, stream>>>(xv, yv, n / unit);
    else
      sigmoid_vec_kernel<float><<<blocks_for(n / unit), kThreads, 0, stream>>>(xv, yv, n / unit);
    return;
  }
  if (e == Elem::kF16) {
    sigmoid_kernel<<<blocks_for(n), kThreads, 0, stream>>>(static_cast<const __half*>(x),
                                                           static_cast<__half*>(y), n);
  } else {
    sigmoid_kernel<<<blocks_for(n), kThreads, 0, stream>>>(static_cast<const float*>(x),
                                                           static_cast<float*>(y), n);
  }
}

}  // namespace fungen::cuda
