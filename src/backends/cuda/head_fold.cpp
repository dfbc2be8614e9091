// Symbolic evaluation of YOLO's box decode (head_fold.h). Per image; an op either maps each
// output element to one input element (Slice, Split, Concat, the views, Transpose) or combines
// two broadcast operands (Add, Sub, Mul and Div by a constant).
#include "backends/cuda/head_fold.h"

#include <algorithm>
#include <functional>
#include <unordered_map>

namespace fungen::cuda {
namespace {

using Index = std::vector<int64_t>;

bool fail(std::string* why, std::string msg) {
  if (why) *why = std::move(msg);
  return false;
}

// Calls fn(flat, index) for every element of `shape`, row-major.
void for_each_index(const Shape& shape, const std::function<void(int64_t, const Index&)>& fn) {
  const int64_t n = shape_numel(shape);
  Index idx(shape.size(), 0);
  for (int64_t flat = 0; flat < n; ++flat) {
    fn(flat, idx);
    for (int k = static_cast<int>(shape.size()) - 1; k >= 0; --k) {
      if (++idx[static_cast<size_t>(k)] < shape[static_cast<size_t>(k)]) break;
      idx[static_cast<size_t>(k)] = 0;
    }
  }
}

int64_t flat_of(const Shape& shape, const Index& idx) {
  int64_t f = 0;
  for (size_t k = 0; k < shape.size(); ++k) f = f * shape[k] + idx[k];
  return f;
}

std::vector<int64_t> ints_of(const Tensor& t) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < t.numel(); ++i) {
    out.push_back(t.dtype() == DType::kInt32 ? t.data<int32_t>()[i] : t.data<int64_t>()[i]);
  }
  return out;
}

int64_t norm_axis(int64_t axis, size_t rank) {
  return axis < 0 ? axis + static_cast<int64_t>(rank) : axis;
}

AffineForm scaled(const AffineForm& a, double s) {
  AffineForm r = a;
  for (double& c : r.c) c *= s;
  r.k *= s;
  return r;
}

// a + sign * b; false when they depend on different anchors.
bool add_forms(const AffineForm& a, const AffineForm& b, double sign, AffineForm& out) {
  if (a.anchor >= 0 && b.anchor >= 0 && a.anchor != b.anchor) return false;
  out.anchor = std::max(a.anchor, b.anchor);
  for (int j = 0; j < 4; ++j) out.c[j] = a.c[j] + sign * b.c[j];
  out.k = a.k + sign * b.k;
  return true;
}

class Folder {
 public:
  Folder(const Graph& g, int64_t batch, std::string* why) : g_(g), batch_(batch), why_(why) {}

  void set(int value, AffineField f) { fields_[value] = std::move(f); }
  const AffineField* get(int value) const {
    auto it = fields_.find(value);
    return it == fields_.end() ? nullptr : &it->second;
  }

  // The field of input `value` of a node whose output has rank `out_rank`: evaluated earlier, or
  // a float constant (which must not vary along the batch axis).
  const AffineField* input(int value, size_t out_rank) {
    if (const AffineField* f = get(value)) return f;
    const Value& v = g_.values[static_cast<size_t>(value)];
    if (!v.is_constant() || v.constant->dtype() != DType::kFloat32) {
      fail(why_, "input '" + v.name + "' is neither folded nor a float constant");
      return nullptr;
    }
    if (v.shape.size() == out_rank && !v.shape.empty() && v.shape[0] != 1) {
      fail(why_, "constant '" + v.name + "' varies along the batch axis");
      return nullptr;
    }
    AffineField c;
    c.shape = v.shape;
    c.f.resize(static_cast<size_t>(v.constant->numel()));
    const float* p = v.constant->data<float>();
    for (size_t i = 0; i < c.f.size(); ++i) c.f[i].k = p[i];
    fields_[value] = std::move(c);
    return &fields_[value];
  }

  // A non-constant output's per-image shape; false when its batch axis is not `batch_`.
  bool out_shape(int value, Shape& s) {
    s = g_.values[static_cast<size_t>(value)].shape;
    if (s.empty() || s[0] != batch_) return fail(why_, "a value does not keep the batch axis");
    s[0] = 1;
    return true;
  }

  bool node(const Node& n);

 private:
  bool binary(const Node& n);
  // Output element idx of `out` is element `from` of the field src(idx, from) returns (null:
  // no such element).
  using Source = std::function<const AffineField*(const Index&, Index&)>;
  bool gather(const Node& n, int out, const Source& src);

  const Graph& g_;
  int64_t batch_;
  std::string* why_;
  std::unordered_map<int, AffineField> fields_;
};

