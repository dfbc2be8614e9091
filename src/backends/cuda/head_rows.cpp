// The anchor-major input of the one-kernel Detect head: which convs write it, where (head_rows.h).
#include "backends/cuda/head_rows.h"

#include <algorithm>

namespace fungen::cuda {
namespace {

bool fail(std::string* why, std::string msg) {
  if (why) *why = std::move(msg);
  return false;
}

bool is_view(const Node* n) {
  return n && (n->op_type == "Reshape" || n->op_type == "Flatten");
}

// Read once, inside the pattern, and not an output of the run.
bool read_once(const RunView& rv, int v) {
  return v >= 0 && !rv.is_constant(v) && rv.uses[static_cast<size_t>(v)] == 1 &&
         !rv.run_output[static_cast<size_t>(v)];
}

// `cat` = Concat(last axis)(Reshape(conv_l) [B, C, H*W] ...) of shape [B, C, A]: appends each
// conv's piece (channel_offset given) and the Concat and Reshape nodes.
bool pieces_of(const RunView& rv, int cat, int64_t channel_offset, HeadRows& r, std::string* why) {
  const Node* cn = rv.producer(cat);
  const Shape& cs = rv.shape(cat);
  if (!cn || cn->op_type != "Concat" || cs.size() != 3 || cs[0] != r.batch || cs[2] != r.anchors)
    return fail(why, "a head input is not a Concat of [B, C, anchors] pieces");
  const int64_t axis = cn->attr_int("axis", 0);
  if (axis != 2 && axis != -1) return fail(why, "a head input Concat is not on the anchors");
  auto index = [&](const Node* n) { return static_cast<int>(n - rv.g.nodes.data()); };
  int64_t offset = 0;
  for (int piece : cn->inputs) {
    const Node* view = rv.producer(piece);
    const int v = is_view(view) ? view->inputs[0] : -1;
    const Node* conv = v >= 0 ? rv.producer(v) : nullptr;
    if (!conv || (conv->op_type != "Conv" && conv->op_type != "FusedConv"))
      return fail(why, "a head input piece is not a reshaped convolution");
    if (conv->inputs.size() > 3) return fail(why, "a head conv adds a residual");
    if (!read_once(rv, piece) || !read_once(rv, v) ||
        std::count(cn->inputs.begin(), cn->inputs.end(), piece) != 1)
      return fail(why, "a head conv output is read elsewhere too");
    const Shape& vs = rv.shape(v);
    const Shape& ps = rv.shape(piece);
    if (vs.size() != 4 || ps.size() != 3 || vs[0] != r.batch || vs[1] != cs[1] ||
        ps[0] != r.batch || ps[1] != cs[1] || ps[2] != vs[2] * vs[3])
      return fail(why, "a head conv's reshape is not [B, C, H, W] -> [B, C, H*W]");
    r.pieces.push_back({v, offset, channel_offset, vs[1], ps[2]});
    r.nodes.push_back(index(view));
    offset += ps[2];
  }
  if (offset != r.anchors) return fail(why, "the head's pieces do not cover the anchors");
  r.nodes.push_back(index(cn));
  return true;
}

}  // namespace

std::optional<HeadRows> match_head_rows(const RunView& rv, const DetectHead& h, std::string* why) {
  HeadRows r;
  r.batch = h.batch;
  r.anchors = h.anchors;
  r.cls_offset = head_rows_cls_offset(h.bins);
  r.ld = head_rows_ld(h.bins, h.classes);
  // box_x = Reshape(box_cat [B, 4 * bins, A]) read only by the DFL; cls_x only by the Sigmoid.
  const Node* bview = rv.producer(h.box_x);
  if (!is_view(bview) || !read_once(rv, h.box_x) || !read_once(rv, bview->inputs[0]) ||
      rv.shape(bview->inputs[0]) != Shape{h.batch, 4 * h.bins, h.anchors}) {
    fail(why, "the DFL input is not a reshaped [B, 4 * bins, anchors] Concat");
    return std::nullopt;
  }
  if (!read_once(rv, h.cls_x)) {
    fail(why, "the class logits are read outside the head");
    return std::nullopt;
  }
  if (!pieces_of(rv, bview->inputs[0], 0, r, why) || !pieces_of(rv, h.cls_x, r.cls_offset, r, why))
    return std::nullopt;
  r.nodes.push_back(static_cast<int>(bview - rv.g.nodes.data()));
  std::sort(r.nodes.begin(), r.nodes.end());
  return r;
}

}  // namespace fungen::cuda
