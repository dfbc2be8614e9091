// Shape functions of the unary elementwise ops: one input, output of the same shape.
#include <cmath>
#include <string>

#include "ops/elementwise_dtypes.h"
#include "ops/op.h"

namespace fungen {
namespace {

Status check_input_count(InferContext& ctx, size_t min_inputs, size_t max_inputs) {
  size_t n = ctx.num_inputs();
  if (n < min_inputs || n > max_inputs || !ctx.has_input(0)) {
    return ctx.invalid("expects " + std::to_string(min_inputs) +
                       (max_inputs != min_inputs ? " to " + std::to_string(max_inputs) : "") +
                       " inputs, got " + std::to_string(n));
  }
  return Status();
}

// One input of a dtype in `types`; the output has its shape and `out` dtype (same when undefined).
template <class... Ts>
Status infer_unary(InferContext& ctx, TypeList<Ts...> types, DType out = DType::kUndefined) {
  FUNGEN_RETURN_IF_ERROR(check_input_count(ctx, 1, 1));
  FUNGEN_RETURN_IF_ERROR(check_dtype(ctx, types, 0));
  ctx.set_output(0, out == DType::kUndefined ? ctx.input_dtype(0) : out, ctx.input_shape(0));
  return Status();
}

}  // namespace

Status infer_Abs(InferContext& ctx) {
  return infer_unary(ctx, NumericTypes{});
}
Status infer_Neg(InferContext& ctx) {
  return infer_unary(ctx, SignedNumericTypes{});
}
Status infer_Exp(InferContext& ctx) {
  return infer_unary(ctx, FloatTypes{});
}
Status infer_Log(InferContext& ctx) {
  return infer_unary(ctx, FloatTypes{});
}
Status infer_Sqrt(InferContext& ctx) {
  return infer_unary(ctx, FloatTypes{});
}
Status infer_Reciprocal(InferContext& ctx) {
  return infer_unary(ctx, FloatTypes{});
}
Status infer_Floor(InferContext& ctx) {
  return infer_unary(ctx, FloatTypes{});
}
Status infer_Ceil(InferContext& ctx) {
  return infer_unary(ctx, FloatTypes{});
}
Status infer_Round(InferContext& ctx) {
  return infer_unary(ctx, FloatTypes{});
}
Status infer_Sigmoid(InferContext& ctx) {
  return infer_unary(ctx, FloatTypes{});
}
Status infer_Tanh(InferContext& ctx) {
  return infer_unary(ctx, FloatTypes{});
}
Status infer_Relu(InferContext& ctx) {
  return infer_unary(ctx, SignedNumericTypes{});
}
Status infer_LeakyRelu(InferContext& ctx) {
  return infer_unary(ctx, FloatTypes{});
}
Status infer_Elu(InferContext& ctx) {
  return infer_unary(ctx, FloatTypes{});
}
Status infer_Selu(InferContext& ctx) {
  return infer_unary(ctx, FloatTypes{});
}
Status infer_Celu(InferContext& ctx) {
  return infer_unary(ctx, FloatTypes{});
}
Status infer_ThresholdedRelu(InferContext& ctx) {
  return infer_unary(ctx, FloatTypes{});
}
Status infer_HardSigmoid(InferContext& ctx) {
  return infer_unary(ctx, FloatTypes{});
}
Status infer_HardSwish(InferContext& ctx) {
  return infer_unary(ctx, FloatTypes{});
}
Status infer_Softplus(InferContext& ctx) {
  return infer_unary(ctx, FloatTypes{});
}
Status infer_Softsign(InferContext& ctx) {
  return infer_unary(ctx, FloatTypes{});
}
Status infer_Mish(InferContext& ctx) {
  return infer_unary(ctx, FloatTypes{});
}
Status infer_Erf(InferContext& ctx) {
  return infer_unary(ctx, FloatTypes{});
}
Status infer_Sin(InferContext& ctx) {
  return infer_unary(ctx, FloatTypes{});
}
Status infer_Cos(InferContext& ctx) {
  return infer_unary(ctx, FloatTypes{});
}
Status infer_Tan(InferContext& ctx) {
  return infer_unary(ctx, FloatTypes{});
}
Status infer_Asin(InferContext& ctx) {
  return infer_unary(ctx, FloatTypes{});
}
Status infer_Acos(InferContext& ctx) {
  return infer_unary(ctx, FloatTypes{});
}
Status infer_Atan(InferContext& ctx) {
  return infer_unary(ctx, FloatTypes{});
}
Status infer_Sinh(InferContext& ctx) {
  return infer_unary(ctx, FloatTypes{});
}
Status infer_Cosh(InferContext& ctx) {
  return infer_unary(ctx, FloatTypes{});
}
Status infer_Asinh(InferContext& ctx) {
  return infer_unary(ctx, FloatTypes{});
}
Status infer_Acosh(InferContext& ctx) {
  return infer_unary(ctx, FloatTypes{});
}
Status infer_Atanh(InferContext& ctx) {
  return infer_unary(ctx, FloatTypes{});
}
Status infer_Sign(InferContext& ctx) {
  return infer_unary(ctx, NumericTypes{});
}
Status infer_Not(InferContext& ctx) {
  return infer_unary(ctx, BoolTypes{});
}
Status infer_IsNaN(InferContext& ctx) {
  return infer_unary(ctx, FloatTypes{}, DType::kBool);
}
Status infer_IsInf(InferContext& ctx) {
  return infer_unary(ctx, FloatTypes{}, DType::kBool);
}

Status infer_Gelu(InferContext& ctx) {
  std::string approximate = ctx.node().attr_string("approximate", "none");
  if (approximate != "none" && approximate != "tanh") {
    return ctx.unsupported_attr("attribute approximate='" + approximate +
                                "' is not one of 'none', 'tanh'");
  }
  return infer_unary(ctx, FloatTypes{});
}

// Opset 6-10: min/max attributes. Opset >= 11: optional scalar inputs 1 (min) and 2 (max).
Status infer_Clip(InferContext& ctx) {
  if (ctx.opset() < 11) {
    FUNGEN_RETURN_IF_ERROR(check_input_count(ctx, 1, 1));
    return infer_unary(ctx, FloatTypes{});
  }
  if (ctx.node().has_attr("min") || ctx.node().has_attr("max")) {
    return ctx.invalid("attributes min/max were removed in opset 11; pass them as inputs");
  }
  FUNGEN_RETURN_IF_ERROR(check_input_count(ctx, 1, 3));
  FUNGEN_RETURN_IF_ERROR(check_dtype(ctx, NumericTypes{}, 0));
  for (size_t i = 1; i < 3; ++i) {
    if (!ctx.has_input(i)) continue;
    if (ctx.input_dtype(i) != ctx.input_dtype(0)) {
      return ctx.invalid("input " + std::to_string(i) + " dtype " + dtype_name(ctx.input_dtype(i)) +
                         " differs from input dtype " + dtype_name(ctx.input_dtype(0)));
    }
    if (shape_numel(ctx.input_shape(i)) != 1) {
      return ctx.invalid("input " + std::to_string(i) + " (" + (i == 1 ? "min" : "max") +
                         ") must be a scalar, got shape " + shape_to_string(ctx.input_shape(i)));
    }
  }
  ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(0));
  return Status();
}

Status infer_Shrink(InferContext& ctx) {
  return infer_unary(ctx, NumericTypes{});
}

// Inference only: Y = X; the optional mask output is all true. A training_mode input must be a
// constant false.
Status infer_Dropout(InferContext& ctx) {
  FUNGEN_RETURN_IF_ERROR(check_input_count(ctx, 1, ctx.opset() >= 12 ? 3 : 1));
  if (ctx.has_input(2)) {
    const Tensor* training = ctx.input_constant(2);
    if (!training || training->dtype() != DType::kBool || training->numel() != 1) {
      return ctx.fail(StatusCode::kUnsupported,
                      "input training_mode must be a constant bool scalar (inference only)");
    }
    if (*training->data<bool>()) {
      return ctx.fail(StatusCode::kUnsupported,
                      "training_mode=true is not supported (inference only)");
    }
  }
  FUNGEN_RETURN_IF_ERROR(check_dtype(ctx, FloatTypes{}, 0));
  ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(0));
  ctx.set_output(1, DType::kBool, ctx.input_shape(0));
  return Status();
}

}  // namespace fungen