bool Folder::binary(const Node& n) {
  Shape ys;
  if (!out_shape(n.outputs[0], ys)) return false;
  const AffineField* a = input(n.inputs[0], ys.size());
  const AffineField* b = a ? input(n.inputs[1], ys.size()) : nullptr;
  if (!a || !b) return false;
  // Broadcast strides of an operand over ys (numpy rules, aligned on the last axis).
  auto strides = [&](const Shape& s, Index& st) {
    if (s.size() > ys.size()) return false;
    st.assign(ys.size(), 0);
    int64_t stride = 1;
    for (int k = static_cast<int>(s.size()) - 1; k >= 0; --k) {
      const size_t o = ys.size() - s.size() + static_cast<size_t>(k);
      if (s[static_cast<size_t>(k)] != 1 && s[static_cast<size_t>(k)] != ys[o]) return false;
      st[o] = s[static_cast<size_t>(k)] == 1 ? 0 : stride;
      stride *= s[static_cast<size_t>(k)];
    }
    return true;
  };
  Index sa, sb;
  if (!strides(a->shape, sa) || !strides(b->shape, sb))
    return fail(why_, n.op_type + " operands do not broadcast per image");
  AffineField y;
  y.shape = ys;
  y.f.resize(static_cast<size_t>(shape_numel(ys)));
  bool ok = true;
  for_each_index(ys, [&](int64_t flat, const Index& idx) {
    if (!ok) return;
    int64_t ia = 0, ib = 0;
    for (size_t k = 0; k < idx.size(); ++k) {
      ia += idx[k] * sa[k];
      ib += idx[k] * sb[k];
    }
    const AffineForm& x = a->f[static_cast<size_t>(ia)];
    const AffineForm& z = b->f[static_cast<size_t>(ib)];
    AffineForm& r = y.f[static_cast<size_t>(flat)];
    if (n.op_type == "Add" || n.op_type == "Sub") {
      ok = add_forms(x, z, n.op_type == "Add" ? 1.0 : -1.0, r);
    } else if (n.op_type == "Mul") {
      ok = x.anchor < 0 || z.anchor < 0;  // a product of two distances is not affine
      if (ok) r = x.anchor < 0 ? scaled(z, x.k) : scaled(x, z.k);
    } else {  // Div: by a non-zero constant only
      ok = z.anchor < 0 && z.k != 0;
      if (ok) r = scaled(x, 1.0 / z.k);
    }
  });
  if (!ok) return fail(why_, n.op_type + " is not affine in the distances");
  fields_[n.outputs[0]] = std::move(y);
  return true;
}

bool Folder::gather(const Node& n, int out, const Source& src) {
  AffineField y;
  if (!out_shape(out, y.shape)) return false;
  y.f.resize(static_cast<size_t>(shape_numel(y.shape)));
  bool ok = true;
  Index from;
  for_each_index(y.shape, [&](int64_t flat, const Index& idx) {
    if (!ok) return;
    const AffineField* in = src(idx, from);
    ok = in && from.size() == in->shape.size();
    for (size_t k = 0; k < from.size() && ok; ++k) ok = from[k] >= 0 && from[k] < in->shape[k];
    if (ok) y.f[static_cast<size_t>(flat)] = in->f[static_cast<size_t>(flat_of(in->shape, from))];
  });
  if (!ok) return fail(why_, n.op_type + " indexes outside its input");
  fields_[out] = std::move(y);
  return true;
}

