// Shape functions of MaxPool, AveragePool, GlobalAveragePool and GlobalMaxPool.
#include <string>

#include "ops/elementwise_dtypes.h"
#include "ops/nn_window.h"
#include "ops/op.h"

namespace fungen {
namespace {

using MaxPoolTypes = TypeList<float, double, int8_t, uint8_t>;

template <class... Ts>
Status check_pool_input(InferContext& ctx, TypeList<Ts...> types, size_t max_spatial) {
  if (ctx.num_inputs() != 1 || !ctx.has_input(0)) return ctx.invalid("expects exactly one input X");
  const DType d = ctx.input_dtype(0);
  if (!dtype_in(types, d)) {
    return ctx.fail(
        StatusCode::kUnsupported,
        "dtype " + dtype_name(d) + " not supported (supported: " + dtype_list_names(types) + ")");
  }
  const Shape& x = ctx.input_shape(0);
  if (x.size() < 3)
    return ctx.invalid("X must have rank >= 3 (N, C, spatial...), got " + shape_to_string(x));
  if (x.size() - 2 > max_spatial) {
    return ctx.fail(StatusCode::kUnsupported, "only 1 to " + std::to_string(max_spatial) +
                                                  " spatial dims are supported, X has shape " +
                                                  shape_to_string(x));
  }
  return Status();
}

Status infer_window_pool(InferContext& ctx, WindowOptions options) {
  const Shape& x = ctx.input_shape(0);
  if (!ctx.node().has_attr("kernel_shape"))
    return ctx.invalid("attribute kernel_shape is required");
  WindowGeometry g;
  Status s = compute_window(ctx.node(), Shape(x.begin() + 2, x.end()),
                            ctx.node().attr_ints("kernel_shape"), options, &g);
  if (!s.ok()) return ctx.fail(s.code(), s.message());
  Shape out = {x[0], x[1]};
  out.insert(out.end(), g.out.begin(), g.out.end());
  ctx.set_output(0, ctx.input_dtype(0), out);
  if (ctx.has_output(1)) ctx.set_output(1, DType::kInt64, out);
  return Status();
}

Status infer_global_pool(InferContext& ctx) {
  FUNGEN_RETURN_IF_ERROR(check_pool_input(ctx, FloatTypes{}, 8));
  Shape out = ctx.input_shape(0);
  for (size_t i = 2; i < out.size(); ++i) out[i] = 1;
  ctx.set_output(0, ctx.input_dtype(0), out);
  return Status();
}

}  // namespace

Status infer_MaxPool(InferContext& ctx) {
  FUNGEN_RETURN_IF_ERROR(check_pool_input(ctx, MaxPoolTypes{}, 3));
  const int64_t storage_order = ctx.node().attr_int("storage_order", 0);
  if (storage_order != 0 && storage_order != 1) {
    return ctx.invalid("attribute storage_order=" + std::to_string(storage_order) +
                       " must be 0 or 1");
  }
  if (ctx.num_outputs() > 2) return ctx.invalid("has at most 2 outputs (Y, Indices)");
  return infer_window_pool(ctx, WindowOptions{true, true});
}

Status infer_AveragePool(InferContext& ctx) {
  FUNGEN_RETURN_IF_ERROR(check_pool_input(ctx, FloatTypes{}, 3));
  const int64_t include = ctx.node().attr_int("count_include_pad", 0);
  if (include != 0 && include != 1) {
    return ctx.invalid("attribute count_include_pad=" + std::to_string(include) +
                       " must be 0 or 1");
  }
  if (ctx.num_outputs() != 1) return ctx.invalid("has exactly one output");
  return infer_window_pool(ctx, WindowOptions{true, true});
}

Status infer_GlobalAveragePool(InferContext& ctx) {
  return infer_global_pool(ctx);
}
Status infer_GlobalMaxPool(InferContext& ctx) {
  return infer_global_pool(ctx);
}

}  // namespace fungen
