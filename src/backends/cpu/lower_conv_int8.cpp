// Conv and FusedConv in int8 (VNNI): s8 activations with one scale per tensor (the calibrated
// largest |x| over 127), s8 weights with one scale per output channel (max |w| over 127), s32
// accumulation, then in f32: output scale (s_x · s_w[oc]), bias, SiLU, residual add, and, when
// the output only feeds other int8 convolutions, requantization to s8 with its own scale.
// Convolutions that feed no convolution (the head's outputs, DFL) stay fp32.
// Quantization error per product term is at most s_x·|w|/2 + s_w·|x|/2 (rounding both factors).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "backends/cpu/cpu_run.h"
#include "fungen/calibration.h"

namespace fungen::cpu {
namespace {

using dt = memory::data_type;
using tag = memory::format_tag;

// The range int8 quantizes `value` to: FUNGEN_INT8_RANGE=absmax picks the largest |x| seen,
// otherwise the 99.99th percentile (when the calibration file has it).
float calibrated(const CpuRun& run, int value) {
  static const bool use_absmax = [] {
    const char* e = std::getenv("FUNGEN_INT8_RANGE");
    return e && std::string(e) == "absmax";
  }();
  const CalibrationTable& t = *run.options().calibration;
  const std::string& name = run.graph().values[static_cast<size_t>(value)].name;
  if (!use_absmax) {
    auto it = t.p9999.find(name);
    if (it != t.p9999.end() && it->second > 0.0f) return it->second;
  }
  auto it = t.absmax.find(name);
  return it == t.absmax.end() ? 0.0f : it->second;
}

// Does `y` feed int8 convolutions only (as their data input), so it can stay s8?
bool feeds_int8_convs_only(const CpuRun& run, int y) {
  if (run.leaves_run(y) || run.is_placed(y) || calibrated(run, y) <= 0.0f) return false;
  std::vector<const Node*> readers = run.readers(y);
  if (readers.empty()) return false;
  for (const Node* r : readers) {
    if (r->op_type != "Conv" && r->op_type != "FusedConv") return false;
    for (size_t i = 1; i < r->inputs.size(); ++i) {
      if (r->inputs[i] == y) return false;
    }
    if (!run.is_constant(r->inputs[1])) return false;
  }
  return true;
}

}  // namespace

Status lower_conv_int8(CpuRun& run, const Node& node) {
  const int x = node.inputs[0], w = node.inputs[1];
  const int b = node.inputs.size() > 2 ? node.inputs[2] : -1;
  const int z = node.inputs.size() > 3 ? node.inputs[3] : -1;
  const int y = node.outputs[0];
  // The last convolutions of a branch (the detect head's box and class layers, the DFL
  // expectation whose 0..15 weights s8 cannot hold exactly) stay fp32.
  if (!run.feeds_conv(y)) return unsupported("the last convolution of a branch stays fp32");
  float sx = run.scale_of(x);
  if (sx <= 0.0f) {
    const float ax = calibrated(run, x);
    if (!(ax > 0.0f) || !std::isfinite(ax)) {
      return unsupported("no calibrated range for '" +
                         run.graph().values[static_cast<size_t>(x)].name + "'");
    }
    sx = ax / 127.0f;
  }
  ConvGeometry g;
  FUNGEN_RETURN_IF_ERROR(conv_geometry(run, node, &g));
  const bool silu = node.attr_string("activation", "") == "silu";
  const bool grouped = g.weights.size() == 5;
  const bool s8_out = feeds_int8_convs_only(run, y);
  const float sy = s8_out ? calibrated(run, y) / 127.0f : 0.0f;

  // Weights: per output channel, symmetric. Bias in the accumulator's units (oneDNN 2.x adds
  // it before the output scale).
  const Tensor& wt = run.constant(w);
  const float* wp = wt.data<float>();
  const int64_t oc = g.bias[0];
  const int64_t per = wt.numel() / oc;
  std::vector<int8_t> wq(static_cast<size_t>(wt.numel()));
  std::vector<float> oscale(static_cast<size_t>(oc)), bias(static_cast<size_t>(oc), 0.0f);
  const float* bp = b >= 0 ? run.constant(b).data<float>() : nullptr;
  for (int64_t o = 0; o < oc; ++o) {
    float m = 0.0f;
    for (int64_t i = 0; i < per; ++i) m = std::max(m, std::abs(wp[o * per + i]));
    const float sw = m > 0.0f ? m / 127.0f : 1.0f;
    for (int64_t i = 0; i < per; ++i) {
      float q = std::nearbyint(wp[o * per + i] / sw);
      wq[static_cast<size_t>(o * per + i)] = static_cast<int8_t>(std::clamp(q, -127.0f, 127.0f));
    }
    oscale[static_cast<size_t>(o)] = sx * sw;
    if (bp) bias[static_cast<size_t>(o)] = bp[o] / (sx * sw);
  }
  // Without SiLU or residual the requantization folds into the output scale.
  const bool fold = s8_out && !silu && z < 0;
  if (fold) {
    for (float& s : oscale) s /= sy;
  }

  const memory::desc weights_any(g.weights, dt::s8, tag::any);
  const memory::desc bias_desc(g.bias, dt::f32, tag::a);
  const dt out_t = s8_out ? dt::s8 : dt::f32;
  auto make_pd = [&](tag layout, int residual_buf) {
    const memory::desc src(g.src, dt::s8, layout), dst(g.dst, out_t, layout);
    dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference,
                                      dnnl::algorithm::convolution_direct, src, weights_any,
                                      bias_desc, dst, g.strides, g.dilations, g.pad_l, g.pad_r);
    dnnl::post_ops ops;
    if (silu) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_swish, 1.0f, 0.0f);
    if (residual_buf >= 0)
      ops.append_binary(dnnl::algorithm::binary_add, run.buf(residual_buf).desc);
    if (s8_out && !fold) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_linear, 1.0f / sy, 0.0f);
    dnnl::primitive_attr attr;
    attr.set_output_scales(1 << 1, oscale);
    attr.set_post_ops(ops);
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    return dnnl::convolution_forward::primitive_desc(d, attr, run.engine());
  };
  // The blocked layout the rest of the run keeps, else channels-last; never a reference kernel.
  dnnl::convolution_forward::primitive_desc pd;
  tag layout = tag::undef;
  for (tag t : {run.layout(), tag::nhwc}) {
    try {
      pd = make_pd(t, -1);
    } catch (const dnnl::error&) {
      continue;
    }
    if (!is_reference_impl(pd.impl_info_str())) {
      layout = t;
      break;
    }
  }
  if (layout == tag::undef) return unsupported("oneDNN has no int8 convolution for this geometry");
  int zbuf = -1;
  if (z >= 0) {
    zbuf = run.get(z, memory::desc(g.dst, dt::f32, layout));
    pd = make_pd(layout, zbuf);
    if (is_reference_impl(pd.impl_info_str()))
      return unsupported(std::string("int8 residual: oneDNN offers only ") + pd.impl_info_str());
  }

  memory::desc w_plain(g.weights, dt::s8, grouped ? tag::goihw : tag::oihw);
  memory w_src(w_plain, run.engine(), wq.data());
  const int wbuf = run.pack(w_src, pd.weights_desc());
  memory b_src(bias_desc, run.engine(), bias.data());
  const int bbuf = run.pack(b_src, bias_desc);
  if (run.scale_of(x) <= 0.0f) run.set_scale(x, sx);
  const int xbuf = run.get(x, pd.src_desc());
  if (s8_out) run.set_scale(y, sy);
  const int ybuf = run.define(y, pd.dst_desc());
  std::vector<std::pair<int, int>> args = {
      {DNNL_ARG_SRC, xbuf}, {DNNL_ARG_WEIGHTS, wbuf}, {DNNL_ARG_BIAS, bbuf}, {DNNL_ARG_DST, ybuf}};
  if (zbuf >= 0)
    args.push_back({DNNL_ARG_ATTR_MULTIPLE_POST_OP(silu ? 1 : 0) | DNNL_ARG_SRC_1, zbuf});
  run.add_primitive(node.name + " (conv int8 " + std::string(pd.impl_info_str()) + ")",
                    dnnl::convolution_forward(pd), std::move(args), pd.scratchpad_desc());
  return Status();
}

}  // namespace fungen::cpu
