// detect_head.cuh — YOLO's Detect head tail in one pass (lower_head.cpp, head_match.h): per
// image b and anchor a,
//   d[j]        = sum_i softmax_i(box_x[b][j][i][a]) * w[i] + bias            (DFL, j = 0..3)
//   y[b][k][a]  = s[a] * sum_j m0[k][j] * d[j] + c[k][a]                     (box, k = 0..3)
//   y[b][4+c][a] = sigmoid(cls_x[b][c][a])                                    (scores)
// box_x [B, 4, bins, A] and cls_x [B, nc, A] plain in the run's element type; the anchor table
// fp32 [5][A] (s, then c[0..3]); y [B, 4 + nc, A] in fp32 (the run's output staging) or in the
// run's element type. launch_detect_head_rows: the same from the anchor-major input (head_rows.h).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "backends/cuda/elem.h"

namespace fungen::cuda {

inline constexpr int kHeadMaxBins = 32;

struct HeadKernelDesc {
  int64_t batch = 0;
  int anchors = 0, classes = 0, bins = 0;
  float w[kHeadMaxBins] = {};
  float bias = 0.0f;
  float m0[16] = {};
  // Anchor-major input (launch_detect_head_rows only): elements per anchor row, first class column.
  int ld = 0, cls_offset = 0;
};

// `out_f32`: y is fp32 whatever the element type `e` of the inputs. Returns cudaGetLastError()
// after the launch (cudaErrorInvalidValue for sizes it does not take).
cudaError_t launch_detect_head(Elem e, bool out_f32, const void* box_x, const void* cls_x,
                               const float* table, void* y, const HeadKernelDesc& d,
                               cudaStream_t stream);

// The same head reading the anchor-major input x [B, A, ld] (head_rows.h, detect_head_rows.cuh):
// box logits of anchor a at columns [0, 4 * bins), class logits at [cls_offset, cls_offset + nc);
// d.ld a multiple of 8, x 16-byte aligned. cudaErrorInvalidValue for what it does not take
// (head_rows_supported).
cudaError_t launch_detect_head_rows(Elem e, bool out_f32, const void* x, const float* table,
                                    void* y, const HeadKernelDesc& d, cudaStream_t stream);
// Whether launch_detect_head_rows takes these sizes (the block's shared rows fit in 48 KiB).
bool head_rows_supported(Elem e, const HeadKernelDesc& d);

}  // namespace fungen::cuda
