// Shape functions of the broadcasting elementwise ops: binary arithmetic, variadic Sum/Mean/Max/
// Min, comparisons, logic, PRelu and Where. Shapes broadcast numpy-style (multidirectional).
#include <string>

#include "ops/elementwise_dtypes.h"
#include "ops/op.h"
#include "ops/op_util.h"

namespace fungen {
namespace {

Status check_all_present(InferContext& ctx, size_t min_inputs, size_t max_inputs) {
  size_t n = ctx.num_inputs();
  if (n < min_inputs || n > max_inputs) {
    return ctx.invalid("expects " + std::to_string(min_inputs) +
                       (max_inputs != min_inputs ? " or more" : "") + " inputs, got " +
                       std::to_string(n));
  }
  for (size_t i = 0; i < n; ++i) {
    if (!ctx.has_input(i)) return ctx.invalid("input " + std::to_string(i) + " is missing");
  }
  return Status();
}

// Broadcast shape of inputs [first, num_inputs).
Status broadcast_inputs(InferContext& ctx, size_t first, Shape* out) {
  *out = ctx.input_shape(first);
  for (size_t i = first + 1; i < ctx.num_inputs(); ++i) {
    std::optional<Shape> s = broadcast_shapes(*out, ctx.input_shape(i));
    if (!s) {
      return ctx.invalid("input shapes " + shape_to_string(*out) + " and " +
                         shape_to_string(ctx.input_shape(i)) + " do not broadcast");
    }
    *out = *s;
  }
  return Status();
}

// All inputs (at least `min_inputs`, at most `max_inputs`) share a dtype in `types`; the output
// has the broadcast shape and dtype `out_dtype` (the input dtype when undefined).
template <class... Ts>
Status infer_broadcast(InferContext& ctx, TypeList<Ts...> types, size_t min_inputs,
                       size_t max_inputs, DType out_dtype = DType::kUndefined) {
  FUNGEN_RETURN_IF_ERROR(check_all_present(ctx, min_inputs, max_inputs));
  FUNGEN_RETURN_IF_ERROR(check_dtype(ctx, types, 0));
  for (size_t i = 1; i < ctx.num_inputs(); ++i) {
    if (ctx.input_dtype(i) != ctx.input_dtype(0)) {
      return ctx.invalid("input " + std::to_string(i) + " dtype " + dtype_name(ctx.input_dtype(i)) +
                         " differs from input 0 dtype " + dtype_name(ctx.input_dtype(0)));
    }
  }
  Shape out;
  FUNGEN_RETURN_IF_ERROR(broadcast_inputs(ctx, 0, &out));
  ctx.set_output(0, out_dtype == DType::kUndefined ? ctx.input_dtype(0) : out_dtype, out);
  return Status();
}

constexpr size_t kVariadicMax = 1 << 20;

}  // namespace

Status infer_Add(InferContext& ctx) {
  return infer_broadcast(ctx, NumericTypes{}, 2, 2);
}
Status infer_Sub(InferContext& ctx) {
  return infer_broadcast(ctx, NumericTypes{}, 2, 2);
}
Status infer_Mul(InferContext& ctx) {
  return infer_broadcast(ctx, NumericTypes{}, 2, 2);
}
Status infer_Div(InferContext& ctx) {
  return infer_broadcast(ctx, NumericTypes{}, 2, 2);
}
Status infer_Max(InferContext& ctx) {
  return infer_broadcast(ctx, NumericTypes{}, 1, kVariadicMax);
}
Status infer_Min(InferContext& ctx) {
  return infer_broadcast(ctx, NumericTypes{}, 1, kVariadicMax);
}
Status infer_Sum(InferContext& ctx) {
  return infer_broadcast(ctx, NumericTypes{}, 1, kVariadicMax);
}
Status infer_Mean(InferContext& ctx) {
  return infer_broadcast(ctx, FloatTypes{}, 1, kVariadicMax);
}
Status infer_Equal(InferContext& ctx) {
  return infer_broadcast(ctx, NumericBoolTypes{}, 2, 2, DType::kBool);
}
Status infer_Less(InferContext& ctx) {
  return infer_broadcast(ctx, NumericTypes{}, 2, 2, DType::kBool);
}
Status infer_Greater(InferContext& ctx) {
  return infer_broadcast(ctx, NumericTypes{}, 2, 2, DType::kBool);
}
Status infer_LessOrEqual(InferContext& ctx) {
  return infer_broadcast(ctx, NumericTypes{}, 2, 2, DType::kBool);
}
Status infer_GreaterOrEqual(InferContext& ctx) {
  return infer_broadcast(ctx, NumericTypes{}, 2, 2, DType::kBool);
}
Status infer_And(InferContext& ctx) {
  return infer_broadcast(ctx, BoolTypes{}, 2, 2);
}
Status infer_Or(InferContext& ctx) {
  return infer_broadcast(ctx, BoolTypes{}, 2, 2);
}
Status infer_Xor(InferContext& ctx) {
  return infer_broadcast(ctx, BoolTypes{}, 2, 2);
}

Status infer_Mod(InferContext& ctx) {
  int64_t fmod = ctx.node().attr_int("fmod", 0);
  if (fmod != 0 && fmod != 1) {
    return ctx.invalid("attribute fmod=" + std::to_string(fmod) + " must be 0 or 1");
  }
  FUNGEN_RETURN_IF_ERROR(infer_broadcast(ctx, NumericTypes{}, 2, 2));
  if (fmod == 0 && dtype_in(FloatTypes{}, ctx.input_dtype(0))) {
    return ctx.invalid("attribute fmod=0 is invalid for floating-point inputs (" +
                       dtype_name(ctx.input_dtype(0)) + "); the spec requires fmod=1");
  }
  return Status();
}

Status infer_BitShift(InferContext& ctx) {
  std::string direction = ctx.node().attr_string("direction", "");
  if (direction != "LEFT" && direction != "RIGHT") {
    return ctx.invalid("attribute direction='" + direction + "' must be 'LEFT' or 'RIGHT'");
  }
  return infer_broadcast(ctx, UnsignedTypes{}, 2, 2);
}

using PowTypes = TypeList<float, double, int32_t, int64_t>;

// Base and exponent may differ in dtype; the output has the base's.
Status infer_Pow(InferContext& ctx) {
  FUNGEN_RETURN_IF_ERROR(check_all_present(ctx, 2, 2));
  FUNGEN_RETURN_IF_ERROR(check_dtype(ctx, PowTypes{}, 0));
  FUNGEN_RETURN_IF_ERROR(check_dtype(ctx, NumericTypes{}, 1));
  Shape out;
  FUNGEN_RETURN_IF_ERROR(broadcast_inputs(ctx, 0, &out));
  ctx.set_output(0, ctx.input_dtype(0), out);
  return Status();
}

// The slope broadcasts to X (unidirectionally); the output has X's shape.
Status infer_PRelu(InferContext& ctx) {
  FUNGEN_RETURN_IF_ERROR(infer_broadcast(ctx, SignedNumericTypes{}, 2, 2));
  std::optional<Shape> s = broadcast_shapes(ctx.input_shape(0), ctx.input_shape(1));
  if (!s || *s != ctx.input_shape(0)) {
    return ctx.invalid("slope shape " + shape_to_string(ctx.input_shape(1)) +
                       " does not broadcast to X shape " + shape_to_string(ctx.input_shape(0)));
  }
  return Status();
}

Status infer_Where(InferContext& ctx) {
  FUNGEN_RETURN_IF_ERROR(check_all_present(ctx, 3, 3));
  if (ctx.input_dtype(0) != DType::kBool) {
    return ctx.invalid("condition dtype " + dtype_name(ctx.input_dtype(0)) + " must be bool");
  }
  FUNGEN_RETURN_IF_ERROR(check_dtype(ctx, NumericBoolTypes{}, 1));
  if (ctx.input_dtype(2) != ctx.input_dtype(1)) {
    return ctx.invalid("X dtype " + dtype_name(ctx.input_dtype(1)) + " and Y dtype " +
                       dtype_name(ctx.input_dtype(2)) + " differ");
  }
  Shape out;
  FUNGEN_RETURN_IF_ERROR(broadcast_inputs(ctx, 0, &out));
  ctx.set_output(0, ctx.input_dtype(1), out);
  return Status();
}

}  // namespace fungen
