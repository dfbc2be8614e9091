// pool_resize.cuh — MaxPool (2-D, no dilation, floor mode) and nearest Resize by integer factors
// (y_ld: NHWC only, elements between output pixels when y is a slice of a Concat; 0 = packed)
// on 4-D activations in NCHW or NHWC.
#pragma once

#include <cuda_runtime.h>

#include "backends/cuda/elem.h"

namespace fungen::cuda {

struct Image4d {
  int64_t n = 0, c = 0, h = 0, w = 0;
};

struct MaxPoolDesc {
  Image4d in, out;
  int kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0;
  bool nhwc = false;
  int64_t y_ld = 0;  // NHWC only: elements between output pixels of y (a Concat slice); 0 packed
};
// y2 (or null, NHWC only): the output written a second time, pixels y2_ld elements apart (dual
// store: y packed, y2 its slice of a Concat output).
void launch_maxpool(Elem e, const void* x, void* y, const MaxPoolDesc& d, cudaStream_t stream,
                    void* y2 = nullptr, int64_t y2_ld = 0);

// out.h = in.h * k for an integer k (likewise w): y[.., oh, ow] = x[.., oh * in.h / out.h, ..].
void launch_resize_nearest(Elem e, const void* x, void* y, const Image4d& in, const Image4d& out,
                           bool nhwc, cudaStream_t stream, int64_t y_ld = 0);

}  // namespace fungen::cuda
