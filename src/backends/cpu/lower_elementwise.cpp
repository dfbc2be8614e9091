// Sigmoid → oneDNN eltwise (logistic) in the input's layout; Add/Mul/Sub/Div → oneDNN binary:
// same-shape operands in the first operand's layout, or a second operand broadcast over the
// first (plain layout, e.g. the detect head's anchor arithmetic).
#include <string>

#include "backends/cpu/cpu_run.h"

namespace fungen::cpu {

using dt = memory::data_type;

Status lower_eltwise(CpuRun& run, const Node& node) {
  const int x = node.inputs[0], y = node.outputs[0];
  memory::desc src = run.desc_of(x);
  dnnl::eltwise_forward::primitive_desc pd;
  try {
    dnnl::eltwise_forward::desc d(dnnl::prop_kind::forward_inference,
                                  dnnl::algorithm::eltwise_logistic, src, 0.f, 0.f);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    pd = dnnl::eltwise_forward::primitive_desc(d, attr, run.engine());
  } catch (const dnnl::error& e) {
    return unsupported(std::string("oneDNN eltwise: ") + e.what());
  }
  int xb = run.get(x, src);
  int yb = run.define(y, pd.dst_desc());
  run.add_primitive(node.name + " (sigmoid)", dnnl::eltwise_forward(pd),
                    {{DNNL_ARG_SRC, xb}, {DNNL_ARG_DST, yb}}, pd.scratchpad_desc());
  return Status();
}

Status lower_binary(CpuRun& run, const Node& node) {
  int a = node.inputs[0], b = node.inputs[1];
  const int y = node.outputs[0];
  const std::string& op = node.op_type;
  const bool commutative = op == "Add" || op == "Mul";
  const Shape& ys = run.shape(y);
  // oneDNN broadcasts only its second operand: the first must be computed (not a constant) and
  // have the output's shape exactly (same rank, no size-1 dims the output does not have). Swap
  // the operands of Add/Mul when only the second one is.
  auto full = [&](int v) { return v >= 0 && run.shape(v) == ys && !run.is_constant(v); };
  if (a < 0 || b < 0) return unsupported("missing operand");
  if (!full(a)) {
    if (!commutative || !full(b)) return unsupported("first operand broadcasts or is constant");
    std::swap(a, b);
  }
  const Shape& as = run.shape(a);
  Shape bs = run.shape(b);
  if (bs.size() > as.size()) return unsupported("rank");
  bs.insert(bs.begin(), as.size() - bs.size(), 1);
  for (size_t i = 0; i < as.size(); ++i) {
    if (bs[i] != as[i] && bs[i] != 1) return unsupported("broadcast");
  }
  dnnl::algorithm alg = op == "Add"   ? dnnl::algorithm::binary_add
                        : op == "Mul" ? dnnl::algorithm::binary_mul
                        : op == "Sub" ? dnnl::algorithm::binary_sub
                                      : dnnl::algorithm::binary_div;
  // Same shape (rank included) and computed: both in the first operand's layout (blocked between
  // convolutions). Otherwise both plain, the second as a view of its bytes with the leading 1s.
  const bool same = run.shape(b) == as && !run.is_constant(b);
  memory::desc src0 = same ? run.desc_of(a) : run.plain_desc(a);
  if (src0.data_type() != dt::f32) src0 = run.plain_desc(a);
  memory::desc src1 = same ? src0 : plain_md(bs);
  dnnl::binary::primitive_desc pd;
  try {
    dnnl::binary::desc d(alg, src0, src1, src0);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    pd = dnnl::binary::primitive_desc(d, attr, run.engine());
  } catch (const dnnl::error& e) {
    return unsupported(std::string("oneDNN binary: ") + e.what());
  }
  int ab = run.get(a, src0);
  int bb;
  if (run.is_constant(b)) {
    memory c(src1, run.engine(), const_cast<void*>(run.constant(b).raw()));
    bb = run.pack(c, src1);
  } else if (same) {
    bb = run.get(b, src1);
  } else {
    int plain = run.get_plain(b);
    bb = run.view(plain, src1, 0);
  }
  int yb = run.define(y, pd.dst_desc());
  run.add_primitive(node.name + " (" + op + ")", dnnl::binary(pd),
                    {{DNNL_ARG_SRC_0, ab}, {DNNL_ARG_SRC_1, bb}, {DNNL_ARG_DST, yb}},
                    pd.scratchpad_desc());
  return Status();
}

}  // namespace fungen::cpu