bool Folder::node(const Node& n) {
  const std::string& op = n.op_type;
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") return binary(n);
  const Shape& full_out = g_.values[static_cast<size_t>(n.outputs[0])].shape;
  const AffineField* x = input(n.inputs[0], full_out.size());
  if (!x) return false;
  const AffineField in = *x;  // copied: fields_ may rehash below
  const AffineField* inp = &in;
  if (op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze" ||
      op == "Identity") {
    AffineField y;
    if (!out_shape(n.outputs[0], y.shape)) return false;
    if (shape_numel(y.shape) != static_cast<int64_t>(in.f.size()) || in.shape.empty() ||
        g_.values[static_cast<size_t>(n.inputs[0])].shape[0] != batch_)
      return fail(why_, op + " moves the batch axis");
    y.f = in.f;
    fields_[n.outputs[0]] = std::move(y);
    return true;
  }
  if (op == "Transpose") {
    std::vector<int64_t> perm = n.attr_ints("perm");
    if (perm.empty() || perm[0] != 0 || perm.size() != in.shape.size())
      return fail(why_, "Transpose moves the batch axis");
    return gather(n, n.outputs[0], [&](const Index& idx, Index& from) {
      from.assign(idx.size(), 0);
      for (size_t k = 0; k < idx.size(); ++k) from[static_cast<size_t>(perm[k])] = idx[k];
      return inp;
    });
  }
  if (op == "Slice") {
    const Shape& xs = g_.values[static_cast<size_t>(n.inputs[0])].shape;
    std::vector<int64_t> starts, axes, steps;
    if (g_.opset < 10) {
      starts = n.attr_ints("starts");
      axes = n.attr_ints("axes");
    } else {
      auto constant = [&](size_t i, std::vector<int64_t>& out) {
        if (i >= n.inputs.size() || n.inputs[i] < 0) return true;
        const Value& v = g_.values[static_cast<size_t>(n.inputs[i])];
        if (!v.is_constant()) return false;
        out = ints_of(*v.constant);
        return true;
      };
      std::vector<int64_t> ends;
      if (!constant(1, starts) || !constant(2, ends) || !constant(3, axes) || !constant(4, steps))
        return fail(why_, "Slice with non-constant bounds");
    }
    if (axes.empty())
      for (size_t k = 0; k < starts.size(); ++k) axes.push_back(static_cast<int64_t>(k));
    if (axes.size() != starts.size() || (!steps.empty() && steps.size() != axes.size()))
      return fail(why_, "Slice bounds of mismatched lengths");
    Index start(xs.size(), 0), step(xs.size(), 1);
    for (size_t j = 0; j < axes.size(); ++j) {
      const int64_t a = norm_axis(axes[j], xs.size());
      if (a < 0 || a >= static_cast<int64_t>(xs.size())) return fail(why_, "Slice axis");
      const int64_t dim = xs[static_cast<size_t>(a)], st = steps.empty() ? 1 : steps[j];
      if (st == 0) return fail(why_, "Slice step 0");
      int64_t s = starts[j] < 0 ? starts[j] + dim : starts[j];
      s = st > 0 ? std::clamp<int64_t>(s, 0, dim) : std::clamp<int64_t>(s, 0, dim - 1);
      if (a == 0 && (s != 0 || st != 1)) return fail(why_, "Slice cuts the batch axis");
      start[static_cast<size_t>(a)] = a == 0 ? 0 : s;
      step[static_cast<size_t>(a)] = st;
    }
    return gather(n, n.outputs[0], [&](const Index& idx, Index& from) {
      from.resize(idx.size());
      for (size_t k = 0; k < idx.size(); ++k) from[k] = start[k] + idx[k] * step[k];
      return inp;
    });
  }
  if (op == "Split" || op == "Concat") {
    const int64_t axis = norm_axis(n.attr_int("axis", op == "Split" ? 0 : 1), full_out.size());
    if (axis <= 0 || axis >= static_cast<int64_t>(full_out.size()))
      return fail(why_, op + " along the batch axis");
    const size_t ax = static_cast<size_t>(axis);
    if (op == "Split") {
      int64_t offset = 0;
      for (int o : n.outputs) {
        if (o < 0) continue;  // an omitted output still takes its part: sizes come from shapes
        const int64_t off = offset;
        if (!gather(n, o, [&](const Index& idx, Index& from) {
              from = idx;
              from[ax] += off;
              return inp;
            }))
          return false;
        offset += g_.values[static_cast<size_t>(o)].shape[ax];
      }
      return true;
    }
    std::vector<AffineField> parts;
    for (int v : n.inputs) {
      const AffineField* p = input(v, full_out.size());
      if (!p) return false;
      parts.push_back(*p);
    }
    return gather(n, n.outputs[0], [&](const Index& idx, Index& from) -> const AffineField* {
      int64_t i = idx[ax];
      for (const AffineField& p : parts) {
        if (p.shape.size() != idx.size()) return nullptr;
        if (i < p.shape[ax]) {
          from = idx;
          from[ax] = i;
          return &p;
        }
        i -= p.shape[ax];
      }
      return nullptr;
    });
  }
  return fail(why_, "op " + op + " is not foldable");
}

}  // namespace

bool is_affine_op(const Node& n) {
  static const char* kOps[] = {"Add",       "Sub",      "Mul",      "Div",     "Slice",
                               "Split",     "Concat",   "Reshape",  "Flatten", "Squeeze",
                               "Unsqueeze", "Identity", "Transpose"};
  return std::any_of(std::begin(kOps), std::end(kOps),
                     [&](const char* op) { return n.op_type == op; });
}

std::vector<int> affine_data_inputs(const Node& n) {
  const std::string& op = n.op_type;
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Concat") return n.inputs;
  return {n.inputs.empty() ? -1 : n.inputs[0]};
}

std::optional<AffineField> fold_affine(const Graph& g, int64_t batch, int d,
                                       const AffineField& leaf, const std::vector<int>& nodes,
                                       int box, std::string* why) {
  Folder f(g, batch, why);
  f.set(d, leaf);
  for (int k : nodes) {
    const Node& n = g.nodes[static_cast<size_t>(k)];
    if (n.outputs.empty() || !f.node(n)) {
      if (why && why->empty()) *why = "node " + n.op_type + " not folded";
      return std::nullopt;
    }
  }
  const AffineField* r = f.get(box);
  if (!r) {
    if (why) *why = "the box value was not reached";
    return std::nullopt;
  }
  return *r;
}

}  // namespace fungen::cuda
