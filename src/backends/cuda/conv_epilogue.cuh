// conv_epilogue.cuh — what FusedConv adds after cuDNN's convolution, in one pass over its output
// y: out = act(y + bias[c]) + z, act = identity or SiLU, bias fp32 (or null), z the residual (or
// null) in y's type and layout.
//  - launch_conv_epilogue: in place (out = y), any layout; the channel of element i is
//    (i / inner) % channels: inner = H*W for NCHW, 1 for NHWC.
//  - launch_conv_epilogue_rows: NHWC, y and z packed rows of `channels`, out row r at
//    out + r * out_ld (out may be y itself with out_ld = channels, or a channel slice of a concat
//    output). 16-byte vectors when channels, out_ld and the pointers allow, 32-bit index math.
//    out2 (or null): the same rows written a second time at out2 + r * out2_ld (dual store: the
//    value's own buffer and its slice of a Concat output, CudaRun::dual_placement).
//    img_rows > 0: out holds images of img_rows rows out_img_ld elements apart (row r of y at
//    out + (r / img_rows) * out_img_ld + (r % img_rows) * out_ld: the anchor-major head input,
//    head_rows.h); out2 stays packed.
#pragma once

#include <cuda_runtime.h>

#include "backends/cuda/elem.h"

namespace fungen::cuda {

void launch_conv_epilogue(Elem e, void* y, const float* bias, const void* z, int64_t n,
                          int64_t channels, int64_t inner, bool silu, cudaStream_t stream);

void launch_conv_epilogue_rows(Elem e, const void* y, void* out, int64_t out_ld, const float* bias,
                               const void* z, int64_t rows, int64_t channels, bool silu,
                               cudaStream_t stream, void* out2 = nullptr, int64_t out2_ld = 0,
                               int64_t img_rows = 0, int64_t out_img_ld = 0);

// NHWC y (packed, [n][hw][channels]) -> NCHW out ([n][channels][hw]) with bias and SiLU on the
// way, through a shared-memory tile: the conv epilogue and the layout change in one pass, for
// convolutions read only in the plain layout (YOLO's head before its Reshape). Channel c of
// image b goes to out + b * batch_ld + c * ch_ld (0, 0: packed, ch_ld = hw, batch_ld =
// channels * hw; larger: a piece of a Concat on the last axis, CudaRun::placement_nchw).
void launch_conv_epilogue_to_nchw(Elem e, const void* y, void* out, const float* bias, int64_t n,
                                  int64_t channels, int64_t hw, bool silu, cudaStream_t stream,
                                  int64_t ch_ld = 0, int64_t batch_ld = 0);

}  // namespace fungen::cuda
