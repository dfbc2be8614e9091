// Shape function of the internal FusedConv (list_fused.h): Conv's, plus the residual Z, which
// must have the output's dtype and shape (the fusion pass only fuses an Add without broadcast).
#include <algorithm>
#include <string>

#include "ops/op.h"

namespace fungen {

Status infer_Conv(InferContext& ctx);

Status infer_FusedConv(InferContext& ctx) {
  std::string act = ctx.node().attr_string("activation", "");
  if (act != "" && act != "silu") return ctx.invalid("unknown activation '" + act + "'");
  if (ctx.num_inputs() < 2 || ctx.num_inputs() > 4) {
    return ctx.invalid("expects inputs X, W, optional B and optional residual Z");
  }
  // Conv's checks on X, W, B: a node without Z and the activation attribute.
  Node conv = ctx.node();
  conv.inputs.resize(std::min<size_t>(conv.inputs.size(), 3));
  while (conv.inputs.size() > 2 && conv.inputs.back() < 0) conv.inputs.pop_back();
  conv.attributes.erase("activation");
  // The output value is shared, so Conv's shape function sets it.
  InferContext conv_ctx = ctx.for_node(conv);
  FUNGEN_RETURN_IF_ERROR(infer_Conv(conv_ctx));
  ctx.request_scratch(conv_ctx.scratch_bytes());
  if (ctx.has_input(3)) {
    const Shape& out = ctx.output_shape(0);
    if (ctx.input_shape(3) != out || ctx.input_dtype(3) != ctx.input_dtype(0)) {
      return ctx.invalid("residual Z " + shape_to_string(ctx.input_shape(3)) +
                         " must match the output " + shape_to_string(out));
    }
  }
  return Status();
}

}  // namespace fungen
