// YOLO Detect head recognition for the one-kernel head (head_match.h).
#include "backends/cuda/head_match.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "backends/cuda/head_fold.h"

namespace fungen::cuda {
namespace {

bool fail(std::string* why, std::string msg) {
  if (why) *why = std::move(msg);
  return false;
}

int64_t softmax_axis(const Node& n, int64_t opset, int64_t rank) {
  const int64_t axis = n.attr_int("axis", opset >= 13 ? -1 : 1);
  return axis < 0 ? axis + rank : axis;
}

}  // namespace

bool is_plain_unit_conv(const Node& n) {
  if (n.op_type != "Conv" && n.op_type != "FusedConv") return false;
  if (n.inputs.size() < 2 || n.inputs.size() > 3) return false;  // a 4th input is a residual
  if (!n.attr_string("activation", "").empty() || n.attr_int("group", 1) != 1) return false;
  auto all = [](const std::vector<int64_t>& v, int64_t x) {
    return std::all_of(v.begin(), v.end(), [x](int64_t e) { return e == x; });
  };
  if (!all(n.attr_ints("strides", {1, 1}), 1) || !all(n.attr_ints("dilations", {1, 1}), 1) ||
      !all(n.attr_ints("pads", {0, 0, 0, 0}), 0))
    return false;
  const std::string pad = n.attr_string("auto_pad", "NOTSET");
  return pad == "NOTSET" || pad == "VALID";
}

namespace {

// The DFL's expectation: a 1x1, one-output-channel, ungrouped, unpadded, unstrided convolution
// with constant fp32 weights [1, bins, 1, 1], an optional scalar bias, no activation/residual.
bool is_expectation_conv(const RunView& rv, const Node& n, int& bins) {
  if (!is_plain_unit_conv(n)) return false;
  const int w = n.inputs[1];
  if (!rv.is_constant(w) ||
      rv.g.values[static_cast<size_t>(w)].constant->dtype() != DType::kFloat32)
    return false;
  const Shape& ws = rv.shape(w);
  if (ws.size() != 4 || ws[0] != 1 || ws[2] != 1 || ws[3] != 1 || ws[1] < 1 || ws[1] > kMaxHeadBins)
    return false;
  bins = static_cast<int>(ws[1]);
  if (n.inputs.size() == 3) {
    const Value& b = rv.g.values[static_cast<size_t>(n.inputs[2])];
    if (!b.is_constant() || b.constant->numel() != 1 || b.constant->dtype() != DType::kFloat32)
      return false;
  }
  return true;
}

// The nodes from box_x to the expectation conv's input, either export form; box_x or -1.
int dfl_chain(const RunView& rv, const Node& conv, std::vector<int>& nodes, std::string* why) {
  const int64_t opset = rv.g.opset;
  const Node* p = rv.producer(conv.inputs[0]);
  auto index = [&](const Node* n) { return static_cast<int>(n - rv.g.nodes.data()); };
  auto is_transpose = [](const Node* n, std::vector<int64_t> perm) {
    return n && n->op_type == "Transpose" && n->attr_ints("perm") == perm;
  };
  const Node *t1 = nullptr, *softmax = nullptr;
  if (p && p->op_type == "Softmax") {  // opset >= 13: Transpose(0,2,1,3) -> Softmax(axis 1)
    softmax = p;
    t1 = rv.producer(softmax->inputs[0]);
    if (opset < 13 || softmax_axis(*softmax, opset, 4) != 1 || !is_transpose(t1, {0, 2, 1, 3})) {
      fail(why, "DFL softmax is not over the bins (opset 13 form)");
      return -1;
    }
  } else if (is_transpose(p, {0, 3, 2, 1})) {  // opset 12: Transpose(0,3,1,2) -> Softmax(last)
    nodes.push_back(index(p));
    softmax = rv.producer(p->inputs[0]);
    if (!softmax || softmax->op_type != "Softmax" || softmax_axis(*softmax, opset, 4) != 3) {
      fail(why, "DFL softmax is not over the last axis (opset 12 form)");
      return -1;
    }
    t1 = rv.producer(softmax->inputs[0]);
    if (!is_transpose(t1, {0, 3, 1, 2})) {
      fail(why, "DFL transpose (opset 12 form)");
      return -1;
    }
  } else {
    fail(why, "the expectation conv does not read a DFL softmax");
    return -1;
  }
  nodes.push_back(index(softmax));
  nodes.push_back(index(t1));
  return t1->inputs[0];
}

// The box decode between the DFL output and `box`: its nodes (topological order) and the
// expectation conv it starts from (-1 when none or several).
bool collect_decode(const RunView& rv, int box, std::vector<int>& nodes, int& conv,
                    std::string* why) {
  std::set<int> seen;
  std::vector<int> stack = {box};
  conv = -1;
  while (!stack.empty()) {
    const int v = stack.back();
    stack.pop_back();
    if (v < 0 || rv.is_constant(v)) continue;
    const Node* p = rv.producer(v);
    if (!p) return fail(why, "the box decode reads a value from outside the run");
    const int k = static_cast<int>(p - rv.g.nodes.data());
    int bins = 0;
    if (is_expectation_conv(rv, *p, bins)) {
      if (conv >= 0 && conv != k) return fail(why, "the box decode reads two convolutions");
      conv = k;
      continue;
    }
    if (!is_affine_op(*p)) return fail(why, "the box decode has a " + p->op_type);
    if (!seen.insert(k).second) continue;
    if (seen.size() > 64) return fail(why, "the box decode is too large");
    for (int in : affine_data_inputs(*p)) stack.push_back(in);
  }
  if (conv < 0) return fail(why, "no DFL expectation conv under the box decode");
  nodes.assign(seen.begin(), seen.end());  // std::set: ascending = topological
  return true;
}

// box[k][a] = s[a] * (m0[k] . d[a]) + c[k][a]: false when the per-anchor matrices are not all
// multiples of one.
bool factor(const AffineField& box, int64_t anchors, DetectHead& h, std::string* why) {
  std::vector<double> m(static_cast<size_t>(anchors) * 16, 0.0);
  h.table.assign(static_cast<size_t>(anchors) * 5, 0.0f);
  double best = 0;
  int64_t pivot_a = -1;
  int pivot = -1;
  for (int64_t a = 0; a < anchors; ++a) {
    for (int k = 0; k < 4; ++k) {
      const AffineForm& f = box.f[static_cast<size_t>(k * anchors + a)];
      if (f.anchor >= 0 && f.anchor != a) return fail(why, "a box coordinate reads another anchor");
      for (int j = 0; j < 4; ++j) {
        const double c = f.c[j];
        m[static_cast<size_t>(a * 16 + k * 4 + j)] = c;
        if (std::abs(c) > best) {
          best = std::abs(c);
          pivot_a = a;
          pivot = k * 4 + j;
        }
      }
      h.table[static_cast<size_t>((1 + k) * anchors + a)] = static_cast<float>(f.k);
    }
  }
  if (pivot < 0) return fail(why, "the boxes do not depend on the distances");
  const double pv = std::abs(m[static_cast<size_t>(pivot_a * 16 + pivot)]);  // scales > 0
  for (int i = 0; i < 16; ++i)
    h.m0[i] = static_cast<float>(m[static_cast<size_t>(pivot_a * 16 + i)] / pv);
  for (int64_t a = 0; a < anchors; ++a) {
    const double* ma = &m[static_cast<size_t>(a * 16)];
    const double s = ma[pivot] / (m[static_cast<size_t>(pivot_a * 16 + pivot)] / pv);
    double mx = 1e-30;
    for (int j = 0; j < 16; ++j) mx = std::max(mx, std::abs(ma[j]));
    for (int i = 0; i < 16; ++i) {
      const double want = s * (m[static_cast<size_t>(pivot_a * 16 + i)] / pv);
      if (std::abs(ma[i] - want) > 1e-6 * mx)
        return fail(why, "the per-anchor box transforms are not multiples of one matrix");
    }
    h.table[static_cast<size_t>(a)] = static_cast<float>(s);
  }
  return true;
}

}  // namespace

RunView::RunView(const Graph& graph, const NodeRun& run)
    : g(graph), first(run.first), last(run.last), uses(graph.use_counts()) {
  run_output.assign(graph.values.size(), 0);
  for (int v : run.outputs) {
    if (v >= 0) run_output[static_cast<size_t>(v)] = 1;
  }
}

const Node* RunView::producer(int value) const {
  if (value < 0) return nullptr;
  const int p = g.values[static_cast<size_t>(value)].producer;
  return in_run(p) ? &g.nodes[static_cast<size_t>(p)] : nullptr;
}

std::optional<DetectHead> match_detect_head(const RunView& rv, int concat, std::string* why) {
  const Graph& g = rv.g;
  const Node& cat = g.nodes[static_cast<size_t>(concat)];
  if (cat.op_type != "Concat" || cat.inputs.size() != 2 || cat.outputs.size() != 1) {
    fail(why, "not a two-input Concat");
    return std::nullopt;
  }
  DetectHead h;
  h.output_node = concat;
  h.y = cat.outputs[0];
  const Shape& ys = rv.shape(h.y);
  const int box = cat.inputs[0], sig = cat.inputs[1];
  if (ys.size() != 3 || (cat.attr_int("axis", 1) != 1 && cat.attr_int("axis", 1) != -2) ||
      rv.shape(box) != Shape{ys[0], 4, ys[2]} || ys[1] <= 4) {
    fail(why, "not a [B, 4 + nc, anchors] Concat of boxes and scores");
    return std::nullopt;
  }
  h.batch = ys[0];
  h.anchors = ys[2];
  h.classes = ys[1] - 4;
  const Node* sn = rv.producer(sig);
  if (!sn || sn->op_type != "Sigmoid" || rv.shape(sn->inputs[0]) != rv.shape(sig)) {
    fail(why, "the scores are not a Sigmoid");
    return std::nullopt;
  }
  h.cls_x = sn->inputs[0];
  std::vector<int> decode;
  int conv = -1;
  if (!collect_decode(rv, box, decode, conv, why)) return std::nullopt;
  const Node& cn = g.nodes[static_cast<size_t>(conv)];
  std::vector<int> dfl;
  h.box_x = dfl_chain(rv, cn, dfl, why);
  if (h.box_x < 0) return std::nullopt;
  is_expectation_conv(rv, cn, h.bins);
  const int d = cn.outputs[0];
  if (rv.shape(d) != Shape{h.batch, 1, 4, h.anchors} ||
      rv.shape(h.box_x) != Shape{h.batch, 4, h.bins, h.anchors}) {
    fail(why, "DFL shapes are not [B, 4, bins, anchors] -> [B, 1, 4, anchors]");
    return std::nullopt;
  }
  const float* w = g.values[static_cast<size_t>(cn.inputs[1])].constant->data<float>();
  std::copy(w, w + h.bins, h.dfl_w);
  if (cn.inputs.size() == 3)
    h.dfl_bias = g.values[static_cast<size_t>(cn.inputs[2])].constant->data<float>()[0];

  // Every value made inside the pattern is read only inside it and leaves the run only as y.
  h.nodes = decode;
  h.nodes.insert(h.nodes.end(), dfl.begin(), dfl.end());
  h.nodes.push_back(conv);
  h.nodes.push_back(static_cast<int>(sn - g.nodes.data()));
  h.nodes.push_back(concat);
  std::sort(h.nodes.begin(), h.nodes.end());
  for (int k : h.nodes) {
    for (int o : g.nodes[static_cast<size_t>(k)].outputs) {
      if (o < 0 || o == h.y) continue;
      int inside = 0;
      for (int j : h.nodes) {
        const Node& r = g.nodes[static_cast<size_t>(j)];
        inside += static_cast<int>(std::count(r.inputs.begin(), r.inputs.end(), o));
      }
      if (inside != rv.uses[static_cast<size_t>(o)] || rv.run_output[static_cast<size_t>(o)]) {
        fail(why, "'" + g.values[static_cast<size_t>(o)].name + "' is also read outside the head");
        return std::nullopt;
      }
    }
  }

  AffineField leaf;
  leaf.shape = {1, 1, 4, h.anchors};
  leaf.f.resize(static_cast<size_t>(4 * h.anchors));
  for (int j = 0; j < 4; ++j) {
    for (int64_t a = 0; a < h.anchors; ++a) {
      AffineForm& f = leaf.f[static_cast<size_t>(j * h.anchors + a)];
      f.anchor = static_cast<int32_t>(a);
      f.c[j] = 1.0;
    }
  }
  std::optional<AffineField> folded = fold_affine(g, h.batch, d, leaf, decode, box, why);
  if (!folded) return std::nullopt;
  if (!factor(*folded, h.anchors, h, why)) return std::nullopt;
  return h;
}

std::vector<DetectHead> find_detect_heads(const RunView& rv) {
  std::vector<DetectHead> heads;
  for (size_t k = rv.first; k <= rv.last; ++k) {
    const Node& n = rv.g.nodes[k];
    if (n.op_type != "Concat" || n.inputs.size() != 2) continue;
    if (auto h = match_detect_head(rv, static_cast<int>(k), nullptr))
      heads.push_back(std::move(*h));
  }
  return heads;
}

}  // namespace fungen::cuda
