// tensor_gather.cpp — shape functions of the indexing ops: Gather, GatherElements, GatherND,
// ScatterND, ScatterElements, OneHot. Kernels: backends/reference/tensor_gather.cpp.
#include <algorithm>
#include <string>

#include "ops/op.h"
#include "ops/op_util.h"
#include "ops/tensor_params.h"

namespace fungen {

using tensor_ops::check_max_rank;
using tensor_ops::is_index_dtype;
using tensor_ops::require_constant;

namespace {

Status check_indices(const InferContext& ctx, size_t i) {
  if (!is_index_dtype(ctx.input_dtype(i)))
    return ctx.invalid("input 'indices' must be int32 or int64 (got " +
                       dtype_name(ctx.input_dtype(i)) + ")");
  return Status();
}

Status check_data(const InferContext& ctx) {
  if (dtype_size(ctx.input_dtype(0)) == 0)
    return ctx.unsupported_attr("dtype " + dtype_name(ctx.input_dtype(0)) + " is not supported");
  return check_max_rank(ctx, ctx.input_rank(0), "input 'data'");
}

// Reduction attribute of the Scatter ops; the kernel re-reads it.
Status check_reduction(const InferContext& ctx) {
  std::string r = ctx.node().attr_string("reduction", "none");
  if (r == "none") return Status();
  if ((r == "add" || r == "mul") && ctx.opset() >= 16) return Status();
  if ((r == "max" || r == "min") && ctx.opset() >= 18) return Status();
  return ctx.invalid("attribute reduction='" + r + "' is not valid at this opset");
}

}  // namespace

Status infer_Gather(InferContext& ctx) {
  FUNGEN_RETURN_IF_ERROR(check_data(ctx));
  FUNGEN_RETURN_IF_ERROR(check_indices(ctx, 1));
  const Shape& data = ctx.input_shape(0);
  const Shape& idx = ctx.input_shape(1);
  const int rank = static_cast<int>(data.size());
  if (rank == 0) return ctx.invalid("input 'data' must have rank >= 1");
  const int64_t a = ctx.node().attr_int("axis", 0);
  auto axis = normalize_axis(a, rank);
  if (!axis)
    return ctx.invalid("axis " + std::to_string(a) + " out of range for rank " +
                       std::to_string(rank));
  Shape out(data.begin(), data.begin() + *axis);
  out.insert(out.end(), idx.begin(), idx.end());
  out.insert(out.end(), data.begin() + *axis + 1, data.end());
  FUNGEN_RETURN_IF_ERROR(check_max_rank(ctx, static_cast<int>(out.size()), "the output"));
  ctx.set_output(0, ctx.input_dtype(0), std::move(out));
  return Status();
}

Status infer_GatherElements(InferContext& ctx) {
  FUNGEN_RETURN_IF_ERROR(check_data(ctx));
  FUNGEN_RETURN_IF_ERROR(check_indices(ctx, 1));
  const int rank = ctx.input_rank(0);
  if (ctx.input_rank(1) != rank)
    return ctx.invalid("inputs 'data' and 'indices' must have the same rank");
  const int64_t a = ctx.node().attr_int("axis", 0);
  if (!normalize_axis(a, rank)) return ctx.invalid("axis " + std::to_string(a) + " out of range");
  ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(1));
  return Status();
}

Status infer_GatherND(InferContext& ctx) {
  FUNGEN_RETURN_IF_ERROR(check_data(ctx));
  if (ctx.input_dtype(1) != DType::kInt64) return ctx.invalid("input 'indices' must be int64");
  const Shape& data = ctx.input_shape(0);
  const Shape& idx = ctx.input_shape(1);
  const int64_t b = ctx.node().attr_int("batch_dims", 0);
  const int64_t r = static_cast<int64_t>(data.size()), q = static_cast<int64_t>(idx.size());
  if (q < 1 || r < 1) return ctx.invalid("inputs must have rank >= 1");
  if (b < 0 || b >= std::min(r, q))
    return ctx.invalid("attribute batch_dims=" + std::to_string(b) + " out of range");
  for (int64_t i = 0; i < b; ++i)
    if (data[static_cast<size_t>(i)] != idx[static_cast<size_t>(i)])
      return ctx.invalid("batch dims of 'data' and 'indices' differ");
  const int64_t m = idx.back();
  if (m < 1 || m > r - b)
    return ctx.invalid("indices' last dim " + std::to_string(m) + " out of range");
  Shape out(idx.begin(), idx.end() - 1);
  out.insert(out.end(), data.begin() + b + m, data.end());
  FUNGEN_RETURN_IF_ERROR(check_max_rank(ctx, static_cast<int>(out.size()), "the output"));
  ctx.set_output(0, ctx.input_dtype(0), std::move(out));
  return Status();
}

