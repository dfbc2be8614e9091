// Elementwise ops (Sigmoid; Add/Sub/Mul/Div), Softmax, Transpose and the reshaping views.
#include "backends/cuda/binary.cuh"
#include "backends/cuda/cuda_run.h"
#include "backends/cuda/permute.cuh"
#include "backends/cuda/softmax.cuh"
#include "backends/cuda/unary.cuh"

namespace fungen::cuda {

bool check_any(const Node& node, const Graph& graph) {
  for (int id : node.outputs) {
    if (id >= 0 && graph.values[static_cast<size_t>(id)].shape.size() > kMaxRank) return false;
  }
  return true;
}

Status lower_unary(CudaRun& run, const Node& node) {
  const int x = node.inputs[0], y = node.outputs[0];
  Layout layout = run.produced_layout(x);
  FUNGEN_ASSIGN_OR_RETURN(int xb, run.get(x, layout));
  int yb = run.define(y, layout);
  const int64_t n = shape_numel(run.shape(y));
  const Elem e = run.elem();
  CudaRun* r = &run;
  run.add_step(node.name, {xb, yb}, [=](cudaStream_t st) {
    launch_unary(UnaryOp::kSigmoid, e, r->ptr(xb), r->ptr(yb), n, st);
    return Status();
  });
  return Status();
}

bool check_binary(const Node& node, const Graph& graph) {
  return graph.values[static_cast<size_t>(node.outputs[0])].shape.size() <= kMaxRank;
}

Status lower_binary(CudaRun& run, const Node& node) {
  const int a = node.inputs[0], b = node.inputs[1], y = node.outputs[0];
  BinaryOp op = node.op_type == "Add"   ? BinaryOp::kAdd
                : node.op_type == "Sub" ? BinaryOp::kSub
                : node.op_type == "Mul" ? BinaryOp::kMul
                                        : BinaryOp::kDiv;
  const Shape& ys = run.shape(y);
  const Elem e = run.elem();
  CudaRun* r = &run;
  // Same shapes: one flat pass in the layout the first operand was produced in.
  if (run.shape(a) == ys && run.shape(b) == ys && !run.is_constant(a) && !run.is_constant(b)) {
    Layout layout = run.produced_layout(a);
    FUNGEN_ASSIGN_OR_RETURN(int ab, run.get(a, layout));
    FUNGEN_ASSIGN_OR_RETURN(int bb, run.get(b, layout));
    int yb = run.define(y, layout);
    const int64_t n = shape_numel(ys);
    run.add_step(node.name, {ab, bb, yb}, [=](cudaStream_t st) {
      launch_binary_flat(op, e, r->ptr(ab), r->ptr(bb), r->ptr(yb), n, st);
      return Status();
    });
    return Status();
  }
  // Broadcast, in the plain layout: numpy rules, operands aligned on their last dimension.
  BroadcastDesc d;
  d.rank = static_cast<int>(ys.size());
  for (int k = 0; k < d.rank; ++k) d.dims[k] = ys[static_cast<size_t>(k)];
  auto strides_of = [&](const Shape& s, int64_t* out) {
    std::vector<int64_t> st = plain_strides(s);
    int off = d.rank - static_cast<int>(s.size());
    for (int k = 0; k < d.rank; ++k) {
      int j = k - off;
      out[k] = (j < 0 || s[static_cast<size_t>(j)] == 1) ? 0 : st[static_cast<size_t>(j)];
    }
  };
  strides_of(run.shape(a), d.a_strides);
  strides_of(run.shape(b), d.b_strides);
  FUNGEN_ASSIGN_OR_RETURN(int ab, run.get(a, Layout::kPlain));
  FUNGEN_ASSIGN_OR_RETURN(int bb, run.get(b, Layout::kPlain));
  int yb = run.define(y, Layout::kPlain);
  run.add_step(node.name + " (broadcast)", {ab, bb, yb}, [=](cudaStream_t st) {
    launch_binary_broadcast(op, e, r->ptr(ab), r->ptr(bb), r->ptr(yb), d, st);
    return Status();
  });
  return Status();
}

bool check_softmax(const Node& node, const Graph& graph) {
  const Shape& s = graph.values[static_cast<size_t>(node.inputs[0])].shape;
  int64_t rank = static_cast<int64_t>(s.size());
  int64_t axis = node.attr_int("axis", graph.opset >= 13 ? -1 : 1);
  if (axis < 0) axis += rank;
  // Before opset 13 Softmax flattens from `axis` on: the same only when it is the last axis.
  return axis >= 0 && axis < rank && (graph.opset >= 13 || axis == rank - 1);
}

Status lower_softmax(CudaRun& run, const Node& node) {
  const int x = node.inputs[0], y = node.outputs[0];
  const Shape& s = run.shape(x);
  int64_t rank = static_cast<int64_t>(s.size());
  int64_t axis = node.attr_int("axis", run.graph().opset >= 13 ? -1 : 1);
  if (axis < 0) axis += rank;
  int64_t outer = 1, inner = 1;
  for (int64_t k = 0; k < axis; ++k) outer *= s[static_cast<size_t>(k)];
  for (int64_t k = axis + 1; k < rank; ++k) inner *= s[static_cast<size_t>(k)];
  const int64_t len = s[static_cast<size_t>(axis)];
  FUNGEN_ASSIGN_OR_RETURN(int xb, run.get(x, Layout::kPlain));
  int yb = run.define(y, Layout::kPlain);
  const Elem e = run.elem();
  CudaRun* r = &run;
  run.add_step(node.name, {xb, yb}, [=](cudaStream_t st) {
    launch_softmax(e, r->ptr(xb), r->ptr(yb), outer, len, inner, st);
    return Status();
  });
  return Status();
}

namespace {

// Is every reader of `value` a convolution of this graph (which wants it NHWC), and is it no
// graph output?
bool read_by_convs_only(const Graph& g, int value) {
  for (int o : g.outputs) {
    if (o == value) return false;
  }
  bool any = false;
  for (const Node& n : g.nodes) {
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      if (n.inputs[i] != value) continue;
      if ((n.op_type != "Conv" && n.op_type != "FusedConv") || i != 0) return false;
      any = true;
    }
  }
  return any;
}

// The permutation exchanges the last two axes and keeps the others in place.
bool swaps_last_two(const std::vector<int64_t>& perm) {
  const size_t r = perm.size();
  if (r < 2 || perm[r - 1] != static_cast<int64_t>(r) - 2 ||
      perm[r - 2] != static_cast<int64_t>(r) - 1)
    return false;
  for (size_t k = 0; k + 2 < r; ++k)
    if (perm[k] != static_cast<int64_t>(k)) return false;
  return true;
}

}  // namespace

