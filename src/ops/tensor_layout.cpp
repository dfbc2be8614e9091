// tensor_layout.cpp — shape functions of the ops that move elements around: Transpose, Concat,
// Split, Slice, Tile, Pad, DepthToSpace, SpaceToDepth, Trilu.
// Kernels: backends/reference/tensor_layout.cpp.
#include <string>

#include "ops/op.h"
#include "ops/op_util.h"
#include "ops/tensor_params.h"

namespace fungen {

using tensor_ops::check_max_rank;
using tensor_ops::kMaxRank;
using tensor_ops::require_constant;
using tensor_ops::with_node;

namespace {

Status check_bytes_dtype(const InferContext& ctx, DType dt) {
  if (dtype_size(dt) == 0)
    return ctx.unsupported_attr("dtype " + dtype_name(dt) + " is not supported");
  return Status();
}

}  // namespace

Status infer_Transpose(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  const int rank = static_cast<int>(in.size());
  FUNGEN_RETURN_IF_ERROR(check_max_rank(ctx, rank, "input 'data'"));
  FUNGEN_RETURN_IF_ERROR(check_bytes_dtype(ctx, ctx.input_dtype(0)));
  std::vector<int64_t> perm = ctx.node().attr_ints("perm");
  if (!ctx.node().has_attr("perm")) {
    for (int i = rank - 1; i >= 0; --i) perm.push_back(i);
  }
  if (static_cast<int>(perm.size()) != rank)
    return ctx.invalid("attribute 'perm' has " + std::to_string(perm.size()) +
                       " entries for rank " + std::to_string(rank));
  bool seen[kMaxRank] = {};
  Shape out(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) {
    if (perm[i] < 0 || perm[i] >= rank || seen[perm[i]])
      return ctx.invalid("attribute 'perm' " + shape_to_string(perm) +
                         " is not a permutation of 0.." + std::to_string(rank - 1));
    seen[perm[i]] = true;
    out[i] = in[static_cast<size_t>(perm[i])];
  }
  ctx.set_output(0, ctx.input_dtype(0), std::move(out));
  return Status();
}

Status infer_Concat(InferContext& ctx) {
  if (ctx.num_inputs() == 0 || !ctx.has_input(0)) return ctx.invalid("needs at least one input");
  const DType dt = ctx.input_dtype(0);
  FUNGEN_RETURN_IF_ERROR(check_bytes_dtype(ctx, dt));
  const int rank = ctx.input_rank(0);
  FUNGEN_RETURN_IF_ERROR(check_max_rank(ctx, rank, "input 0"));
  if (rank == 0) return ctx.invalid("inputs must have rank >= 1");
  if (!ctx.node().has_attr("axis") && ctx.opset() >= 4)
    return ctx.invalid("attribute 'axis' is required");
  const int64_t axis_attr = ctx.node().attr_int("axis", 1);
  auto axis = normalize_axis(axis_attr, rank);
  if (!axis)
    return ctx.invalid("axis " + std::to_string(axis_attr) + " out of range for rank " +
                       std::to_string(rank));
  Shape out = ctx.input_shape(0);
  out[static_cast<size_t>(*axis)] = 0;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) return ctx.invalid("input " + std::to_string(i) + " is missing");
    const Shape& s = ctx.input_shape(i);
    if (ctx.input_dtype(i) != dt)
      return ctx.invalid("input " + std::to_string(i) + " is " + dtype_name(ctx.input_dtype(i)) +
                         ", input 0 is " + dtype_name(dt));
    if (static_cast<int>(s.size()) != rank)
      return ctx.invalid("input " + std::to_string(i) + " has rank " + std::to_string(s.size()) +
                         ", input 0 has rank " + std::to_string(rank));
    for (int d = 0; d < rank; ++d) {
      if (d != *axis && s[static_cast<size_t>(d)] != out[static_cast<size_t>(d)])
        return ctx.invalid("input " + std::to_string(i) + " " + shape_to_string(s) +
                           " does not match input 0 " + shape_to_string(ctx.input_shape(0)) +
                           " outside axis " + std::to_string(*axis));
    }
    out[static_cast<size_t>(*axis)] += s[static_cast<size_t>(*axis)];
  }
  ctx.set_output(0, dt, std::move(out));
  return Status();
}

