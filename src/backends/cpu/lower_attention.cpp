// The ops of attention (YOLO11's C2PSA, YOLO12's area attention) and of the DFL head on plain
// tensors: MatMul → oneDNN matmul (batch dims broadcast), Softmax → oneDNN softmax along the
// axis, Transpose → a reorder from a permuted-strides view of the input.
#include <string>

#include "backends/cpu/cpu_run.h"

namespace fungen::cpu {

using dt = memory::data_type;

namespace {

// Row-major strides of `dims`.
memory::dims dense_strides(const memory::dims& dims) {
  memory::dims s(dims.size(), 1);
  for (size_t i = dims.size(); i-- > 1;) s[i - 1] = s[i] * dims[i];
  return s;
}

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

}  // namespace

Status lower_matmul(CpuRun& run, const Node& node) {
  const int a = node.inputs[0], b = node.inputs[1], y = node.outputs[0];
  Shape as = run.shape(a), bs = run.shape(b);
  const Shape& ys = run.shape(y);
  if (as.size() < 2 || bs.size() < 2 || ys.size() < 2) return unsupported("MatMul of vectors");
  as.insert(as.begin(), ys.size() - as.size(), 1);
  bs.insert(bs.begin(), ys.size() - bs.size(), 1);
  memory::desc ad = plain_md(as), bd = plain_md(bs), yd = plain_md(ys);
  // An operand held as a strided view (a Transpose of the last two dims, lower_transpose) is read
  // in place when oneDNN has a fast kernel for those strides; else it is made plain first.
  auto held = [&](int v, const memory::desc& plain) {
    if (run.is_constant(v) || run.shape(v).size() != ys.size()) return plain;
    const memory::desc& d = run.desc_of(v);
    return d.dims() == plain.dims() && d.data_type() == plain.data_type() ? d : plain;
  };
  memory::desc as_held = held(a, ad), bs_held = held(b, bd);
  dnnl::matmul::primitive_desc pd;
  bool in_place = false;
  if (as_held != ad || bs_held != bd) {
    try {
      pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(as_held, bs_held, yd), user_scratchpad(),
                                        run.engine());
      in_place = !is_reference_impl(pd.impl_info_str());
    } catch (const dnnl::error&) {
    }
  }
  if (!in_place) {
    try {
      pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(ad, bd, yd), user_scratchpad(),
                                        run.engine());
    } catch (const dnnl::error& e) {
      return unsupported(std::string("oneDNN matmul: ") + e.what());
    }
    as_held = ad;
    bs_held = bd;
  }
  auto operand = [&](int v, const memory::desc& plain, const memory::desc& want) {
    if (run.is_constant(v))
      return run.pack(memory(plain, run.engine(), const_cast<void*>(run.constant(v).raw())), plain);
    return want == plain ? run.view(run.get_plain(v), plain, 0) : run.get(v, want);
  };
  int ab = operand(a, ad, as_held);
  int bb = operand(b, bd, bs_held);
  int yb = run.define(y, run.plain_desc(y));
  run.add_primitive(node.name + " (matmul " + pd.impl_info_str() + ")", dnnl::matmul(pd),
                    {{DNNL_ARG_SRC, ab}, {DNNL_ARG_WEIGHTS, bb}, {DNNL_ARG_DST, yb}},
                    pd.scratchpad_desc());
  return Status();
}

Status lower_softmax(CpuRun& run, const Node& node) {
  const int x = node.inputs[0], y = node.outputs[0];
  const Shape& xs = run.shape(x);
  int64_t axis = node.attr_int("axis", run.graph().opset >= 13 ? -1 : 1);
  if (axis < 0) axis += static_cast<int64_t>(xs.size());
  // Before opset 13 Softmax flattens from `axis` on; same thing when it is the last axis.
  if (run.graph().opset < 13 && axis != static_cast<int64_t>(xs.size()) - 1)
    return unsupported("coerced softmax");
  memory::desc d = run.plain_desc(x);
  dnnl::softmax_forward::primitive_desc pd;
  try {
    pd = dnnl::softmax_forward::primitive_desc(
        dnnl::softmax_forward::desc(dnnl::prop_kind::forward_inference, d, static_cast<int>(axis)),
        user_scratchpad(), run.engine());
  } catch (const dnnl::error& e) {
    return unsupported(std::string("oneDNN softmax: ") + e.what());
  }
  // oneDNN 2.6 has fast softmax only along the innermost axis; its reference kernel is ~50x
  // slower than fungen's own (DFL's softmax over 16 bins, axis 1).
  if (is_reference_impl(pd.impl_info_str())) return lower_softmax_axis(run, node);
  int xb = run.get_plain(x);
  int yb = run.define(y, run.plain_desc(y));
  run.add_primitive(node.name + " (softmax " + pd.impl_info_str() + ")", dnnl::softmax_forward(pd),
                    {{DNNL_ARG_SRC, xb}, {DNNL_ARG_DST, yb}}, pd.scratchpad_desc());
  return Status();
}

Status lower_transpose(CpuRun& run, const Node& node) {
  const int x = node.inputs[0], y = node.outputs[0];
  const Shape& xs = run.shape(x);
  std::vector<int64_t> perm = node.attr_ints("perm");
  if (perm.empty()) {
    for (size_t i = xs.size(); i-- > 0;) perm.push_back(static_cast<int64_t>(i));
  }
  memory::dims in_strides = dense_strides(to_dims(xs));
  memory::dims out_dims, view_strides;
  for (int64_t p : perm) {
    out_dims.push_back(xs[static_cast<size_t>(p)]);
    view_strides.push_back(in_strides[static_cast<size_t>(p)]);
  }
  memory::desc view(out_dims, dt::f32, view_strides);
  memory::desc out = run.plain_desc(y);
  // Only MatMuls read it and it swaps the last two dims (attention's q^T, k^T, attn^T): no step,
  // the MatMul reads the permuted-strides view (lower_matmul).
  const size_t r = xs.size();
  bool swap_last = r >= 2 && perm[r - 1] == static_cast<int64_t>(r) - 2 &&
                   perm[r - 2] == static_cast<int64_t>(r) - 1 && !run.leaves_run(y);
  for (size_t i = 0; i + 2 < r && swap_last; ++i) swap_last = perm[i] == static_cast<int64_t>(i);
  std::vector<const Node*> readers = run.readers(y);
  for (const Node* n : readers) swap_last = swap_last && n->op_type == "MatMul";
  if (swap_last && !readers.empty()) {
    run.define_alias(y, run.get_plain(x), view);
    return Status();
  }
  dnnl::reorder::primitive_desc pd;
  try {
    pd = dnnl::reorder::primitive_desc(run.engine(), view, run.engine(), out, user_scratchpad());
  } catch (const dnnl::error& e) {
    return unsupported(std::string("oneDNN reorder: ") + e.what());
  }
  int xb = run.view(run.get_plain(x), view, 0);
  int yb = run.define(y, out);
  run.add_primitive(node.name + " (transpose " + pd.impl_info_str() + ")", dnnl::reorder(pd),
                    {{DNNL_ARG_FROM, xb}, {DNNL_ARG_TO, yb}}, pd.scratchpad_desc());
  return Status();
}

}  // namespace fungen::cpu
