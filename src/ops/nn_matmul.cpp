// Shape functions of MatMul (numpy matmul: batched, broadcast batch dims, 1-D operands) and Gemm.
#include <string>

#include "ops/elementwise_dtypes.h"
#include "ops/op.h"
#include "ops/op_util.h"

namespace fungen {

using MatMulTypes = TypeList<float, double, int32_t, int64_t, uint32_t, uint64_t>;

Status infer_MatMul(InferContext& ctx) {
  if (ctx.num_inputs() != 2 || !ctx.has_input(0) || !ctx.has_input(1))
    return ctx.invalid("expects inputs A and B");
  const DType d = ctx.input_dtype(0);
  if (!dtype_in(MatMulTypes{}, d)) {
    return ctx.fail(StatusCode::kUnsupported,
                    "dtype " + dtype_name(d) +
                        " not supported (supported: " + dtype_list_names(MatMulTypes{}) + ")");
  }
  if (ctx.input_dtype(1) != d) {
    return ctx.invalid("A dtype " + dtype_name(d) + " and B dtype " +
                       dtype_name(ctx.input_dtype(1)) + " differ");
  }
  const Shape& a = ctx.input_shape(0);
  const Shape& b = ctx.input_shape(1);
  if (a.empty() || b.empty()) return ctx.invalid("A and B must have rank >= 1");
  const int64_t ka = a.back();
  const int64_t kb = b.size() == 1 ? b[0] : b[b.size() - 2];
  if (ka != kb) {
    return ctx.invalid("A shape " + shape_to_string(a) + " and B shape " + shape_to_string(b) +
                       " disagree on the inner dimension (" + std::to_string(ka) + " vs " +
                       std::to_string(kb) + ")");
  }
  const Shape a_batch = a.size() > 2 ? Shape(a.begin(), a.end() - 2) : Shape{};
  const Shape b_batch = b.size() > 2 ? Shape(b.begin(), b.end() - 2) : Shape{};
  std::optional<Shape> batch = broadcast_shapes(a_batch, b_batch);
  if (!batch) {
    return ctx.invalid("batch dims of A shape " + shape_to_string(a) + " and B shape " +
                       shape_to_string(b) + " do not broadcast");
  }
  Shape out = *batch;
  if (a.size() >= 2) out.push_back(a[a.size() - 2]);
  if (b.size() >= 2) out.push_back(b.back());
  ctx.set_output(0, d, out);
  return Status();
}

Status infer_Gemm(InferContext& ctx) {
  if (ctx.num_inputs() < 2 || ctx.num_inputs() > 3 || !ctx.has_input(0) || !ctx.has_input(1)) {
    return ctx.invalid("expects inputs A, B and an optional C");
  }
  const DType d = ctx.input_dtype(0);
  if (!dtype_in(FloatTypes{}, d)) {
    return ctx.fail(StatusCode::kUnsupported,
                    "dtype " + dtype_name(d) + " not supported (supported: float32, float64)");
  }
  for (size_t i = 1; i < ctx.num_inputs(); ++i) {
    if (ctx.has_input(i) && ctx.input_dtype(i) != d) {
      return ctx.invalid("input " + std::to_string(i) + " dtype " + dtype_name(ctx.input_dtype(i)) +
                         " differs from A dtype " + dtype_name(d));
    }
  }
  const int64_t trans_a = ctx.node().attr_int("transA", 0);
  const int64_t trans_b = ctx.node().attr_int("transB", 0);
  if ((trans_a != 0 && trans_a != 1) || (trans_b != 0 && trans_b != 1)) {
    return ctx.invalid("attributes transA=" + std::to_string(trans_a) +
                       ", transB=" + std::to_string(trans_b) + " must be 0 or 1");
  }
  const Shape& a = ctx.input_shape(0);
  const Shape& b = ctx.input_shape(1);
  if (a.size() != 2 || b.size() != 2) {
    return ctx.invalid("A shape " + shape_to_string(a) + " and B shape " + shape_to_string(b) +
                       " must be 2-D");
  }
  const int64_t m = trans_a ? a[1] : a[0];
  const int64_t k = trans_a ? a[0] : a[1];
  const int64_t kb = trans_b ? b[1] : b[0];
  const int64_t n = trans_b ? b[0] : b[1];
  if (k != kb) {
    return ctx.invalid("A shape " + shape_to_string(a) + " and B shape " + shape_to_string(b) +
                       " (transA=" + std::to_string(trans_a) +
                       ", transB=" + std::to_string(trans_b) + ") disagree on the inner dimension");
  }
  if (ctx.has_input(2)) {
    std::optional<Shape> s = broadcast_shapes(Shape{m, n}, ctx.input_shape(2));
    if (!s || *s != Shape{m, n} || ctx.input_shape(2).size() > 2) {
      return ctx.invalid("C shape " + shape_to_string(ctx.input_shape(2)) +
                         " does not broadcast to [" + std::to_string(m) + "," + std::to_string(n) +
                         "]");
    }
  }
  if (trans_b) ctx.request_scratch(static_cast<size_t>(k * n) * dtype_size(d));
  ctx.set_output(0, d, Shape{m, n});
  return Status();
}

}  // namespace fungen