Status infer_Split(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  const int rank = static_cast<int>(in.size());
  FUNGEN_RETURN_IF_ERROR(check_max_rank(ctx, rank, "input"));
  FUNGEN_RETURN_IF_ERROR(check_bytes_dtype(ctx, ctx.input_dtype(0)));
  const int64_t axis_attr = ctx.node().attr_int("axis", 0);
  auto axis = normalize_axis(axis_attr, rank);
  if (!axis)
    return ctx.invalid("axis " + std::to_string(axis_attr) + " out of range for rank " +
                       std::to_string(rank));
  const int64_t dim = in[static_cast<size_t>(*axis)];
  const int64_t n_out = static_cast<int64_t>(ctx.num_outputs());
  std::vector<int64_t> split;
  if (ctx.opset() < 13) {
    split = ctx.node().attr_ints("split");
    if (ctx.opset() < 2 && ctx.has_input(1)) {
      const Tensor* t = nullptr;
      FUNGEN_RETURN_IF_ERROR(require_constant(ctx, 1, "split", &t));
      split = tensor_to_int64s(*t);
    }
  } else if (ctx.has_input(1)) {
    const Tensor* t = nullptr;
    FUNGEN_RETURN_IF_ERROR(require_constant(ctx, 1, "split", &t));
    if (!tensor_ops::is_index_dtype(t->dtype())) return ctx.invalid("input 'split' must be int64");
    split = tensor_to_int64s(*t);
  }
  if (ctx.opset() >= 18 && ctx.node().has_attr("num_outputs")) {
    if (!split.empty())
      return ctx.invalid("only one of input 'split' and attribute 'num_outputs' may be given");
    const int64_t n = ctx.node().attr_int("num_outputs", n_out);
    if (n != n_out)
      return ctx.invalid("attribute num_outputs=" + std::to_string(n) + " but the node has " +
                         std::to_string(n_out) + " outputs");
    const int64_t chunk = (dim + n - 1) / n;
    for (int64_t i = 0; i < n; ++i)
      split.push_back(std::max<int64_t>(0, std::min(chunk, dim - i * chunk)));
  } else if (split.empty()) {
    if (dim % n_out != 0)
      return ctx.invalid("axis " + std::to_string(*axis) + " of size " + std::to_string(dim) +
                         " does not split evenly into " + std::to_string(n_out) + " outputs");
    split.assign(static_cast<size_t>(n_out), dim / n_out);
  }
  if (static_cast<int64_t>(split.size()) != n_out)
    return ctx.invalid("'split' has " + std::to_string(split.size()) + " entries for " +
                       std::to_string(n_out) + " outputs");
  int64_t sum = 0;
  for (int64_t s : split) {
    if (s < 0) return ctx.invalid("'split' has a negative size");
    sum += s;
  }
  if (sum != dim)
    return ctx.invalid("'split' sums to " + std::to_string(sum) + ", axis size is " +
                       std::to_string(dim));
  for (size_t i = 0; i < split.size(); ++i) {
    Shape s = in;
    s[static_cast<size_t>(*axis)] = split[i];
    ctx.set_output(i, ctx.input_dtype(0), std::move(s));
  }
  return Status();
}

Status infer_Slice(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  FUNGEN_RETURN_IF_ERROR(check_max_rank(ctx, static_cast<int>(in.size()), "input 'data'"));
  FUNGEN_RETURN_IF_ERROR(check_bytes_dtype(ctx, ctx.input_dtype(0)));
  const Tensor* t[4] = {nullptr, nullptr, nullptr, nullptr};
  if (ctx.opset() >= 10) {
    const char* names[4] = {"starts", "ends", "axes", "steps"};
    for (size_t i = 0; i < 4; ++i) {
      if (i >= 2 && !ctx.has_input(i + 1)) continue;
      FUNGEN_RETURN_IF_ERROR(require_constant(ctx, i + 1, names[i], &t[i]));
    }
  }
  tensor_ops::SliceParams p;
  FUNGEN_RETURN_IF_ERROR(with_node(
      ctx, tensor_ops::resolve_slice(ctx.node(), ctx.opset(), in, t[0], t[1], t[2], t[3], &p)));
  Shape out(p.out, p.out + p.rank);
  ctx.set_output(0, ctx.input_dtype(0), std::move(out));
  return Status();
}

