// tensor_cast.cpp — shape functions of Cast and CastLike (kernels:
// backends/reference/tensor_cast.cpp).
#include <string>

#include "ops/op.h"

namespace fungen {

namespace {

Status check_castable(const InferContext& ctx, DType dt, const char* what) {
  if (dt == DType::kString)
    return ctx.unsupported_attr(std::string(what) + ": string tensors are not supported");
  if (!dtype_is_known(static_cast<int32_t>(dt)) || dtype_size(dt) == 0)
    return ctx.unsupported_attr(std::string(what) + ": dtype " + dtype_name(dt) +
                                " is not supported");
  return Status();
}

}  // namespace

Status infer_Cast(InferContext& ctx) {
  if (!ctx.node().has_attr("to")) return ctx.invalid("attribute 'to' is required");
  const DType to = static_cast<DType>(ctx.node().attr_int("to", 0));
  FUNGEN_RETURN_IF_ERROR(check_castable(ctx, ctx.input_dtype(0), "input"));
  FUNGEN_RETURN_IF_ERROR(check_castable(ctx, to, "attribute 'to'"));
  ctx.set_output(0, to, ctx.input_shape(0));
  return Status();
}

Status infer_CastLike(InferContext& ctx) {
  FUNGEN_RETURN_IF_ERROR(check_castable(ctx, ctx.input_dtype(0), "input"));
  FUNGEN_RETURN_IF_ERROR(check_castable(ctx, ctx.input_dtype(1), "input 'target_type'"));
  ctx.set_output(0, ctx.input_dtype(1), ctx.input_shape(0));
  return Status();
}

}  // namespace fungen
