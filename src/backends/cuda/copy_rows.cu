#include "backends/cuda/common.cuh"
#include "backends/cuda/copy_rows.cuh"

namespace fungen::cuda {
namespace {

// Element type by size only: a copy needs no arithmetic. U is 2 or 4 bytes wide.
template <class U>
__global__ void copy_rows_kernel(const U* src, int64_t src_ld, U* dst, int64_t dst_ld, int64_t rows,
                                 int64_t cols) {
  int64_t n = rows * cols;
  FUNGEN_GRID_STRIDE(i, n) {
    int64_t r = i / cols, c = i - r * cols;
    dst[r * dst_ld + c] = src[r * src_ld + c];
  }
}

}  // namespace

void launch_copy_rows(Elem e, const void* src, int64_t src_ld, void* dst, int64_t dst_ld,
                      int64_t rows, int64_t cols, cudaStream_t stream) {
  int64_t n = rows * cols;
  if (n == 0) return;
  if (e == Elem::kF16) {
    copy_rows_kernel<<<blocks_for(n), kThreads, 0, stream>>>(
        static_cast<const uint16_t*>(src), src_ld, static_cast<uint16_t*>(dst), dst_ld, rows, cols);
  } else {
    copy_rows_kernel<<<blocks_for(n), kThreads, 0, stream>>>(
        static_cast<const uint32_t*>(src), src_ld, static_cast<uint32_t*>(dst), dst_ld, rows, cols);
  }
}

}  // namespace fungen::cuda
