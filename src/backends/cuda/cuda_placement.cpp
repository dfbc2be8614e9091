// Zero-copy Concat (CudaRun::placement and friends, see cuda_run.h): which values their
// producers may write straight into a channel slice of an NHWC Concat output, alone or besides
// their own buffer (dual store); Split pieces read in their slice (views).
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "backends/cuda/copy_rows.cuh"
#include "backends/cuda/cuda_run.h"

namespace fungen::cuda {

namespace {
std::atomic<int> g_split_piece_copies{0};
std::atomic<int> g_dual{0}, g_copies{0};
std::atomic<int> g_nchw_placed{0};
std::atomic<int> g_anchor_placed{0};

bool dual_enabled() {
  const char* v = std::getenv("FUNGEN_CUDA_DUAL");
  return !(v && std::strcmp(v, "0") == 0);
}
}  // namespace

int split_piece_copies() {
  return g_split_piece_copies.load();
}
void count_split_piece_copy() {
  ++g_split_piece_copies;
}
int dual_stores_lowered() {
  return g_dual.load();
}
int concat_copies_lowered() {
  return g_copies.load();
}
void count_concat_copy() {
  ++g_copies;
}
int nchw_placements() {
  return g_nchw_placed.load();
}
int anchor_placements() {
  return g_anchor_placed.load();
}

// Concat(Reshape(conv_0), Reshape(conv_1), ...) on the last axis of [B, C, A] pieces, each
// reshape [B, C, H, W] -> [B, C, H*W] of a conv output read only there, read only by this
// Concat once (YOLO's head: the per-level box and class maps into [B, C, anchors]).
void CudaRun::find_nchw_placements(const NodeRun& run, const std::vector<bool>& run_output) {
  auto in_run = [&](int node) {
    return node >= static_cast<int>(run.first) && node <= static_cast<int>(run.last);
  };
  auto once = [&](int v) {
    return uses_[static_cast<size_t>(v)] == 1 && !run_output[static_cast<size_t>(v)] &&
           !graph_.values[static_cast<size_t>(v)].is_constant();
  };
  for (size_t k = run.first; k <= run.last; ++k) {
    const Node& node = graph_.nodes[k];
    if (node.op_type != "Concat" || node.outputs.size() != 1) continue;
    const Shape& ys = shape(node.outputs[0]);
    const int64_t axis = node.attr_int("axis", 1);
    if (ys.size() != 3 || (axis != 2 && axis != -1)) continue;
    int64_t offset = 0;
    for (int r : node.inputs) {
      const Shape& rs = shape(r);
      const int64_t len = rs.size() == 3 ? rs[2] : 0;
      const int rp = graph_.values[static_cast<size_t>(r)].producer;
      const Node* view = in_run(rp) ? &graph_.nodes[static_cast<size_t>(rp)] : nullptr;
      const int v = view ? view->inputs[0] : -1;
      const int vp = v >= 0 ? graph_.values[static_cast<size_t>(v)].producer : -1;
      const bool fits =
          view && (view->op_type == "Reshape" || view->op_type == "Flatten") && once(r) &&
          std::count(node.inputs.begin(), node.inputs.end(), r) == 1 && once(v) && in_run(vp) &&
          (graph_.nodes[static_cast<size_t>(vp)].op_type == "Conv" ||
           graph_.nodes[static_cast<size_t>(vp)].op_type == "FusedConv") &&
          shape(v).size() == 4 && rs.size() == 3 && rs[0] == shape(v)[0] && rs[1] == shape(v)[1] &&
          rs[2] == shape(v)[2] * shape(v)[3] && rs[0] == ys[0] && rs[1] == ys[1];
      if (fits)
        candidates_[static_cast<size_t>(v)] =
            Candidate{.concat = node.outputs[0], .offset = offset, .nchw = true};
      offset += len;
    }
  }
}

void CudaRun::find_placements(const NodeRun& run) {
  candidates_.assign(graph_.values.size(), {});
  placed_into_.assign(graph_.values.size(), -1);
  anchor_slices_.assign(graph_.values.size(), {});
  anchor_taken_.assign(graph_.values.size(), 0);
  uses_ = graph_.use_counts();
  if (!ctx_.nhwc) return;
  std::vector<bool> run_output(graph_.values.size(), false);
  for (int v : run.outputs) run_output[static_cast<size_t>(v)] = true;
  if (ctx_.place_nchw) find_nchw_placements(run, run_output);
  auto in_run = [&](int node) {
    return node >= static_cast<int>(run.first) && node <= static_cast<int>(run.last);
  };
  const bool dual = dual_enabled();
  // A convolution's (or nearest Resize's, or MaxPool's) output read once (by the Concat, or by a
  // Split feeding it), not a run output: its producer can write it with a row stride.
  auto conv_only_once = [&](int v, bool resize_too) {
    const Value& val = graph_.values[static_cast<size_t>(v)];
    const int p = val.producer;
    if (val.is_constant() || !in_run(p) || val.shape.size() != 4 ||
        uses_[static_cast<size_t>(v)] != 1 || run_output[static_cast<size_t>(v)]) {
      return false;
    }
    const std::string& op = graph_.nodes[static_cast<size_t>(p)].op_type;
    return op == "Conv" || op == "FusedConv" ||
           (resize_too && (op == "Resize" || (dual && op == "MaxPool")));
  };
  // A convolution's or MaxPool's output read by other nodes too (or a run output): its producer
  // writes its own buffer and the slice (dual_placement).
  auto dual_producer = [&](int v) {
    const Value& val = graph_.values[static_cast<size_t>(v)];
    const int p = val.producer;
    if (!dual || val.is_constant() || !in_run(p) || val.shape.size() != 4 ||
        uses_[static_cast<size_t>(v)] < 2) {
      return false;
    }
    const std::string& op = graph_.nodes[static_cast<size_t>(p)].op_type;
    return op == "Conv" || op == "FusedConv" || op == "MaxPool";
  };
  for (size_t k = run.first; k <= run.last; ++k) {
    const Node& node = graph_.nodes[k];
    if (node.op_type != "Concat" || node.outputs.empty()) continue;
    const Shape& ys = shape(node.outputs[0]);
    int64_t axis = node.attr_int("axis", 1);
    if (ys.size() != 4 || (axis != 1 && axis != -3)) continue;
    // A value listed twice (cat([x, x])) has two slices; its producer writes one: copy it.
    auto once_here = [&](int v) {
      return std::count(node.inputs.begin(), node.inputs.end(), v) == 1;
    };
    int64_t offset = 0;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const int v = node.inputs[i];
      const Value& val = graph_.values[static_cast<size_t>(v)];
      if (conv_only_once(v, true) && once_here(v))
        candidates_[static_cast<size_t>(v)] = Candidate{node.outputs[0], offset};
      // The first Concat reading it gets the dual slice; a later one copies it.
      if (dual_producer(v) && once_here(v) && candidates_[static_cast<size_t>(v)].concat < 0)
        candidates_[static_cast<size_t>(v)] =
            Candidate{.concat = node.outputs[0], .offset = offset, .dual = true};
      // Split(conv) whose outputs are this and the next inputs, in order (C2f/C3k2): the conv
      // writes them all into place; the Split then only copies outputs read elsewhere too.
      const int sp = val.producer;
      const Node* split = in_run(sp) ? &graph_.nodes[static_cast<size_t>(sp)] : nullptr;
      if (split && split->op_type == "Split" && split->outputs[0] == v &&
          i + split->outputs.size() <= node.inputs.size() && !split->inputs.empty() &&
          conv_only_once(split->inputs[0], false) && shape(split->inputs[0]).size() == 4) {
        const int64_t sa = split->attr_int("axis", 0);
        bool ok = sa == 1 || sa == -3;
        for (size_t j = 0; j < split->outputs.size() && ok; ++j)
          ok = split->outputs[j] == node.inputs[i + j] && once_here(split->outputs[j]);
        if (ok)
          candidates_[static_cast<size_t>(split->inputs[0])] = Candidate{node.outputs[0], offset};
      }
      offset += val.shape.size() == 4 ? val.shape[1] : 0;
    }
  }
}

