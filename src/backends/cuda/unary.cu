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

}  // namespace

void launch_unary(UnaryOp op, Elem e, const void* x, void* y, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  if (e == Elem::kF16) {
    sigmoid_kernel<<<blocks_for(n), kThreads, 0, stream>>>(static_cast<const __half*>(x),
                                                           static_cast<__half*>(y), n);
  } else {
    sigmoid_kernel<<<blocks_for(n), kThreads, 0, stream>>>(static_cast<const float*>(x),
                                                           static_cast<float*>(y), n);
  }
}

}  // namespace fungen::cuda
