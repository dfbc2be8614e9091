// nn_window.h — geometry of sliding-window ops (Conv, ConvTranspose, MaxPool, AveragePool):
// kernel, strides, dilations and begin/end pads per spatial dim, resolved from the attributes
// (auto_pad, pads, ceil_mode, output_shape) and the input's spatial size. Shape functions and
// reference kernels both call these, so they agree on the output size and the padding.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "fungen/status.h"
#include "fungen/tensor.h"
#include "graph/graph.h"

namespace fungen {

struct WindowGeometry {
  std::vector<int64_t> in, out, kernel, strides, dilations, pads_begin, pads_end;
  int rank() const { return static_cast<int>(in.size()); }
};

struct WindowOptions {
  bool ceil_mode_allowed = false;  // pooling: honour ceil_mode
  bool dilations_allowed = true;   // AveragePool before opset 19 has no dilations
};

// Resolves the geometry of a forward window op over `in_spatial` with kernel `kernel`.
// Errors (bad attribute values, a window larger than the padded input) carry no node prefix;
// the caller adds it.
Status compute_window(const Node& node, const Shape& in_spatial, const std::vector<int64_t>& kernel,
                      const WindowOptions& options, WindowGeometry* g);

// Same for ConvTranspose: out = stride*(in-1) + output_padding + (k-1)*dil + 1 - pads, or the
// output_shape attribute with pads derived from it.
Status compute_transpose_window(const Node& node, const Shape& in_spatial,
                                const std::vector<int64_t>& kernel, WindowGeometry* g);

// Kernel-side view of up to 3 spatial dims as exactly 3 (leading dims of size 1, stride 1).
struct Window3 {
  std::array<int64_t, 3> in, out, kernel, strides, dilations, pads;  // pads: begin pads
};
Window3 to_window3(const WindowGeometry& g);

// [lo, hi) of output positions o in [0, out) whose input position o*stride + offset lies in
// [0, in). For a forward window offset = k*dilation - pad_begin.
inline std::pair<int64_t, int64_t> valid_output_range(int64_t out, int64_t stride, int64_t offset,
                                                      int64_t in) {
  int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  int64_t hi = in - offset <= 0 ? 0 : (in - offset + stride - 1) / stride;
  if (hi > out) hi = out;
  if (lo > hi) lo = hi;
  return {lo, hi};
}

}  // namespace fungen