// A 4-D input produced NHWC is read as it is (no conversion first), and a 4-D output read only by
// convolutions is written NHWC directly: the permutation absorbs both layout changes (YOLO's
// DFL: Softmax -> Transpose -> Conv becomes one row gather instead of two transposes).
Status lower_transpose(CudaRun& run, const Node& node) {
  if (run.ctx().fuse_dfl) {
    FUNGEN_ASSIGN_OR_RETURN(bool dfl, lower_dfl(run, node));
    if (dfl) return Status();
  }
  const int x = node.inputs[0], y = node.outputs[0];
  const Shape& s = run.shape(x);
  const int rank = static_cast<int>(s.size());
  std::vector<int64_t> perm = node.attr_ints("perm");
  if (perm.empty()) {
    for (int k = rank - 1; k >= 0; --k) perm.push_back(k);
  }
  if (run.ctx().fold_transpose && swaps_last_two(perm)) {
    const int reader = run.only_reader(y);
    if (reader >= 0) {
      const Node& mm = run.graph().nodes[static_cast<size_t>(reader)];
      if (mm.op_type == "MatMul" && check_matmul(mm, run.graph())) {
        run.defer_transpose(y, x);  // lower_matmul reads x with cuBLAS's transpose op
        return Status();
      }
    }
  }
  const bool x_nhwc = rank == 4 && run.produced_layout(x) == Layout::kNhwc;
  const bool y_nhwc = rank == 4 && run.ctx().nhwc && read_by_convs_only(run.graph(), y);
  std::vector<int64_t> st = plain_strides(s);
  if (x_nhwc) st = {s[1] * s[2] * s[3], 1, s[3] * s[1], s[1]};  // element (n,c,h,w) of NHWC
  PermuteDesc d;
  d.rank = rank;
  for (int k = 0; k < rank; ++k) {
    d.out_dims[k] = s[static_cast<size_t>(perm[static_cast<size_t>(k)])];
    d.in_strides[k] = st[static_cast<size_t>(perm[static_cast<size_t>(k)])];
  }
  if (y_nhwc) {  // output axes (n, c, h, w) written in the order (n, h, w, c)
    PermuteDesc o = d;
    const int order[4] = {0, 2, 3, 1};
    for (int k = 0; k < 4; ++k) {
      o.out_dims[k] = d.out_dims[order[k]];
      o.in_strides[k] = d.in_strides[order[k]];
    }
    d = o;
  }
  FUNGEN_ASSIGN_OR_RETURN(int xb, run.get(x, x_nhwc ? Layout::kNhwc : Layout::kPlain));
  int yb = run.define(y, y_nhwc ? Layout::kNhwc : Layout::kPlain);
  const Elem e = run.elem();
  CudaRun* r = &run;
  run.add_step(node.name + (y_nhwc ? " (to NHWC)" : ""), {xb, yb}, [=](cudaStream_t stream) {
    launch_permute(e, e, r->ptr(xb), r->ptr(yb), d, stream);
    return Status();
  });
  return Status();
}

Status lower_view(CudaRun& run, const Node& node) {
  FUNGEN_ASSIGN_OR_RETURN(int xb, run.get(node.inputs[0], Layout::kPlain));
  run.define_alias(node.outputs[0], xb);
  return Status();
}

}  // namespace fungen::cuda
