// Shape functions of the Reduce* ops, ArgMax and ArgMin.
#include "ops/nn_reduce.h"

#include <string>

#include "ops/elementwise_dtypes.h"
#include "ops/op.h"
#include "ops/op_util.h"

namespace fungen {

bool reduce_axes_from_input(const Node& node, int64_t opset) {
  return opset >= (node.op_type == "ReduceSum" ? 13 : 18);
}

Status resolve_reduce_axes(const Node& node, int64_t opset, int rank, const Tensor* axes_input,
                           ReduceAxes* out) {
  std::vector<int64_t> axes;
  const int64_t keepdims = node.attr_int("keepdims", 1);
  const int64_t noop = node.attr_int("noop_with_empty_axes", 0);
  if (keepdims != 0 && keepdims != 1) {
    return invalid_argument("attribute keepdims=" + std::to_string(keepdims) + " must be 0 or 1");
  }
  if (noop != 0 && noop != 1) {
    return invalid_argument("attribute noop_with_empty_axes=" + std::to_string(noop) +
                            " must be 0 or 1");
  }
  if (reduce_axes_from_input(node, opset)) {
    if (node.has_attr("axes")) {
      return invalid_argument("attribute axes is not allowed at this opset; axes are input 1");
    }
    if (axes_input) {
      if (axes_input->dtype() != DType::kInt64) {
        return invalid_argument("axes input dtype " + dtype_name(axes_input->dtype()) +
                                " must be int64");
      }
      axes = tensor_to_int64s(*axes_input);
    }
  } else {
    if (axes_input) return invalid_argument("axes as input 1 needs opset >= 13 (ReduceSum) / 18");
    if (noop)
      return invalid_argument("attribute noop_with_empty_axes needs the opset of axes-as-input");
    axes = node.attr_ints("axes");
  }
  out->keepdims = keepdims == 1;
  out->noop = axes.empty() && noop == 1;
  out->reduced.assign(static_cast<size_t>(rank), axes.empty() && !out->noop);
  for (int64_t a : axes) {
    std::optional<int> n = normalize_axis(a, rank);
    if (!n) {
      return invalid_argument("axis " + std::to_string(a) + " is out of range for rank " +
                              std::to_string(rank));
    }
    if (out->reduced[static_cast<size_t>(*n)]) {
      return invalid_argument("axis " + std::to_string(a) + " appears twice in axes");
    }
    out->reduced[static_cast<size_t>(*n)] = true;
  }
  return Status();
}

Shape reduced_shape(const Shape& in, const ReduceAxes& axes) {
  if (axes.noop) return in;
  Shape out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (!axes.reduced[i])
      out.push_back(in[i]);
    else if (axes.keepdims)
      out.push_back(1);
  }
  return out;
}

namespace {

template <class... Ts>
Status infer_reduce(InferContext& ctx, TypeList<Ts...> types) {
  if (ctx.num_inputs() < 1 || ctx.num_inputs() > 2 || !ctx.has_input(0)) {
    return ctx.invalid("expects input data and an optional axes input");
  }
  const DType d = ctx.input_dtype(0);
  if (!dtype_in(types, d)) {
    return ctx.fail(
        StatusCode::kUnsupported,
        "dtype " + dtype_name(d) + " not supported (supported: " + dtype_list_names(types) + ")");
  }
  const Tensor* axes_input = nullptr;
  if (ctx.has_input(1)) {
    axes_input = ctx.input_constant(1);
    if (!axes_input) {
      return ctx.fail(
          StatusCode::kUnsupported,
          "axes input must be a constant known at load; computed axes are not supported");
    }
  }
  ReduceAxes axes;
  Status s = resolve_reduce_axes(ctx.node(), ctx.opset(), ctx.input_rank(0), axes_input, &axes);
  if (!s.ok()) return ctx.fail(s.code(), s.message());
  // The kernel lists the input offsets of one reduction window in scratch.
  int64_t window = 1;
  for (size_t i = 0; i < axes.reduced.size(); ++i) {
    if (axes.reduced[i]) window *= ctx.input_shape(0)[i];
  }
  ctx.request_scratch(static_cast<size_t>(window) * sizeof(int64_t));
  ctx.set_output(0, d, reduced_shape(ctx.input_shape(0), axes));
  return Status();
}

Status infer_arg(InferContext& ctx) {
  if (ctx.num_inputs() != 1 || !ctx.has_input(0)) return ctx.invalid("expects exactly one input");
  const DType d = ctx.input_dtype(0);
  if (!dtype_in(NumericTypes{}, d)) {
    return ctx.fail(StatusCode::kUnsupported, "dtype " + dtype_name(d) + " not supported");
  }
  const int rank = ctx.input_rank(0);
  const int64_t axis = ctx.node().attr_int("axis", 0);
  const int64_t keepdims = ctx.node().attr_int("keepdims", 1);
  const int64_t last = ctx.node().attr_int("select_last_index", 0);
  std::optional<int> a = normalize_axis(axis, rank);
  if (!a)
    return ctx.invalid("attribute axis=" + std::to_string(axis) + " is out of range for rank " +
                       std::to_string(rank));
  if (keepdims != 0 && keepdims != 1)
    return ctx.invalid("attribute keepdims=" + std::to_string(keepdims) + " must be 0 or 1");
  if (last != 0 && last != 1)
    return ctx.invalid("attribute select_last_index=" + std::to_string(last) + " must be 0 or 1");
  if (ctx.input_shape(0)[static_cast<size_t>(*a)] == 0)
    return ctx.invalid("cannot take the arg of an empty axis");
  Shape out = ctx.input_shape(0);
  if (keepdims) {
    out[static_cast<size_t>(*a)] = 1;
  } else {
    out.erase(out.begin() + *a);
  }
  ctx.set_output(0, DType::kInt64, out);
  return Status();
}

}  // namespace

Status infer_ReduceSum(InferContext& ctx) {
  return infer_reduce(ctx, NumericTypes{});
}
Status infer_ReduceMean(InferContext& ctx) {
  return infer_reduce(ctx, NumericTypes{});
}
Status infer_ReduceMax(InferContext& ctx) {
  return infer_reduce(ctx, NumericTypes{});
}
Status infer_ReduceMin(InferContext& ctx) {
  return infer_reduce(ctx, NumericTypes{});
}
Status infer_ReduceProd(InferContext& ctx) {
  return infer_reduce(ctx, NumericTypes{});
}
Status infer_ReduceL1(InferContext& ctx) {
  return infer_reduce(ctx, NumericTypes{});
}
Status infer_ReduceL2(InferContext& ctx) {
  return infer_reduce(ctx, NumericTypes{});
}
Status infer_ReduceSumSquare(InferContext& ctx) {
  return infer_reduce(ctx, NumericTypes{});
}
Status infer_ReduceLogSum(InferContext& ctx) {
  return infer_reduce(ctx, FloatTypes{});
}
Status infer_ReduceLogSumExp(InferContext& ctx) {
  return infer_reduce(ctx, FloatTypes{});
}
Status infer_ArgMax(InferContext& ctx) {
  return infer_arg(ctx);
}
Status infer_ArgMin(InferContext& ctx) {
  return infer_arg(ctx);
}

}  // namespace fungen
