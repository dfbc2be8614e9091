// Shape functions of Conv and ConvTranspose (1-D to 3-D, grouped, any padding mode).
#include <string>

#include "ops/elementwise_dtypes.h"
#include "ops/nn_window.h"
#include "ops/op.h"

namespace fungen {
namespace {

std::string dims_to_string(const Shape& s) {
  return shape_to_string(s);
}

// Shared checks of X (input 0), W (input 1) and optional B (input 2); fills group and the kernel.
Status check_conv_inputs(InferContext& ctx, bool transpose, int64_t* group,
                         std::vector<int64_t>* kernel) {
  if (ctx.num_inputs() < 2 || ctx.num_inputs() > 3 || !ctx.has_input(0) || !ctx.has_input(1)) {
    return ctx.invalid("expects inputs X, W and an optional B");
  }
  const DType d = ctx.input_dtype(0);
  if (!dtype_in(FloatTypes{}, d)) {
    return ctx.fail(StatusCode::kUnsupported,
                    "dtype " + dtype_name(d) + " not supported (supported: float32, float64)");
  }
  for (size_t i = 1; i < ctx.num_inputs(); ++i) {
    if (ctx.has_input(i) && ctx.input_dtype(i) != d) {
      return ctx.invalid("input " + std::to_string(i) + " dtype " + dtype_name(ctx.input_dtype(i)) +
                         " differs from X dtype " + dtype_name(d));
    }
  }
  const Shape& x = ctx.input_shape(0);
  const Shape& w = ctx.input_shape(1);
  if (x.size() < 3)
    return ctx.invalid("X must have rank >= 3 (N, C, spatial...), got " + dims_to_string(x));
  if (x.size() > 5) {
    return ctx.fail(StatusCode::kUnsupported,
                    "only 1 to 3 spatial dims are supported, X has shape " + dims_to_string(x));
  }
  if (w.size() != x.size()) {
    return ctx.invalid("W shape " + dims_to_string(w) + " must have the rank of X shape " +
                       dims_to_string(x));
  }
  *group = ctx.node().attr_int("group", 1);
  if (*group < 1) return ctx.invalid("attribute group=" + std::to_string(*group) + " must be >= 1");
  const int64_t c = x[1];
  if (c % *group != 0) {
    return ctx.invalid("attribute group=" + std::to_string(*group) + " does not divide the " +
                       std::to_string(c) + " input channels");
  }
  if (transpose) {  // W: [C, M/group, k...]
    if (w[0] != c) {
      return ctx.invalid("W shape " + dims_to_string(w) + " needs " + std::to_string(c) +
                         " input channels in dim 0 (X shape " + dims_to_string(x) + ")");
    }
  } else {  // W: [M, C/group, k...]
    if (w[1] * *group != c) {
      return ctx.invalid("W shape " + dims_to_string(w) + " with group=" + std::to_string(*group) +
                         " does not match the " + std::to_string(c) + " input channels of X");
    }
    if (w[0] % *group != 0) {
      return ctx.invalid("attribute group=" + std::to_string(*group) + " does not divide the " +
                         std::to_string(w[0]) + " output channels of W");
    }
  }
  kernel->assign(w.begin() + 2, w.end());
  if (ctx.node().has_attr("kernel_shape") && ctx.node().attr_ints("kernel_shape") != *kernel) {
    return ctx.invalid(
        "attribute kernel_shape=" + dims_to_string(ctx.node().attr_ints("kernel_shape")) +
        " disagrees with W shape " + dims_to_string(w));
  }
  const int64_t m = transpose ? w[1] * *group : w[0];
  if (ctx.has_input(2) && ctx.input_shape(2) != Shape{m}) {
    return ctx.invalid("B shape " + dims_to_string(ctx.input_shape(2)) + " must be [" +
                       std::to_string(m) + "]");
  }
  return Status();
}

}  // namespace

Status infer_Conv(InferContext& ctx) {
  int64_t group = 1;
  std::vector<int64_t> kernel;
  FUNGEN_RETURN_IF_ERROR(check_conv_inputs(ctx, false, &group, &kernel));
  const Shape& x = ctx.input_shape(0);
  WindowGeometry g;
  Status s = compute_window(ctx.node(), Shape(x.begin() + 2, x.end()), kernel, WindowOptions{}, &g);
  if (!s.ok()) return ctx.fail(s.code(), s.message());
  Shape out = {x[0], ctx.input_shape(1)[0]};
  out.insert(out.end(), g.out.begin(), g.out.end());
  ctx.set_output(0, ctx.input_dtype(0), out);
  return Status();
}

Status infer_ConvTranspose(InferContext& ctx) {
  int64_t group = 1;
  std::vector<int64_t> kernel;
  FUNGEN_RETURN_IF_ERROR(check_conv_inputs(ctx, true, &group, &kernel));
  const Shape& x = ctx.input_shape(0);
  WindowGeometry g;
  Status s = compute_transpose_window(ctx.node(), Shape(x.begin() + 2, x.end()), kernel, &g);
  if (!s.ok()) return ctx.fail(s.code(), s.message());
  Shape out = {x[0], ctx.input_shape(1)[1] * group};
  out.insert(out.end(), g.out.begin(), g.out.end());
  ctx.set_output(0, ctx.input_dtype(0), out);
  return Status();
}

}  // namespace fungen
