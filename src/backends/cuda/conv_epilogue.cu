#include "backends/cuda/common.cuh"
#include "backends/cuda/conv_epilogue.cuh"

namespace fungen::cuda {
namespace {

template <class T, bool kSilu>
__global__ void epilogue_kernel(T* y, const float* bias, const T* z, int64_t n, int64_t channels,
                                int64_t inner) {
  FUNGEN_GRID_STRIDE(i, n) {
    float v = load(y, i);
    if (bias) v += bias[(i / inner) % channels];
    if constexpr (kSilu) v = v / (1.0f + __expf(-v));
    if (z) v += load(z, i);
    store(y, i, v);
  }
}

template <class T>
void dispatch(T* y, const float* bias, const T* z, int64_t n, int64_t c, int64_t inner, bool silu,
              cudaStream_t s) {
  if (silu)
    epilogue_kernel<T, true><<<blocks_for(n), kThreads, 0, s>>>(y, bias, z, n, c, inner);
  else
    epilogue_kernel<T, false><<<blocks_for(n), kThreads, 0, s>>>(y, bias, z, n, c, inner);
}

}  // namespace

void launch_conv_epilogue(Elem e, void* y, const float* bias, const void* z, int64_t n,
                          int64_t channels, int64_t inner, bool silu, cudaStream_t stream) {
  if (n == 0) return;
  if (e == Elem::kF16) {
    dispatch(static_cast<__half*>(y), bias, static_cast<const __half*>(z), n, channels, inner, silu,
             stream);
  } else {
    dispatch(static_cast<float*>(y), bias, static_cast<const float*>(z), n, channels, inner, silu,
             stream);
  }
}

}  // namespace fungen::cuda
