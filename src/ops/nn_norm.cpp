// Shape functions of BatchNormalization (inference mode), InstanceNormalization,
// LayerNormalization and LRN.
#include <string>

#include "ops/elementwise_dtypes.h"
#include "ops/op.h"
#include "ops/op_util.h"

namespace fungen {
namespace {

Status check_float_inputs(InferContext& ctx, size_t min_inputs, size_t max_inputs) {
  const size_t n = ctx.num_inputs();
  if (n < min_inputs || n > max_inputs) {
    return ctx.invalid("expects " + std::to_string(min_inputs) + " to " +
                       std::to_string(max_inputs) + " inputs, got " + std::to_string(n));
  }
  for (size_t i = 0; i < min_inputs; ++i) {
    if (!ctx.has_input(i)) return ctx.invalid("input " + std::to_string(i) + " is missing");
  }
  const DType d = ctx.input_dtype(0);
  if (!dtype_in(FloatTypes{}, d)) {
    return ctx.fail(StatusCode::kUnsupported,
                    "dtype " + dtype_name(d) + " not supported (supported: float32, float64)");
  }
  for (size_t i = 1; i < n; ++i) {
    if (ctx.has_input(i) && ctx.input_dtype(i) != d) {
      return ctx.fail(StatusCode::kUnsupported, "input " + std::to_string(i) + " dtype " +
                                                    dtype_name(ctx.input_dtype(i)) +
                                                    " differs from X dtype " + dtype_name(d) +
                                                    "; mixed dtypes are not supported");
    }
  }
  if (ctx.input_rank(0) < 2) {
    return ctx.invalid("X must have rank >= 2 (N, C, ...), got " +
                       shape_to_string(ctx.input_shape(0)));
  }
  return Status();
}

Status check_per_channel(InferContext& ctx, size_t first, size_t last) {
  const int64_t c = ctx.input_shape(0)[1];
  for (size_t i = first; i <= last; ++i) {
    if (ctx.input_shape(i) != Shape{c}) {
      return ctx.invalid("input " + std::to_string(i) + " shape " +
                         shape_to_string(ctx.input_shape(i)) + " must be [" + std::to_string(c) +
                         "] (one value per channel)");
    }
  }
  return Status();
}

}  // namespace

Status infer_BatchNormalization(InferContext& ctx) {
  FUNGEN_RETURN_IF_ERROR(check_float_inputs(ctx, 5, 5));
  const int64_t training = ctx.node().attr_int("training_mode", 0);
  if (training != 0) {
    return ctx.unsupported_attr("attribute training_mode=" + std::to_string(training) +
                                " is not supported (inference only)");
  }
  const int64_t spatial = ctx.node().attr_int("spatial", 1);
  if (spatial != 1) {
    return ctx.unsupported_attr("attribute spatial=" + std::to_string(spatial) +
                                " is not supported");
  }
  for (size_t i = 1; i < ctx.num_outputs(); ++i) {
    if (ctx.has_output(i)) {
      return ctx.fail(StatusCode::kUnsupported,
                      "training outputs (running mean/var, saved statistics) are not supported");
    }
  }
  FUNGEN_RETURN_IF_ERROR(check_per_channel(ctx, 1, 4));
  ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(0));
  return Status();
}

Status infer_InstanceNormalization(InferContext& ctx) {
  FUNGEN_RETURN_IF_ERROR(check_float_inputs(ctx, 3, 3));
  if (ctx.input_rank(0) < 3) {
    return ctx.invalid("X must have rank >= 3 (N, C, spatial...), got " +
                       shape_to_string(ctx.input_shape(0)));
  }
  FUNGEN_RETURN_IF_ERROR(check_per_channel(ctx, 1, 2));
  ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(0));
  return Status();
}

Status infer_LRN(InferContext& ctx) {
  FUNGEN_RETURN_IF_ERROR(check_float_inputs(ctx, 1, 1));
  const int64_t size = ctx.node().attr_int("size", 0);
  if (size < 1)
    return ctx.invalid("attribute size=" + std::to_string(size) + " must be given and >= 1");
  ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(0));
  return Status();
}

// Y, and optionally Mean and InvStdDev of shape X[:axis] + [1] * (rank - axis).
Status infer_LayerNormalization(InferContext& ctx) {
  const size_t n = ctx.num_inputs();
  if (n < 2 || n > 3 || !ctx.has_input(0) || !ctx.has_input(1))
    return ctx.invalid("expects X, Scale and an optional B");
  const DType d = ctx.input_dtype(0);
  if (!dtype_in(FloatTypes{}, d)) {
    return ctx.fail(StatusCode::kUnsupported,
                    "dtype " + dtype_name(d) + " not supported (supported: float32, float64)");
  }
  for (size_t i = 1; i < n; ++i) {
    if (ctx.has_input(i) && ctx.input_dtype(i) != d) {
      return ctx.fail(
          StatusCode::kUnsupported,
          "input " + std::to_string(i) + " dtype differs from X; mixed dtypes are not supported");
    }
  }
  const int64_t stash = ctx.node().attr_int("stash_type", 1);
  if (stash != 1)
    return ctx.unsupported_attr("attribute stash_type=" + std::to_string(stash) +
                                " is not supported (only 1)");
  const Shape& x = ctx.input_shape(0);
  const int rank = static_cast<int>(x.size());
  const int64_t axis_attr = ctx.node().attr_int("axis", -1);
  std::optional<int> axis = normalize_axis(axis_attr, rank);
  if (!axis)
    return ctx.invalid("attribute axis=" + std::to_string(axis_attr) +
                       " is out of range for rank " + std::to_string(rank));
  const Shape norm(x.begin() + *axis, x.end());
  for (size_t i = 1; i < n; ++i) {
    if (!ctx.has_input(i)) continue;
    std::optional<Shape> s = broadcast_shapes(norm, ctx.input_shape(i));
    if (!s || *s != norm) {
      return ctx.invalid("input " + std::to_string(i) + " shape " +
                         shape_to_string(ctx.input_shape(i)) +
                         " does not broadcast to the normalized shape " + shape_to_string(norm));
    }
  }
  ctx.set_output(0, d, x);
  Shape stats = x;
  for (size_t i = static_cast<size_t>(*axis); i < stats.size(); ++i) stats[i] = 1;
  ctx.set_output(1, d, stats);
  ctx.set_output(2, d, stats);
  return Status();
}

}  // namespace fungen
