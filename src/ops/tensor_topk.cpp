// tensor_topk.cpp — shape functions of TopK and CumSum (kernels:
// backends/reference/tensor_topk.cpp).
#include <string>

#include "ops/op.h"
#include "ops/op_util.h"
#include "ops/tensor_params.h"

namespace fungen {

namespace {

bool topk_dtype(DType d) {
  switch (d) {
    case DType::kFloat32:
    case DType::kFloat64:
    case DType::kInt8:
    case DType::kUInt8:
    case DType::kInt16:
    case DType::kUInt16:
    case DType::kInt32:
    case DType::kUInt32:
    case DType::kInt64:
    case DType::kUInt64:
      return true;
    default:
      return false;
  }
}

}  // namespace

Status infer_TopK(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  const int rank = static_cast<int>(in.size());
  if (!topk_dtype(ctx.input_dtype(0)))
    return ctx.unsupported_attr("dtype " + dtype_name(ctx.input_dtype(0)) + " is not supported");
  const int64_t a = ctx.node().attr_int("axis", -1);
  auto axis = normalize_axis(a, rank);
  if (!axis)
    return ctx.invalid("axis " + std::to_string(a) + " out of range for rank " +
                       std::to_string(rank));
  int64_t k = 0;
  if (ctx.opset() < 10) {
    if (!ctx.node().has_attr("k")) return ctx.invalid("attribute 'k' is required");
    k = ctx.node().attr_int("k", 0);
  } else {
    const Tensor* t = nullptr;
    FUNGEN_RETURN_IF_ERROR(tensor_ops::require_constant(ctx, 1, "K", &t));
    if (t->dtype() != DType::kInt64 || t->numel() != 1)
      return ctx.invalid("input 'K' must be one int64");
    k = t->data<int64_t>()[0];
  }
  const int64_t n = in[static_cast<size_t>(*axis)];
  if (k < 0 || k > n)
    return ctx.invalid("k=" + std::to_string(k) + " out of range for axis of size " +
                       std::to_string(n));
  Shape out = in;
  out[static_cast<size_t>(*axis)] = k;
  ctx.set_output(0, ctx.input_dtype(0), out);
  ctx.set_output(1, DType::kInt64, out);
  ctx.request_scratch(static_cast<size_t>(n) * sizeof(int64_t));
  return Status();
}

Status infer_CumSum(InferContext& ctx) {
  const DType d = ctx.input_dtype(0);
  if (d != DType::kFloat32 && d != DType::kFloat64 && d != DType::kInt32 && d != DType::kInt64 &&
      d != DType::kUInt32 && d != DType::kUInt64)
    return ctx.unsupported_attr("dtype " + dtype_name(d) + " is not supported");
  if (!tensor_ops::is_index_dtype(ctx.input_dtype(1)) || shape_numel(ctx.input_shape(1)) != 1)
    return ctx.invalid("input 'axis' must be one int32/int64 value");
  if (const Tensor* t = ctx.input_constant(1)) {
    if (!normalize_axis(tensor_ops::int_at(*t, 0), ctx.input_rank(0)))
      return ctx.invalid("input 'axis' out of range");
  }
  ctx.set_output(0, d, ctx.input_shape(0));
  return Status();
}

}  // namespace fungen