CudaRun::Slice CudaRun::take_slice(int value, bool dual) {
  const Candidate c = candidates_.empty() ? Candidate{} : candidates_[static_cast<size_t>(value)];
  if (c.concat < 0 || c.dual != dual || c.nchw) return {};
  if (!is_defined(c.concat)) define(c.concat, Layout::kNhwc);
  const Held& h = variants_[static_cast<size_t>(c.concat)].front();
  if (h.layout != Layout::kNhwc) return {};
  placed_into_[static_cast<size_t>(value)] = c.concat;
  if (dual) ++g_dual;
  return Slice{h.buf, c.offset, shape(c.concat)[1]};
}

CudaRun::SliceShape CudaRun::slice_shape(int value, bool dual) const {
  const Candidate c = candidates_.empty() ? Candidate{} : candidates_[static_cast<size_t>(value)];
  if (c.concat < 0 || c.dual != dual || c.nchw) return {};
  if (is_defined(c.concat) &&
      variants_[static_cast<size_t>(c.concat)].front().layout != Layout::kNhwc)
    return {};
  return SliceShape{true, c.offset, shape(c.concat)[1]};
}

CudaRun::NchwSlice CudaRun::placement_nchw(int value) {
  const Candidate c = candidates_.empty() ? Candidate{} : candidates_[static_cast<size_t>(value)];
  if (c.concat < 0 || !c.nchw) return {};
  if (!is_defined(c.concat)) define(c.concat, Layout::kPlain);
  const Held& h = variants_[static_cast<size_t>(c.concat)].front();
  if (h.layout != Layout::kPlain) return {};
  placed_into_[static_cast<size_t>(value)] = c.concat;
  g_nchw_placed.fetch_add(1);
  const Shape& ys = shape(c.concat);
  return NchwSlice{h.buf, c.offset, ys[2], ys[1] * ys[2]};
}