Status infer_Tile(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  FUNGEN_RETURN_IF_ERROR(check_max_rank(ctx, static_cast<int>(in.size()), "input"));
  FUNGEN_RETURN_IF_ERROR(check_bytes_dtype(ctx, ctx.input_dtype(0)));
  const Tensor* t = nullptr;
  FUNGEN_RETURN_IF_ERROR(require_constant(ctx, 1, "repeats", &t));
  if (!tensor_ops::is_index_dtype(t->dtype()) || t->numel() != static_cast<int64_t>(in.size()))
    return ctx.invalid("input 'repeats' must be int64 with one value per axis");
  Shape out = in;
  for (size_t d = 0; d < in.size(); ++d) {
    const int64_t r = tensor_ops::int_at(*t, static_cast<int64_t>(d));
    if (r < 0) return ctx.invalid("input 'repeats' has a negative value");
    out[d] *= r;
  }
  ctx.set_output(0, ctx.input_dtype(0), std::move(out));
  return Status();
}

Status infer_Pad(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  FUNGEN_RETURN_IF_ERROR(check_bytes_dtype(ctx, ctx.input_dtype(0)));
  const Tensor* pads = nullptr;
  const Tensor* axes = nullptr;
  if (ctx.opset() >= 11) {
    FUNGEN_RETURN_IF_ERROR(require_constant(ctx, 1, "pads", &pads));
    if (ctx.has_input(2)) {
      if (ctx.input_dtype(2) != ctx.input_dtype(0))
        return ctx.invalid("input 'constant_value' must have the data's dtype");
    }
    if (ctx.has_input(3)) FUNGEN_RETURN_IF_ERROR(require_constant(ctx, 3, "axes", &axes));
  }
  tensor_ops::PadParams p;
  FUNGEN_RETURN_IF_ERROR(
      with_node(ctx, tensor_ops::resolve_pad(ctx.node(), ctx.opset(), in, pads, axes, &p)));
  Shape out = in;
  for (int d = 0; d < p.rank; ++d) out[static_cast<size_t>(d)] += p.begin[d] + p.end[d];
  ctx.set_output(0, ctx.input_dtype(0), std::move(out));
  return Status();
}

namespace {

Status infer_space_depth(InferContext& ctx, bool to_space) {
  const Shape& in = ctx.input_shape(0);
  FUNGEN_RETURN_IF_ERROR(check_bytes_dtype(ctx, ctx.input_dtype(0)));
  if (in.size() != 4) return ctx.invalid("input must be 4-D NCHW, got " + shape_to_string(in));
  const int64_t b = ctx.node().attr_int("blocksize", 0);
  if (b <= 0) return ctx.invalid("attribute 'blocksize' must be positive");
  std::string mode = ctx.node().attr_string("mode", "DCR");
  if (mode != "DCR" && mode != "CRD")
    return ctx.invalid("attribute mode='" + mode + "' (DCR or CRD)");
  Shape out = in;
  if (to_space) {
    if (in[1] % (b * b) != 0)
      return ctx.invalid("channels " + std::to_string(in[1]) + " not divisible by blocksize^2");
    out = {in[0], in[1] / (b * b), in[2] * b, in[3] * b};
  } else {
    if (in[2] % b != 0 || in[3] % b != 0)
      return ctx.invalid("H and W must be divisible by blocksize");
    out = {in[0], in[1] * b * b, in[2] / b, in[3] / b};
  }
  ctx.set_output(0, ctx.input_dtype(0), std::move(out));
  return Status();
}

}  // namespace

Status infer_DepthToSpace(InferContext& ctx) {
  return infer_space_depth(ctx, true);
}
Status infer_SpaceToDepth(InferContext& ctx) {
  return infer_space_depth(ctx, false);
}

Status infer_Trilu(InferContext& ctx) {
  FUNGEN_RETURN_IF_ERROR(check_bytes_dtype(ctx, ctx.input_dtype(0)));
  if (ctx.input_rank(0) < 2) return ctx.invalid("input must have rank >= 2");
  if (ctx.has_input(1) &&
      (ctx.input_dtype(1) != DType::kInt64 || shape_numel(ctx.input_shape(1)) != 1))
    return ctx.invalid("input 'k' must be an int64 scalar");
  ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(0));
  return Status();
}

}  // namespace fungen
