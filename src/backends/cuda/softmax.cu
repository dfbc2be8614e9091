#include <cfloat>

#include "backends/cuda/common.cuh"
#include "backends/cuda/softmax.cuh"

namespace fungen::cuda {
namespace {

// One thread per (outer, inner) line: three passes over `len` elements (max, sum, write).
// Adequate for YOLO's DFL (len 16) and attention rows (len <= a few hundred); a warp-per-row
// version is the next step for long rows.
template <class T>
__global__ void softmax_kernel(const T* x, T* y, int64_t outer, int64_t len, int64_t inner) {
  int64_t lines = outer * inner;
  FUNGEN_GRID_STRIDE(l, lines) {
    int64_t o = l / inner, in = l - o * inner;
    int64_t base = o * len * inner + in;
    float m = -FLT_MAX;
    for (int64_t k = 0; k < len; ++k) m = fmaxf(m, load(x, base + k * inner));
    float sum = 0.0f;
    for (int64_t k = 0; k < len; ++k) sum += __expf(load(x, base + k * inner) - m);
    float inv = 1.0f / sum;
    for (int64_t k = 0; k < len; ++k) {
      store(y, base + k * inner, __expf(load(x, base + k * inner) - m) * inv);
    }
  }
}

}  // namespace

void launch_softmax(Elem e, const void* x, void* y, int64_t outer, int64_t len, int64_t inner,
                    cudaStream_t stream) {
  int64_t lines = outer * inner;
  if (lines == 0 || len == 0) return;
  if (e == Elem::kF16) {
    softmax_kernel<<<blocks_for(lines), kThreads, 0, stream>>>(
        static_cast<const __half*>(x), static_cast<__half*>(y), outer, len, inner);
  } else {
    softmax_kernel<<<blocks_for(lines), kThreads, 0, stream>>>(
        static_cast<const float*>(x), static_cast<float*>(y), outer, len, inner);
  }
}

}  // namespace fungen::cuda
