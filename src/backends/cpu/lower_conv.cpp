// Conv and FusedConv → one oneDNN convolution with bias and post-ops: SiLU as eltwise_swish
// (beta 1), the residual as a binary-add post-op. Depthwise and grouped convolutions are the same
// primitive.
#include <cstring>
#include <string>

#include "backends/cpu/cpu_run.h"
#include "ops/nn_window.h"

namespace fungen::cpu {
namespace {

using dt = memory::data_type;

}  // namespace

Status conv_geometry(CpuRun& run, const Node& node, ConvGeometry* g) {
  const int x = node.inputs[0], w = node.inputs[1], y = node.outputs[0];
  const Shape& xs = run.shape(x);
  const Shape& ws = run.graph().values[static_cast<size_t>(w)].shape;
  if (xs.size() != 4) return unsupported("only 2-D convolutions");
  WindowGeometry geom;
  Status s = compute_window(node, Shape(xs.begin() + 2, xs.end()),
                            std::vector<int64_t>(ws.begin() + 2, ws.end()), WindowOptions{}, &geom);
  if (!s.ok()) return s;
  const int64_t group = node.attr_int("group", 1);
  g->src = to_dims(xs);
  g->dst = to_dims(run.shape(y));
  if (group == 1) {
    g->weights = to_dims(ws);
  } else {
    g->weights = {group, ws[0] / group, ws[1], ws[2], ws[3]};
  }
  g->bias = {ws[0]};
  for (int i = 0; i < 2; ++i) {
    g->strides.push_back(geom.strides[static_cast<size_t>(i)]);
    g->dilations.push_back(geom.dilations[static_cast<size_t>(i)] - 1);
    g->pad_l.push_back(geom.pads_begin[static_cast<size_t>(i)]);
    g->pad_r.push_back(geom.pads_end[static_cast<size_t>(i)]);
  }
  return Status();
}

Status lower_conv(CpuRun& run, const Node& node) {
  const int x = node.inputs[0], w = node.inputs[1];
  const int b = node.inputs.size() > 2 ? node.inputs[2] : -1;
  const int z = node.inputs.size() > 3 ? node.inputs[3] : -1;
  const int y = node.outputs[0];
  if (!run.is_constant(w) || (b >= 0 && !run.is_constant(b)))
    return unsupported("weights are not constant");
  if (run.options().int8) {
    // Without a calibrated range for its input the convolution stays fp32.
    Status s = lower_conv_int8(run, node);
    if (s.ok() || s.code() != StatusCode::kUnsupported) return s;
  }
  ConvGeometry g;
  FUNGEN_RETURN_IF_ERROR(conv_geometry(run, node, &g));
  const bool silu = node.attr_string("activation", "") == "silu";
  // The last convolution of a branch (detect head, DFL) writes the plain f32 layout its readers
  // (reshapes, the head's concat) want, saving a reorder; fed f32 (DFL's softmax) it runs in f32.
  const bool last = !run.feeds_conv(y);
  // int8 runs the convolutions it leaves out (int8_excluded: the detect head's branches) in
  // bf16 too, as precision bf16 would.
  const bool low = run.options().bf16 || run.options().int8;
  const dt act = low && !(last && run.desc_of(x).data_type() == dt::f32) ? dt::bf16 : dt::f32;
  const bool grouped = g.weights.size() == 5;

  // Candidate layouts, best first: the input's own layout into the blocked one; both blocked;
  // whatever oneDNN prefers. The first that is not a reference implementation wins.
  const memory::desc blocked_src(g.src, act, run.layout());
  const memory::desc blocked_dst(g.dst, act, run.layout());
  memory::desc have = run.desc_of(x);
  if (act != dt::f32 && have.data_type() == dt::f32)
    have = memory::desc(g.src, act, memory::format_tag::nchw);
  std::vector<std::pair<memory::desc, memory::desc>> candidates = {
      {have, blocked_dst},
      {blocked_src, blocked_dst},
      {memory::desc(g.src, act, memory::format_tag::any),
       memory::desc(g.dst, act, memory::format_tag::any)}};
  if (last)
    candidates.insert(candidates.begin(), {have, memory::desc(g.dst, dt::f32, plain_tag(4))});

  const memory::desc weights_any(g.weights, act, memory::format_tag::any);
  const memory::desc bias_desc(g.bias, dt::f32, memory::format_tag::a);
  auto make_pd = [&](const memory::desc& src, const memory::desc& dst,
                     int residual_buf) -> dnnl::convolution_forward::primitive_desc {
    dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference,
                                      dnnl::algorithm::convolution_direct, src, weights_any,
                                      bias_desc, dst, g.strides, g.dilations, g.pad_l, g.pad_r);
    dnnl::post_ops ops;
    if (silu) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_swish, 1.0f, 0.0f);
    if (residual_buf >= 0) {
      ops.append_binary(dnnl::algorithm::binary_add, run.buf(residual_buf).desc);
    }
    dnnl::primitive_attr attr;
    attr.set_post_ops(ops);
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    return dnnl::convolution_forward::primitive_desc(d, attr, run.engine());
  };

  // Layout choice without the residual (its layout follows the output's).
  dnnl::convolution_forward::primitive_desc pd;
  bool found = false;
  for (auto& [src, dst] : candidates) {
    try {
      pd = make_pd(src, dst, -1);
    } catch (const dnnl::error&) {
      continue;
    }
    found = true;
    if (!is_reference_impl(pd.impl_info_str())) break;
  }
  if (!found) return unsupported("oneDNN has no convolution for this geometry");
  memory::desc src_desc = pd.src_desc(), dst_desc = pd.dst_desc();

  // The residual as a binary-add post-op (oneDNN 2.6's jit convolutions take [swish, binary
  // add] but fall back to a reference kernel for [swish, sum]).
  int zbuf = -1;
  if (z >= 0) {
    zbuf = run.get(z, dst_desc);
    try {
      pd = make_pd(src_desc, dst_desc, zbuf);
    } catch (const dnnl::error& e) {
      return unsupported(std::string("residual post-op: ") + e.what());
    }
  }
  if (is_reference_impl(pd.impl_info_str())) {
    return unsupported(std::string("oneDNN offers only ") + pd.impl_info_str());
  }

  // Weights and bias, packed once.
  const Tensor& wt = run.constant(w);
  memory::desc w_plain(g.weights, dt::f32,
                       grouped ? memory::format_tag::goihw : memory::format_tag::oihw);
  memory w_src(w_plain, run.engine(), const_cast<void*>(wt.raw()));
  int wbuf = run.pack(w_src, pd.weights_desc());
  const int xbuf = run.get(x, src_desc);
  std::vector<std::pair<int, int>> args = {{DNNL_ARG_SRC, xbuf}, {DNNL_ARG_WEIGHTS, wbuf}};
  if (b >= 0) {
    const Tensor& bt = run.constant(b);
    memory b_src(bias_desc, run.engine(), const_cast<void*>(bt.raw()));
    args.push_back({DNNL_ARG_BIAS, run.pack(b_src, bias_desc)});
  } else {
    memory zeros(bias_desc, run.engine());
    std::memset(zeros.get_data_handle(), 0, bias_desc.get_size());
    args.push_back({DNNL_ARG_BIAS, run.pack(zeros, bias_desc)});
  }
  int ybuf = run.define(y, dst_desc);
  if (zbuf >= 0)
    args.push_back({DNNL_ARG_ATTR_MULTIPLE_POST_OP(silu ? 1 : 0) | DNNL_ARG_SRC_1, zbuf});
  args.push_back({DNNL_ARG_DST, ybuf});
  run.add_primitive(node.name + " (conv " + pd.impl_info_str() + ")", dnnl::convolution_forward(pd),
                    std::move(args), pd.scratchpad_desc());
  if (run.options().record) run.record_range(x, xbuf);
  return Status();
}

}  // namespace fungen::cpu
