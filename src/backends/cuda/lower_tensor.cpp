// Concat, Split and Slice as strided row copies (copy_rows.cuh) — along channels of NHWC
// activations when every piece is NHWC, else in the plain layout — and MaxPool / nearest Resize
// in whichever layout their input was produced.
#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "backends/cuda/copy_rows.cuh"
#include "backends/cuda/cuda_run.h"
#include "backends/cuda/pool_resize.cuh"

namespace fungen::cuda {

namespace {

int64_t normalized_axis(const Node& node, size_t rank, int64_t fallback) {
  int64_t axis = node.attr_int("axis", fallback);
  return axis < 0 ? axis + static_cast<int64_t>(rank) : axis;
}

// Rows and row lengths of a cut of `s` on `axis`: plain layout, or NHWC cut on channels.
struct Cut {
  int64_t rows = 1, inner = 1;  // cols of a piece = its extent on the axis * inner
};
Cut cut_of(const Shape& s, int64_t axis, bool nhwc) {
  Cut c;
  if (nhwc) {
    c.rows = s[0] * s[2] * s[3];
    return c;
  }
  for (int64_t k = 0; k < axis; ++k) c.rows *= s[static_cast<size_t>(k)];
  for (size_t k = static_cast<size_t>(axis) + 1; k < s.size(); ++k) c.inner *= s[k];
  return c;
}

Image4d image_of(const Shape& s) {
  return {s[0], s[1], s[2], s[3]};
}

}  // namespace

Status lower_concat(CudaRun& run, const Node& node) {
  const int y = node.outputs[0];
  if (run.upfuse_of(y)) {  // its 1x1 conv reads the pieces (lower_upfuse.cpp): nothing to do
    run.add_step(node.name + " (read by its consumer)", {}, [](cudaStream_t) { return Status(); });
    return Status();
  }
  const Shape& ys = run.shape(y);
  const int64_t axis = normalized_axis(node, ys.size(), 1);
  // Defined already when a producer wrote its piece in place: NHWC (CudaRun::placement), or
  // plain (placement_nchw: pieces on the last axis).
  const bool early = run.is_defined(y);
  bool nhwc = ys.size() == 4 && axis == 1;
  for (int id : node.inputs)
    nhwc = nhwc && !run.is_constant(id) && run.produced_layout(id) == Layout::kNhwc;
  if (early) nhwc = run.produced_layout(y) == Layout::kNhwc;
  const Layout layout = nhwc ? Layout::kNhwc : Layout::kPlain;
  const Cut cut = cut_of(ys, axis, nhwc);
  const int64_t dst_ld = ys[static_cast<size_t>(axis)] * cut.inner;
  int yb = -1;
  if (early) {
    FUNGEN_ASSIGN_OR_RETURN(yb, run.get(y, layout));
  } else {
    yb = run.define(y, layout);
  }
  const Elem e = run.elem();
  const size_t esz = elem_size(e);
  CudaRun* r = &run;
  int64_t offset = 0;
  for (int id : node.inputs) {
    const int64_t cols = run.shape(id)[static_cast<size_t>(axis)] * cut.inner;
    if (run.placed_into(id) == y) {  // its producer wrote it into this concat's slice
      offset += cols;
      continue;
    }
    FUNGEN_ASSIGN_OR_RETURN(int xb, run.get(id, layout));
    const int64_t off = offset;
    count_concat_copy();
    run.add_step(node.name + " (piece)", {xb, yb}, [=](cudaStream_t st) {
      launch_copy_rows(e, r->ptr(xb), cols, static_cast<std::byte*>(r->ptr(yb)) + off * esz, dst_ld,
                       cut.rows, cols, st);
      return Status();
    });
    offset += cols;
  }
  return Status();
}

Status lower_split(CudaRun& run, const Node& node) {
  const int x = node.inputs[0];
  const Shape& xs = run.shape(x);
  const int64_t axis = normalized_axis(node, xs.size(), 0);
  const bool nhwc = xs.size() == 4 && axis == 1 && run.produced_layout(x) == Layout::kNhwc;
  const Layout layout = nhwc ? Layout::kNhwc : Layout::kPlain;
  const Cut cut = cut_of(xs, axis, nhwc);
  const int64_t src_ld = xs[static_cast<size_t>(axis)] * cut.inner;
  const Elem e = run.elem();
  const size_t esz = elem_size(e);
  CudaRun* r = &run;
  const CudaRun::Slice sl = run.slice_of(x);
  if (sl.buf >= 0) {
    // x was written into a Concat output that takes these outputs in order (CudaRun::
    // find_placements): they are in place already; only those read elsewhere get a packed copy,
    // made when a reader that cannot read the slice in place asks for it (CudaRun::view_of;
    // FUNGEN_CUDA_STRIDED_IN=0: here, as before).
    const bool strided_in = [] {
      const char* v = std::getenv("FUNGEN_CUDA_STRIDED_IN");
      return !v || std::strcmp(v, "0") != 0;
    }();
    const int concat = run.placed_into(x);
    const int64_t rows = xs[0] * xs[2] * xs[3];
    int64_t offset = 0;
    for (int id : node.outputs) {
      const int64_t cols = run.shape(id)[1];
      run.mark_placed(id, concat);
      if (run.uses(id) > 1 && strided_in) {  // copied by get() if a reader needs it packed
        run.define_view(id, CudaRun::Slice{sl.buf, sl.offset + offset, sl.ld},
                        node.name + " (piece of the concat)");
      } else if (run.uses(id) > 1) {
        const int64_t off = sl.offset + offset;
        count_split_piece_copy();
        int yb = run.define(id, Layout::kNhwc);
        run.add_step(node.name + " (piece of the concat)", {sl.buf, yb}, [=](cudaStream_t st) {
          launch_copy_rows(e, static_cast<const std::byte*>(r->ptr(sl.buf)) + off * esz, sl.ld,
                           r->ptr(yb), cols, rows, cols, st);
          return Status();
        });
      }
      offset += cols;
    }
    return Status();
  }
  FUNGEN_ASSIGN_OR_RETURN(int xb, run.get(x, layout));
  int64_t offset = 0;
  for (int id : node.outputs) {
    if (id < 0) continue;
    const int64_t cols = run.shape(id)[static_cast<size_t>(axis)] * cut.inner;
    const int64_t off = offset;
    if (layout == Layout::kPlain && run.split_in_place_planned(id)) {
      run.split_in_place(id);  // a fused attention reads it inside x (lower_attention.cpp)
      offset += cols;
      continue;
    }
    int yb = run.define(id, layout);
    run.add_step(node.name + " (piece)", {xb, yb}, [=](cudaStream_t st) {
      launch_copy_rows(e, static_cast<const std::byte*>(r->ptr(xb)) + off * esz, src_ld, r->ptr(yb),
                       cols, cut.rows, cols, st);
      return Status();
    });
    offset += cols;
  }
  return Status();
}

namespace {

// The one axis a Slice cuts (step 1), and where it starts; axis -1 when it cuts none.
struct SliceCut {
  int64_t axis = -1, start = 0;
  bool ok = false;
};

SliceCut slice_cut(const Node& node, const Graph& graph) {
  SliceCut c;
  auto constant = [&](size_t i) -> const Tensor* {
    if (i >= node.inputs.size() || node.inputs[i] < 0) return nullptr;
    const Value& v = graph.values[static_cast<size_t>(node.inputs[i])];
    return v.is_constant() ? &*v.constant : nullptr;
  };
  auto ints = [](const Tensor* t) {
    std::vector<int64_t> out;
    if (!t) return out;
    for (int64_t i = 0; i < t->numel(); ++i) {
      out.push_back(t->dtype() == DType::kInt32 ? t->data<int32_t>()[i] : t->data<int64_t>()[i]);
    }
    return out;
  };
  if (graph.opset < 10 || !constant(1) || !constant(2)) return c;
  const Shape& xs = graph.values[static_cast<size_t>(node.inputs[0])].shape;
  const Shape& ys = graph.values[static_cast<size_t>(node.outputs[0])].shape;
  std::vector<int64_t> starts = ints(constant(1));
  std::vector<int64_t> axes = ints(constant(3));
  std::vector<int64_t> steps = ints(constant(4));
  if ((node.inputs.size() > 3 && node.inputs[3] >= 0 && !constant(3)) ||
      (node.inputs.size() > 4 && node.inputs[4] >= 0 && !constant(4))) {
    return c;
  }
  if (axes.empty()) {
    for (size_t k = 0; k < starts.size(); ++k) axes.push_back(static_cast<int64_t>(k));
  }
  const int64_t rank = static_cast<int64_t>(xs.size());
  for (size_t j = 0; j < axes.size(); ++j) {
    int64_t a = axes[j] < 0 ? axes[j] + rank : axes[j];
    if (a < 0 || a >= rank) return c;
    if (xs[static_cast<size_t>(a)] == ys[static_cast<size_t>(a)]) continue;
    if (c.axis >= 0 || (!steps.empty() && steps[j] != 1)) return c;  // one cut, step 1
    int64_t dim = xs[static_cast<size_t>(a)];
    int64_t s = starts[j] < 0 ? starts[j] + dim : starts[j];
    c.axis = a;
    c.start = std::clamp<int64_t>(s, 0, dim);
  }
  c.ok = true;
  return c;
}

}  // namespace

bool check_slice(const Node& node, const Graph& graph) {
  return slice_cut(node, graph).ok;
}

Status lower_slice(CudaRun& run, const Node& node) {
  const int x = node.inputs[0], y = node.outputs[0];
  SliceCut c = slice_cut(node, run.graph());
  if (!c.ok) return unsupported("cuda: this Slice is not a single step-1 cut");
  const Shape& xs = run.shape(x);
  const int64_t axis = c.axis < 0 ? 0 : c.axis;
  const Cut cut = cut_of(xs, axis, false);
  const int64_t src_ld = xs[static_cast<size_t>(axis)] * cut.inner;
  const int64_t cols = run.shape(y)[static_cast<size_t>(axis)] * cut.inner;
  const int64_t off = c.start * cut.inner;
  FUNGEN_ASSIGN_OR_RETURN(int xb, run.get(x, Layout::kPlain));
  int yb = run.define(y, Layout::kPlain);
  const Elem e = run.elem();
  const size_t esz = elem_size(e);
  CudaRun* r = &run;
  run.add_step(node.name, {xb, yb}, [=](cudaStream_t st) {
    launch_copy_rows(e, static_cast<const std::byte*>(r->ptr(xb)) + off * esz, src_ld, r->ptr(yb),
                     cols, cut.rows, cols, st);
    return Status();
  });
  return Status();
}

bool check_maxpool(const Node& node, const Graph& graph) {
  if (graph.values[static_cast<size_t>(node.inputs[0])].shape.size() != 4) return false;
  if (node.outputs.size() > 1 && node.outputs[1] >= 0) return false;  // Indices
  if (node.attr_string("auto_pad", "NOTSET") != "NOTSET") return false;
  for (int64_t d : node.attr_ints("dilations")) {
    if (d != 1) return false;
  }
  return node.attr_ints("kernel_shape").size() == 2 && node.attr_int("storage_order", 0) == 0;
}

Status lower_maxpool(CudaRun& run, const Node& node) {
  const int x = node.inputs[0], y = node.outputs[0];
  MaxPoolDesc d;
  d.in = image_of(run.shape(x));
  d.out = image_of(run.shape(y));
  std::vector<int64_t> k = node.attr_ints("kernel_shape"), s = node.attr_ints("strides"),
                       p = node.attr_ints("pads");
  d.kh = static_cast<int>(k[0]);
  d.kw = static_cast<int>(k[1]);
  d.sh = s.empty() ? 1 : static_cast<int>(s[0]);
  d.sw = s.empty() ? 1 : static_cast<int>(s[1]);
  d.ph = p.empty() ? 0 : static_cast<int>(p[0]);
  d.pw = p.empty() ? 0 : static_cast<int>(p[1]);
  const Layout layout = run.produced_layout(x);
  d.nhwc = layout == Layout::kNhwc;
  FUNGEN_ASSIGN_OR_RETURN(int xb, run.get(x, layout));
  // NHWC: straight into its Concat slice when the Concat is its only reader (YOLO's last SPPF
  // pool), or into its buffer and the slice when the next pool reads it too (dual store).
  const CudaRun::Slice slice = d.nhwc ? run.placement(y) : CudaRun::Slice{};
  const CudaRun::Slice dual = d.nhwc && slice.buf < 0 ? run.dual_placement(y) : CudaRun::Slice{};
  const int yb = slice.buf >= 0 ? slice.buf : run.define(y, layout);
  const int64_t offset = slice.buf >= 0 ? slice.offset : 0;
  d.y_ld = slice.buf >= 0 ? slice.ld : 0;
  const Elem e = run.elem();
  const size_t esz = elem_size(e);
  CudaRun* r = &run;
  const std::string label = node.name + (slice.buf >= 0  ? " (into concat)"
                                         : dual.buf >= 0 ? " (and into concat)"
                                                         : "");
  run.add_step(label, {xb, yb, dual.buf}, [=](cudaStream_t st) {
    void* dst = static_cast<std::byte*>(r->ptr(yb)) + offset * esz;
    void* dst2 =
        dual.buf >= 0 ? static_cast<std::byte*>(r->ptr(dual.buf)) + dual.offset * esz : nullptr;
    launch_maxpool(e, r->ptr(xb), dst, d, st, dst2, dual.ld);
    return Status();
  });
  return Status();
}

bool check_resize(const Node& node, const Graph& graph) {
  const Shape& xs = graph.values[static_cast<size_t>(node.inputs[0])].shape;
  const Shape& ys = graph.values[static_cast<size_t>(node.outputs[0])].shape;
  if (xs.size() != 4 || node.attr_string("mode", "nearest") != "nearest") return false;
  if (xs[0] != ys[0] || xs[1] != ys[1] || ys[2] % xs[2] != 0 || ys[3] % xs[3] != 0) return false;
  if (graph.opset >= 11 &&
      node.attr_string("coordinate_transformation_mode", "half_pixel") != "asymmetric") {
    return false;
  }
  // Asymmetric source coordinate oh / k: floor, or round_prefer_floor when k is 2 (same result).
  std::string nearest = node.attr_string("nearest_mode", "round_prefer_floor");
  bool two = ys[2] == 2 * xs[2] && ys[3] == 2 * xs[3];
  return graph.opset < 11 || nearest == "floor" || (nearest == "round_prefer_floor" && two);
}

Status lower_resize(CudaRun& run, const Node& node) {
  const int x = node.inputs[0], y = node.outputs[0];
  if (run.upfuse_of(y)) {  // read upsampled by its Concat's 1x1 conv (lower_upfuse.cpp)
    run.add_step(node.name + " (read by its consumer)", {}, [](cudaStream_t) { return Status(); });
    return Status();
  }
  const Layout layout = run.produced_layout(x);
  FUNGEN_ASSIGN_OR_RETURN(int xb, run.get(x, layout));
  const Image4d in = image_of(run.shape(x)), out = image_of(run.shape(y));
  const bool nhwc = layout == Layout::kNhwc;
  // NHWC: straight into its Concat slice when it has one (CudaRun::placement).
  const CudaRun::Slice slice = nhwc ? run.placement(y) : CudaRun::Slice{};
  const int yb = slice.buf >= 0 ? slice.buf : run.define(y, layout);
  const int64_t offset = slice.buf >= 0 ? slice.offset : 0, ld = slice.buf >= 0 ? slice.ld : 0;
  const Elem e = run.elem();
  CudaRun* r = &run;
  run.add_step(node.name + (slice.buf >= 0 ? " (into concat)" : ""), {xb, yb},
               [=](cudaStream_t st) {
                 void* dst = static_cast<std::byte*>(r->ptr(yb)) + offset * elem_size(e);
                 launch_resize_nearest(e, r->ptr(xb), dst, in, out, nhwc, st, ld);
                 return Status();
               });
  return Status();
}

}  // namespace fungen::cuda
