// nn_reduce.h — resolves the reduced axes of a Reduce* node, shared by its shape function and
// its reference kernel. Axes come from the `axes` attribute before opset 13 (ReduceSum) / 18
// (the other Reduce ops) and from the optional constant input 1 from then on.
#pragma once

#include <cstdint>
#include <vector>

#include "fungen/status.h"
#include "fungen/tensor.h"
#include "graph/graph.h"

namespace fungen {

struct ReduceAxes {
  std::vector<bool> reduced;  // per input dim
  bool noop = false;          // empty axes with noop_with_empty_axes=1: output = input
  bool keepdims = true;
};

// True when this op at this opset takes its axes from input 1 instead of the attribute.
bool reduce_axes_from_input(const Node& node, int64_t opset);

// `axes_input` is input 1 (nullptr when omitted). Errors carry no node prefix.
Status resolve_reduce_axes(const Node& node, int64_t opset, int rank, const Tensor* axes_input,
                           ReduceAxes* out);

// Output shape for `in` reduced by `axes`.
Shape reduced_shape(const Shape& in, const ReduceAxes& axes);

}  // namespace fungen
