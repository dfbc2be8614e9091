// YOLO's DFL head as one kernel: Transpose(0,2,1,3) -> Softmax(axis 1, 16 bins) -> 1x1 Conv with
// one output channel (the bin-index expectation) reads the transpose's input once and writes the
// conv's output, instead of a transpose, a softmax and a convolution over 16x the data.
#include <algorithm>
#include <atomic>

#include "backends/cuda/cuda_run.h"
#include "backends/cuda/head_match.h"
#include "backends/cuda/softmax.cuh"

namespace fungen::cuda {
namespace {

std::atomic<int> g_fused{0};

int64_t axis_of(const Node& softmax, int opset, int64_t rank) {
  int64_t axis = softmax.attr_int("axis", opset >= 13 ? -1 : 1);
  return axis < 0 ? axis + rank : axis;
}

// The 1x1, one-output-channel, ungrouped, unpadded, unstrided convolution with constant weights
// [1, len, 1, 1] and no activation or residual that the DFL ends with.
bool is_expectation_conv(const CudaRun& run, const Node& n, int64_t len) {
  if (!is_plain_unit_conv(n)) return false;
  const int w = n.inputs[1];
  if (!run.is_constant(w) || run.constant(w).dtype() != DType::kFloat32) return false;
  if (run.shape(w) != Shape{1, len, 1, 1}) return false;
  if (n.inputs.size() == 3 &&
      (!run.is_constant(n.inputs[2]) || run.constant(n.inputs[2]).numel() != 1 ||
       run.constant(n.inputs[2]).dtype() != DType::kFloat32))
    return false;
  return true;
}

}  // namespace

int dfl_fusions_lowered() {
  return g_fused.load();
}

Result<bool> lower_dfl(CudaRun& run, const Node& transpose) {
  const Graph& g = run.graph();
  const int x = transpose.inputs[0], t = transpose.outputs[0];
  const Shape& xs = run.shape(x);  // [b, sides, len, anchors]
  if (xs.size() != 4) return false;
  const int64_t len = xs[2];
  if (len < 1 || len > kMaxExpectLen) return false;
  // Two export forms: opset >= 13: Transpose(0,2,1,3) -> Softmax(axis 1) -> Conv; opset 12:
  // Transpose(0,3,1,2) -> Softmax(last axis) -> Transpose(0,3,2,1) -> Conv. Both take the softmax
  // over the `len` bins of x's axis 2 and feed the conv [b, len, sides, anchors].
  const std::vector<int64_t> perm = transpose.attr_ints("perm");
  const bool direct = perm == std::vector<int64_t>{0, 2, 1, 3};
  if (!direct && perm != std::vector<int64_t>{0, 3, 1, 2}) return false;
  const int si = run.only_reader(t);
  if (si < 0) return false;
  const Node& softmax = g.nodes[static_cast<size_t>(si)];
  if (softmax.op_type != "Softmax") return false;
  // Before opset 13 Softmax normalizes over all axes from `axis` on: only the last axis is a
  // per-line softmax.
  const int64_t axis = axis_of(softmax, g.opset, 4);
  if (direct ? (g.opset < 13 || axis != 1) : axis != 3) return false;
  int feed = softmax.outputs[0], ti = -1;
  if (!direct) {  // the second transpose
    ti = run.only_reader(feed);
    if (ti < 0) return false;
    const Node& t2 = g.nodes[static_cast<size_t>(ti)];
    if (t2.op_type != "Transpose" || t2.attr_ints("perm") != std::vector<int64_t>{0, 3, 2, 1})
      return false;
    feed = t2.outputs[0];
  }
  const int ci = run.only_reader(feed);
  if (ci < 0) return false;
  const Node& conv = g.nodes[static_cast<size_t>(ci)];
  if (!is_expectation_conv(run, conv, len) || conv.inputs[0] != feed) return false;

  SoftmaxWeights w{};
  const float* wd = run.constant(conv.inputs[1]).data<float>();
  std::copy(wd, wd + len, w.w);
  w.bias = conv.inputs.size() == 3 ? run.constant(conv.inputs[2]).data<float>()[0] : 0.0f;

  FUNGEN_ASSIGN_OR_RETURN(int xb, run.get(x, Layout::kPlain));
  const int y = conv.outputs[0];  // [b, 1, sides, anchors], plain
  const int yb = run.define(y, Layout::kPlain);
  const int64_t groups = xs[0] * xs[1], inner = xs[3];
  const Elem e = run.elem();
  CudaRun* r = &run;
  run.add_step(conv.name + " (dfl: transpose, softmax and expectation in one kernel)", {xb, yb},
               [=](cudaStream_t st) {
                 launch_softmax_expectation(e, r->ptr(xb), r->ptr(yb), w, groups,
                                            static_cast<int>(len), inner, st);
                 return Status();
               });
  run.absorb(si);
  if (ti >= 0) run.absorb(ti);
  run.absorb(ci);
  g_fused.fetch_add(1);
  return true;
}

}  // namespace fungen::cuda
