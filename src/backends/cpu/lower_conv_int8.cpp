// Conv and FusedConv in int8 (VNNI): u8 activations with one scale and zero point per tensor
// (the calibrated [min, max] over 255 steps; symmetric s8 from the largest |x| for calibration
// files without min/max), s8 weights with one scale per output channel (max |w| over 127), s32
// accumulation, then in f32: output scale (s_x · s_w[oc]), bias, SiLU, residual add, and, when
// the output only feeds other int8 convolutions, requantization to u8 with its own scale.
// Some convolutions stay out of int8 by their place in the graph (int8_excluded, bf16 instead):
// the fine levels (input at 1/8 of the image's resolution or more) and the detect head's
// branches (the last convolutions: box and class logits, DFL; the single-reader chains that feed
// only them).
// Quantization error per product term is at most s_x·|w|/2 + s_w·|x|/2 (rounding both factors).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "backends/cpu/cpu_run.h"
#include "fungen/calibration.h"
#include "util/assert.h"

namespace fungen::cpu {
namespace {

using dt = memory::data_type;
using tag = memory::format_tag;

// How int8 holds one activation tensor: real = scale * (q - zero).
struct Quant {
  dt type = dt::undef;  // undef: no calibrated range
  float scale = 0.0f;
  int zero = 0;
};

// The range int8 quantizes `value` to. Default: u8 over the calibrated [min, max] (both include
// 0, so zero is exact: the padding of a convolution); clipping outliers (percentiles) measured
// worse on a trained detector, whose objects are the large activations. FUNGEN_INT8_RANGE=absmax
// (symmetric s8 over the largest |x|) or p9999 (symmetric s8 over the 99.99th percentile of |x|)
// select the earlier schemes, for comparisons.
Quant calibrated(const CpuRun& run, int value) {
  static const std::string scheme = [] {
    const char* e = std::getenv("FUNGEN_INT8_RANGE");
    return std::string(e ? e : "");
  }();
  const CalibrationTable& t = *run.options().calibration;
  const std::string& name = run.graph().values[static_cast<size_t>(value)].name;
  Quant q;
  auto lo = t.min.find(name), hi = t.max.find(name);
  if (scheme.empty() && lo != t.min.end() && hi != t.max.end()) {
    const float a = std::min(lo->second, 0.0f), b = std::max(hi->second, 0.0f);
    if (!(b - a > 0.0f) || !std::isfinite(b - a)) return q;
    if (a == 0.0f) {  // no negative values (the image): u8 without zero point, k/255 exact
      q.type = dt::u8;
      q.scale = b / 255.0f;
      return q;
    }
    // s8 with the zero point moved by -128 (same 256 steps as u8): oneDNN 2.6's brgconv_1x1
    // computed some u8 shapes wrong (c 35, m 30 in test_cpu_int8), its s8 path is the tested one.
    q.type = dt::s8;
    q.scale = (b - a) / 255.0f;
    q.zero = static_cast<int>(std::clamp(std::nearbyint(-a / q.scale), 0.0f, 255.0f)) - 128;
    return q;
  }
  float m = 0.0f;
  if (scheme == "p9999") {
    auto it = t.p9999.find(name);
    if (it != t.p9999.end()) m = it->second;
  }
  if (!(m > 0.0f)) {
    auto it = t.absmax.find(name);
    if (it != t.absmax.end()) m = it->second;
  }
  if (!(m > 0.0f) || !std::isfinite(m)) return q;
  q.type = dt::s8;
  q.scale = m / 127.0f;
  return q;
}

bool is_conv(const Node& n) {
  return n.op_type == "Conv" || n.op_type == "FusedConv";
}

// Does `y` feed int8 convolutions only (as their data input), so it can stay u8/s8?
bool feeds_int8_convs_only(const CpuRun& run, int y) {
  if (run.leaves_run(y) || run.is_placed(y) || calibrated(run, y).type == dt::undef) return false;
  std::vector<const Node*> readers = run.readers(y);
  if (readers.empty()) return false;
  for (const Node* r : readers) {
    if (!is_conv(*r) || int8_excluded(run, *r)) return false;
    for (size_t i = 1; i < r->inputs.size(); ++i) {
      if (r->inputs[i] == y) return false;
    }
    if (!run.is_constant(r->inputs[1])) return false;
  }
  return true;
}

}  // namespace

bool int8_excluded(const CpuRun& run, const Node& conv) {
  // The fine levels: a convolution whose input has 1/8 of the image's height and width or more
  // (YOLO's stem, its first stages and the neck's P3 level), where boxes get their pixel
  // precision. Measured on a trained YOLO11n: these convolutions alone in int8 lost 1-5 of 99
  // fp32 detections each; in bf16 they cost no time against int8 (the quantize steps between
  // them go too). FUNGEN_INT8_FINE_LEVELS=int8 quantizes them as well.
  const char* fine = std::getenv("FUNGEN_INT8_FINE_LEVELS");
  if (!(fine && std::string(fine) == "int8") && !run.graph().inputs.empty()) {
    const Shape& image = run.shape(run.graph().inputs[0]);
    const Shape& xs = run.shape(conv.inputs[0]);
    if (image.size() == 4 && xs.size() == 4 && xs[2] * 8 >= image[2] && xs[3] * 8 >= image[3])
      return true;
  }
  // The last convolution of a branch: the detect head's box (DFL logits) and class logits, and
  // the DFL expectation, whose 0..15 weights s8 cannot hold exactly.
  const int y = conv.outputs[0];
  if (!run.feeds_conv(y)) return true;
  // A convolution whose output is read by one convolution only, itself excluded: the head's
  // per-branch stacks (YOLOv8/11: cv2.i.0 → cv2.i.1 → cv2.i.2, cv3.i.*). The logits amplify
  // every rounding upstream of them; measured on a trained YOLO11n, each such convolution alone
  // in int8 lost 1-13 of 99 fp32 detections. A feature map with several readers (the neck's
  // outputs) or a value the run hands on ends the chain.
  std::vector<const Node*> readers = run.readers(y);
  return !run.leaves_run(y) && readers.size() == 1 && is_conv(*readers[0]) &&
         readers[0]->inputs[0] == y && int8_excluded(run, *readers[0]);
}

Status lower_conv_int8(CpuRun& run, const Node& node) {
  const int x = node.inputs[0], w = node.inputs[1];
  const int b = node.inputs.size() > 2 ? node.inputs[2] : -1;
  const int z = node.inputs.size() > 3 ? node.inputs[3] : -1;
  const int y = node.outputs[0];
  if (int8_excluded(run, node)) return unsupported("the detect head's branches stay out of int8");
  const Quant qx = calibrated(run, x);
  if (qx.type == dt::undef) {
    return unsupported("no calibrated range for '" +
                       run.graph().values[static_cast<size_t>(x)].name + "'");
  }
  const float sx = qx.scale;
  ConvGeometry g;
  FUNGEN_RETURN_IF_ERROR(conv_geometry(run, node, &g));
  const bool silu = node.attr_string("activation", "") == "silu";
  const bool grouped = g.weights.size() == 5;
  const bool s8_out = feeds_int8_convs_only(run, y);
  const Quant qy = s8_out ? calibrated(run, y) : Quant{};
  const float sy = qy.scale;

  // Weights: per output channel, symmetric. Bias in the accumulator's units (oneDNN 2.x adds
  // it before the output scale).
  const Tensor& wt = run.constant(w);
  const float* wp = wt.data<float>();
  const int64_t oc = g.bias[0];
  const int64_t per = wt.numel() / oc;
  std::vector<int8_t> wq(static_cast<size_t>(wt.numel()));
  std::vector<float> oscale(static_cast<size_t>(oc)), bias(static_cast<size_t>(oc), 0.0f);
  const float* bp = b >= 0 ? run.constant(b).data<float>() : nullptr;
  // The input's zero point: without padding it is a bias term (Σ w·(q - zero) = Σ w·q - zero·Σ w);
  // with padding oneDNN's source zero point, which also keeps the padding at real 0. (oneDNN
  // 2.6's brgconv_1x1 got some shapes wrong with a source zero point: c 35, m 30 measured.)
  const bool unpadded =
      std::all_of(g.pad_l.begin(), g.pad_l.end(), [](auto p) { return p == 0; }) &&
      std::all_of(g.pad_r.begin(), g.pad_r.end(), [](auto p) { return p == 0; });
  const int zero_attr = unpadded ? 0 : qx.zero;
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
    if (unpadded && qx.zero != 0) {
      int64_t sum = 0;
      for (int64_t i = 0; i < per; ++i) sum += wq[static_cast<size_t>(o * per + i)];
      bias[static_cast<size_t>(o)] -= static_cast<float>(qx.zero) * static_cast<float>(sum);
    }
  }
  // Without SiLU or residual the requantization folds into the output scale and the bias
  // (dst = oscale · (acc + bias) + zero = oscale · (acc + bias + zero / oscale)).
  const bool fold = s8_out && !silu && z < 0;
  if (fold) {
    for (size_t o = 0; o < oscale.size(); ++o) {
      oscale[o] /= sy;
      bias[o] += static_cast<float>(qy.zero) / oscale[o];
    }
  }

