// Shape functions of Softmax, LogSoftmax and Hardmax. Opset >= 13: one axis (default -1). Before
// 13: the input is coerced to 2-D at `axis` (default 1) and each row is normalized.
#include <string>

#include "ops/elementwise_dtypes.h"
#include "ops/op.h"
#include "ops/op_util.h"

namespace fungen {
namespace {

Status infer_softmax(InferContext& ctx) {
  if (ctx.num_inputs() != 1 || !ctx.has_input(0)) return ctx.invalid("expects exactly one input");
  const DType d = ctx.input_dtype(0);
  if (!dtype_in(FloatTypes{}, d)) {
    return ctx.fail(StatusCode::kUnsupported,
                    "dtype " + dtype_name(d) + " not supported (supported: float32, float64)");
  }
  const int rank = ctx.input_rank(0);
  const int64_t axis = ctx.node().attr_int("axis", ctx.opset() >= 13 ? -1 : 1);
  // Before opset 13, axis == rank is allowed (rows of one element).
  const bool ok =
      ctx.opset() >= 13 ? normalize_axis(axis, rank).has_value() : (axis >= -rank && axis <= rank);
  if (!ok || rank == 0) {
    return ctx.invalid("attribute axis=" + std::to_string(axis) + " is out of range for rank " +
                       std::to_string(rank));
  }
  ctx.set_output(0, d, ctx.input_shape(0));
  return Status();
}

}  // namespace

Status infer_Softmax(InferContext& ctx) {
  return infer_softmax(ctx);
}
Status infer_LogSoftmax(InferContext& ctx) {
  return infer_softmax(ctx);
}
Status infer_Hardmax(InferContext& ctx) {
  return infer_softmax(ctx);
}

}  // namespace fungen