void CudaRun::plan_anchor_slice(int value, AnchorSlice s) {
  candidates_[static_cast<size_t>(value)] = {};  // no NCHW / NHWC Concat slice besides
  anchor_slices_[static_cast<size_t>(value)] = s;
}

CudaRun::AnchorSlice CudaRun::anchor_slice_shape(int value) const {
  if (anchor_slices_.empty() || anchor_taken_[static_cast<size_t>(value)]) return {};
  return anchor_slices_[static_cast<size_t>(value)];
}

CudaRun::AnchorSlice CudaRun::anchor_placement(int value) {
  const AnchorSlice s = anchor_slice_shape(value);
  if (s.buf < 0) return {};
  anchor_taken_[static_cast<size_t>(value)] = 1;
  g_anchor_placed.fetch_add(1);
  return s;
}

CudaRun::Slice CudaRun::placement(int value) {
  return take_slice(value, false);
}
CudaRun::SliceShape CudaRun::placement_shape(int value) const {
  return slice_shape(value, false);
}
CudaRun::Slice CudaRun::dual_placement(int value) {
  return take_slice(value, true);
}
CudaRun::SliceShape CudaRun::dual_placement_shape(int value) const {
  return slice_shape(value, true);
}

CudaRun::Slice CudaRun::slice_of(int value) const {
  // A dual-placed value is in its own buffer too: a Split of it reads that (the Split's
  // outputs are not in the concat).
  if (!placed(value) || candidates_[static_cast<size_t>(value)].concat != placed_into(value) ||
      candidates_[static_cast<size_t>(value)].dual || candidates_[static_cast<size_t>(value)].nchw)
    return {};
  const Candidate& c = candidates_[static_cast<size_t>(value)];
  return Slice{variants_[static_cast<size_t>(c.concat)].front().buf, c.offset, shape(c.concat)[1]};
}

void CudaRun::define_view(int value, Slice slice, std::string copy_label) {
  views_[static_cast<size_t>(value)] = View{slice, std::move(copy_label)};
}

CudaRun::Slice CudaRun::view_of(int value) const {
  if (views_.empty() || is_defined(value)) return {};
  return views_[static_cast<size_t>(value)].slice;
}

Status CudaRun::copy_view(int value) {
  const View& v = views_[static_cast<size_t>(value)];
  const Shape& s = shape(value);
  const Slice sl = v.slice;
  const int64_t rows = s[0] * s[2] * s[3], cols = s[1];
  const int to = define(value, Layout::kNhwc);
  const Elem e = elem();
  const size_t esz = elem_size(e);
  count_split_piece_copy();
  add_step(v.copy_label, {sl.buf, to}, [this, sl, to, e, esz, rows, cols](cudaStream_t st) {
    launch_copy_rows(e, static_cast<const std::byte*>(ptr(sl.buf)) + sl.offset * esz, sl.ld,
                     ptr(to), cols, rows, cols, st);
    return Status();
  });
  return Status();
}

}  // namespace fungen::cuda