  const memory::desc weights_any(g.weights, dt::s8, tag::any);
  const memory::desc bias_desc(g.bias, dt::f32, tag::a);
  const dt out_t = s8_out ? qy.type : dt::f32;
  auto make_pd = [&](tag layout, int residual_buf) {
    const memory::desc src(g.src, qx.type, layout), dst(g.dst, out_t, layout);
    dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference,
                                      dnnl::algorithm::convolution_direct, src, weights_any,
                                      bias_desc, dst, g.strides, g.dilations, g.pad_l, g.pad_r);
    dnnl::post_ops ops;
    if (silu) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_swish, 1.0f, 0.0f);
    if (residual_buf >= 0)
      ops.append_binary(dnnl::algorithm::binary_add, run.buf(residual_buf).desc);
    if (s8_out && !fold)
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_linear, 1.0f / sy,
                         static_cast<float>(qy.zero));
    dnnl::primitive_attr attr;
    attr.set_output_scales(1 << 1, oscale);
    if (zero_attr != 0) attr.set_zero_points(DNNL_ARG_SRC, 0, {zero_attr});
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
  // Every reader derives the same parameters from the calibration.
  FUNGEN_ASSERT(run.scale_of(x) <= 0.0f || (run.scale_of(x) == sx && run.zero_of(x) == qx.zero));
  run.set_scale(x, sx, qx.zero);
  const int xbuf = run.get(x, pd.src_desc());
  if (s8_out) run.set_scale(y, sy, qy.zero);
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
