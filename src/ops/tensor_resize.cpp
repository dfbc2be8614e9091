// tensor_resize.cpp — shape functions of Resize (opset 10..19) and Upsample (7..9).
// Kernels: backends/reference/tensor_resize.cpp; parameters: ops/tensor_params.h.
#include <string>

#include "ops/op.h"
#include "ops/tensor_params.h"

namespace fungen {

using tensor_ops::require_constant;

namespace {

// A present input that holds values (an empty tensor counts as absent, as in ONNX Runtime).
bool holds_values(const InferContext& ctx, size_t i) {
  return ctx.has_input(i) && shape_numel(ctx.input_shape(i)) > 0;
}

Status infer_resize_like(InferContext& ctx, bool upsample) {
  const Shape& in = ctx.input_shape(0);
  FUNGEN_RETURN_IF_ERROR(tensor_ops::check_max_rank(ctx, static_cast<int>(in.size()), "input 'X'"));
  if (in.empty()) return ctx.invalid("input 'X' must have rank >= 1");
  const bool resize10 = !upsample && ctx.opset() < 11;
  const size_t scales_at = (upsample || resize10) ? 1 : 2;
  const Tensor* roi = nullptr;
  const Tensor* scales = nullptr;
  const Tensor* sizes = nullptr;
  if (!(upsample && ctx.opset() < 9)) {
    if (holds_values(ctx, scales_at))
      FUNGEN_RETURN_IF_ERROR(require_constant(ctx, scales_at, "scales", &scales));
    if (!upsample && !resize10 && holds_values(ctx, 3))
      FUNGEN_RETURN_IF_ERROR(require_constant(ctx, 3, "sizes", &sizes));
    if (!scales && !sizes) return ctx.invalid("one of inputs 'scales' and 'sizes' must be given");
  }
  // roi matters only for tf_crop_and_resize; the kernel reads it at run time.
  if (!upsample && !resize10 && ctx.has_input(1)) roi = ctx.input_constant(1);
  tensor_ops::ResizeParams p;
  FUNGEN_RETURN_IF_ERROR(tensor_ops::with_node(
      ctx,
      tensor_ops::resolve_resize(ctx.node(), ctx.opset(), upsample, in, roi, scales, sizes, &p)));
  const DType dt = ctx.input_dtype(0);
  if (p.mode == tensor_ops::ResizeMode::kNearest) {
    if (dtype_size(dt) == 0)
      return ctx.unsupported_attr("dtype " + dtype_name(dt) + " is not supported");
  } else if (dt != DType::kFloat32 && dt != DType::kFloat64) {
    return ctx.unsupported_attr("linear/cubic resize of " + dtype_name(dt) +
                                " is not supported (float32, float64)");
  }
  if (p.mode == tensor_ops::ResizeMode::kCubic) {
    for (int d = 0; d + 2 < p.rank; ++d)
      if (p.out[d] != p.in[d] || p.scale[d] != 1.0f)
        return ctx.unsupported_attr(
            "cubic resize of an axis other than the last two is not supported");
    if (p.rank < 2) return ctx.unsupported_attr("cubic resize needs rank >= 2");
  }
  for (int d = 0; d < p.rank; ++d)
    if (p.out[d] > 0 && p.in[d] == 0)
      return ctx.invalid("cannot resize an empty axis to a non-empty one");
  int64_t taps = 0;
  for (int d = 0; d < p.rank; ++d) taps += p.out[d];
  ctx.request_scratch(static_cast<size_t>(taps) * sizeof(tensor_ops::ResizeTap) + 64);
  ctx.set_output(0, dt, Shape(p.out, p.out + p.rank));
  return Status();
}

}  // namespace

Status infer_Resize(InferContext& ctx) {
  return infer_resize_like(ctx, false);
}
Status infer_Upsample(InferContext& ctx) {
  return infer_resize_like(ctx, true);
}

}  // namespace fungen
