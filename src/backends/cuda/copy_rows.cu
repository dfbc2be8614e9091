#include "backends/cuda/common.cuh"
#include "backends/cuda/copy_rows.cuh"

namespace fungen::cuda {
namespace {

// U is the copy unit: the element (2 or 4 bytes) or 16 bytes (uint4) when rows, strides and
// pointers allow; I the index type (int32 when every offset fits).
template <class U, class I>
__global__ void copy_rows_kernel(const U* __restrict__ src, I src_ld, U* __restrict__ dst, I dst_ld,
                                 I rows, I cols) {
  const I n = rows * cols;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<I>(gridDim.x) * blockDim.x) {
    const I r = i / cols, c = i - r * cols;
    dst[r * dst_ld + c] = src[r * src_ld + c];
  }
}

template <class U>
void launch(const void* src, int64_t src_ld, void* dst, int64_t dst_ld, int64_t rows, int64_t cols,
            cudaStream_t s) {
  const int64_t n = rows * cols;
  const bool small = rows * std::max({src_ld, dst_ld, cols}) < 0x7fffffff;
  if (small) {
    copy_rows_kernel<U, int32_t><<<blocks_for(n), kThreads, 0, s>>>(
        static_cast<const U*>(src), static_cast<int32_t>(src_ld), static_cast<U*>(dst),
        static_cast<int32_t>(dst_ld), static_cast<int32_t>(rows), static_cast<int32_t>(cols));
  } else {
    copy_rows_kernel<U, int64_t><<<blocks_for(n), kThreads, 0, s>>>(
        static_cast<const U*>(src), src_ld, static_cast<U*>(dst), dst_ld, rows, cols);
  }
}

bool aligned16(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

}  // namespace

void launch_copy_rows(Elem e, const void* src, int64_t src_ld, void* dst, int64_t dst_ld,
                      int64_t rows, int64_t cols, cudaStream_t stream) {
  if (rows * cols == 0) return;
  const int64_t unit = 16 / static_cast<int64_t>(elem_size(e));  // elements per 16 bytes
  if (cols % unit == 0 && src_ld % unit == 0 && dst_ld % unit == 0 && aligned16(src) &&
      aligned16(dst)) {
    launch<uint4>(src, src_ld / unit, dst, dst_ld / unit, rows, cols / unit, stream);
  } else if (e == Elem::kF16) {
    launch<uint16_t>(src, src_ld, dst, dst_ld, rows, cols, stream);
  } else {
    launch<uint32_t>(src, src_ld, dst, dst_ld, rows, cols, stream);
  }
}

}  // namespace fungen::cuda
