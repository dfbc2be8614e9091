#include "backends/cuda/binary.cuh"
#include "backends/cuda/common.cuh"

namespace fungen::cuda {
namespace {

template <BinaryOp kOp>
__device__ __forceinline__ float apply(float a, float b) {
  if constexpr (kOp == BinaryOp::kAdd) return a + b;
  if constexpr (kOp == BinaryOp::kSub) return a - b;
  if constexpr (kOp == BinaryOp::kMul) return a * b;
  return a / b;
}

template <BinaryOp kOp, class T>
__global__ void flat_kernel(const T* a, const T* b, T* y, int64_t n) {
  FUNGEN_GRID_STRIDE(i, n) {
    store(y, i, apply<kOp>(load(a, i), load(b, i)));
  }
}

template <BinaryOp kOp, class T>
__global__ void broadcast_kernel(const T* a, const T* b, T* y, BroadcastDesc d, int64_t n) {
  FUNGEN_GRID_STRIDE(i, n) {
    int64_t rest = i, ia = 0, ib = 0;
    for (int k = d.rank - 1; k >= 0; --k) {
      int64_t idx = rest % d.dims[k];
      rest /= d.dims[k];
      ia += idx * d.a_strides[k];
      ib += idx * d.b_strides[k];
    }
    store(y, i, apply<kOp>(load(a, ia), load(b, ib)));
  }
}

template <class T>
void dispatch(BinaryOp op, const T* a, const T* b, T* y, int64_t n, const BroadcastDesc* d,
              cudaStream_t s) {
  unsigned g = blocks_for(n);
#define FUNGEN_BINARY_CASE(K)                                        \
  case K:                                                            \
    if (d)                                                           \
      broadcast_kernel<K, T><<<g, kThreads, 0, s>>>(a, b, y, *d, n); \
    else                                                             \
      flat_kernel<K, T><<<g, kThreads, 0, s>>>(a, b, y, n);          \
    break;
  switch (op) {
    FUNGEN_BINARY_CASE(BinaryOp::kAdd)
    FUNGEN_BINARY_CASE(BinaryOp::kSub)
    FUNGEN_BINARY_CASE(BinaryOp::kMul)
    FUNGEN_BINARY_CASE(BinaryOp::kDiv)
  }
#undef FUNGEN_BINARY_CASE
}

int64_t numel(const BroadcastDesc& d) {
  int64_t n = 1;
  for (int k = 0; k < d.rank; ++k) n *= d.dims[k];
  return n;
}

}  // namespace

void launch_binary_flat(BinaryOp op, Elem e, const void* a, const void* b, void* y, int64_t n,
                        cudaStream_t stream) {
  if (n == 0) return;
  if (e == Elem::kF16) {
    dispatch(op, static_cast<const __half*>(a), static_cast<const __half*>(b),
             static_cast<__half*>(y), n, nullptr, stream);
  } else {
    dispatch(op, static_cast<const float*>(a), static_cast<const float*>(b), static_cast<float*>(y),
             n, nullptr, stream);
  }
}

void launch_binary_broadcast(BinaryOp op, Elem e, const void* a, const void* b, void* y,
                             const BroadcastDesc& desc, cudaStream_t stream) {
  int64_t n = numel(desc);
  if (n == 0) return;
  if (e == Elem::kF16) {
    dispatch(op, static_cast<const __half*>(a), static_cast<const __half*>(b),
             static_cast<__half*>(y), n, &desc, stream);
  } else {
    dispatch(op, static_cast<const float*>(a), static_cast<const float*>(b), static_cast<float*>(y),
             n, &desc, stream);
  }
}

}  // namespace fungen::cuda
