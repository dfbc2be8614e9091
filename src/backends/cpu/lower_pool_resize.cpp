// MaxPool → oneDNN max pooling; Resize (nearest, integer up-scaling, the modes where oneDNN's
// nearest neighbour picks the same source pixel) → oneDNN nearest resampling. Both keep the
// input's layout.
#include <string>

#include "backends/cpu/cpu_run.h"
#include "ops/nn_window.h"

namespace fungen::cpu {

using dt = memory::data_type;

Status lower_pool(CpuRun& run, const Node& node) {
  const int x = node.inputs[0], y = node.outputs[0];
  if (node.outputs.size() > 1 && node.outputs[1] >= 0) return unsupported("MaxPool indices output");
  const Shape& xs = run.shape(x);
  if (xs.size() != 4) return unsupported("only 2-D pooling");
  std::vector<int64_t> kernel = node.attr_ints("kernel_shape");
  WindowOptions opt;
  opt.ceil_mode_allowed = true;
  WindowGeometry geom;
  Status s = compute_window(node, Shape(xs.begin() + 2, xs.end()), kernel, opt, &geom);
  if (!s.ok()) return unsupported(s.message());
  for (int64_t d : geom.dilations) {
    if (d != 1) return unsupported("dilated pooling");
  }
  const Shape& ys = run.shape(y);
  memory::dims strides = {geom.strides[0], geom.strides[1]}, kdims = {kernel[0], kernel[1]};
  memory::dims pad_l = {geom.pads_begin[0], geom.pads_begin[1]}, pad_r(2);
  for (int i = 0; i < 2; ++i) {  // ceil_mode: oneDNN derives the output size from the padding
    pad_r[i] = (ys[2 + i] - 1) * strides[i] + kdims[i] - xs[2 + i] - pad_l[i];
  }
  memory::desc src = run.desc_of(x);
  if (src.data_type() != dt::f32 && src.data_type() != dt::bf16) return unsupported("dtype");
  memory::desc dst(to_dims(ys), src.data_type(), memory::format_tag::any);
  dnnl::pooling_forward::primitive_desc pd;
  try {
    dnnl::pooling_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::pooling_max,
                                  src, dst, strides, kdims, pad_l, pad_r);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    pd = dnnl::pooling_forward::primitive_desc(d, attr, run.engine());
  } catch (const dnnl::error& e) {
    return unsupported(std::string("oneDNN pooling: ") + e.what());
  }
  int xb = run.get(x, pd.src_desc());
  int yb = run.define(y, pd.dst_desc());
  run.add_primitive(node.name + " (maxpool " + pd.impl_info_str() + ")", dnnl::pooling_forward(pd),
                    {{DNNL_ARG_SRC, xb}, {DNNL_ARG_DST, yb}}, pd.scratchpad_desc());
  return Status();
}

namespace {

// Does oneDNN's nearest resampling (source = round((i + 0.5) / k - 0.5)) pick the pixel ONNX
// asks for, at integer factor k?
bool nearest_matches(const Node& node, int64_t opset, int64_t k) {
  for (const auto& [name, attr] : node.attributes) {
    if (name != "mode" && name != "coordinate_transformation_mode" && name != "nearest_mode" &&
        name != "cubic_coeff_a" && !(name == "exclude_outside" && attr.i == 0)) {
      return false;
    }
  }
  if (node.attr_string("mode", "nearest") != "nearest") return false;
  if (opset < 11) return true;  // asymmetric, floor
  std::string ct = node.attr_string("coordinate_transformation_mode", "half_pixel");
  std::string nm = node.attr_string("nearest_mode", "round_prefer_floor");
  if (ct == "asymmetric") return nm == "floor" || (k == 2 && nm == "round_prefer_floor");
  if (ct == "half_pixel" || ct == "pytorch_half_pixel")
    return nm == "round_prefer_floor" || nm == "round_prefer_ceil";
  return false;
}

}  // namespace

Status lower_resize(CpuRun& run, const Node& node) {
  const int x = node.inputs[0], y = node.outputs[0];
  const Shape& xs = run.shape(x);
  const Shape& ys = run.shape(y);
  if (xs.size() != 4 || xs[0] != ys[0] || xs[1] != ys[1])
    return unsupported("only spatial 2-D resizing");
  if (ys[2] % xs[2] != 0 || ys[3] % xs[3] != 0 || ys[2] / xs[2] != ys[3] / xs[3]) {
    return unsupported("only equal integer up-scaling");
  }
  if (!nearest_matches(node, run.graph().opset, ys[2] / xs[2])) return unsupported("resize mode");
  memory::desc src = run.desc_of(x);
  memory::desc dst(to_dims(ys), src.data_type(), memory::format_tag::any);
  dnnl::resampling_forward::primitive_desc pd;
  try {
    dnnl::resampling_forward::desc d(dnnl::prop_kind::forward_inference,
                                     dnnl::algorithm::resampling_nearest, src, dst);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    pd = dnnl::resampling_forward::primitive_desc(d, attr, run.engine());
  } catch (const dnnl::error& e) {
    return unsupported(std::string("oneDNN resampling: ") + e.what());
  }
  int xb = run.get(x, pd.src_desc());
  int yb = run.define(y, pd.dst_desc());
  run.add_primitive(node.name + " (resize " + pd.impl_info_str() + ")",
                    dnnl::resampling_forward(pd), {{DNNL_ARG_SRC, xb}, {DNNL_ARG_DST, yb}},
                    pd.scratchpad_desc());
  return Status();
}

}  // namespace fungen::cpu
