// copy_rows.cuh — copies `rows` rows of `cols` elements between strided 2-D views: Concat writes
// each input into its slice of the output, Split and Slice read slices. For a plain tensor cut
// on axis a: rows = prod(dims before a), cols = length on a * prod(dims after a); for NHWC cut on
// channels: rows = N*H*W, cols = channels of the piece.
#pragma once

#include <cuda_runtime.h>

#include "backends/cuda/elem.h"

namespace fungen::cuda {

void launch_copy_rows(Elem e, const void* src, int64_t src_ld, void* dst, int64_t dst_ld,
                      int64_t rows, int64_t cols, cudaStream_t stream);

}  // namespace fungen::cuda