Status infer_ScatterND(InferContext& ctx) {
  FUNGEN_RETURN_IF_ERROR(check_data(ctx));
  FUNGEN_RETURN_IF_ERROR(check_reduction(ctx));
  if (ctx.input_dtype(1) != DType::kInt64) return ctx.invalid("input 'indices' must be int64");
  if (ctx.input_dtype(2) != ctx.input_dtype(0))
    return ctx.invalid("input 'updates' must have the data's dtype");
  const Shape& data = ctx.input_shape(0);
  const Shape& idx = ctx.input_shape(1);
  const Shape& upd = ctx.input_shape(2);
  if (idx.empty()) return ctx.invalid("input 'indices' must have rank >= 1");
  const int64_t m = idx.back();
  if (m < 1 || m > static_cast<int64_t>(data.size()))
    return ctx.invalid("indices' last dim out of range");
  Shape want(idx.begin(), idx.end() - 1);
  want.insert(want.end(), data.begin() + m, data.end());
  if (upd != want)
    return ctx.invalid("input 'updates' has shape " + shape_to_string(upd) + ", expected " +
                       shape_to_string(want));
  ctx.set_output(0, ctx.input_dtype(0), data);
  return Status();
}

Status infer_ScatterElements(InferContext& ctx) {
  FUNGEN_RETURN_IF_ERROR(check_data(ctx));
  FUNGEN_RETURN_IF_ERROR(check_reduction(ctx));
  FUNGEN_RETURN_IF_ERROR(check_indices(ctx, 1));
  if (ctx.input_dtype(2) != ctx.input_dtype(0))
    return ctx.invalid("input 'updates' must have the data's dtype");
  const int rank = ctx.input_rank(0);
  if (ctx.input_rank(1) != rank || ctx.input_shape(1) != ctx.input_shape(2))
    return ctx.invalid("inputs 'indices' and 'updates' must have one shape, of the data's rank");
  if (!normalize_axis(ctx.node().attr_int("axis", 0), rank))
    return ctx.invalid("attribute 'axis' out of range");
  ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(0));
  return Status();
}

Status infer_OneHot(InferContext& ctx) {
  const Tensor* depth = nullptr;
  FUNGEN_RETURN_IF_ERROR(require_constant(ctx, 1, "depth", &depth));
  if (depth->numel() != 1) return ctx.invalid("input 'depth' must hold one value");
  double d = 0;
  switch (depth->dtype()) {
    case DType::kFloat32:
      d = depth->data<float>()[0];
      break;
    case DType::kFloat64:
      d = depth->data<double>()[0];
      break;
    case DType::kInt32:
    case DType::kInt64:
      d = static_cast<double>(tensor_ops::int_at(*depth, 0));
      break;
    default:
      return ctx.unsupported_attr("input 'depth' of dtype " + dtype_name(depth->dtype()));
  }
  if (d < 1) return ctx.invalid("input 'depth' must be positive");
  const DType it = ctx.input_dtype(0);
  if (it != DType::kFloat32 && it != DType::kFloat64 && !is_index_dtype(it))
    return ctx.unsupported_attr("input 'indices' of dtype " + dtype_name(it));
  if (shape_numel(ctx.input_shape(2)) != 2)
    return ctx.invalid("input 'values' must hold [off, on]");
  if (dtype_size(ctx.input_dtype(2)) == 0)
    return ctx.unsupported_attr("values of dtype " + dtype_name(ctx.input_dtype(2)));
  const Shape& in = ctx.input_shape(0);
  const int out_rank = static_cast<int>(in.size()) + 1;
  FUNGEN_RETURN_IF_ERROR(check_max_rank(ctx, out_rank, "the output"));
  auto axis = normalize_axis(ctx.node().attr_int("axis", -1), out_rank);
  if (!axis) return ctx.invalid("attribute 'axis' out of range");
  Shape out = in;
  out.insert(out.begin() + *axis, static_cast<int64_t>(d));
  ctx.set_output(0, ctx.input_dtype(2), std::move(out));
  return Status();
}

}  // namespace fungen
