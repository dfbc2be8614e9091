// tensor_shape.cpp — shape functions of the ops that make or reinterpret shapes: Constant,
// Identity, Shape, Size, Reshape, Flatten, Squeeze, Unsqueeze, Expand, Range, ConstantOfShape,
// NonZero. Kernels: backends/reference/tensor_shape.cpp.
#include <algorithm>
#include <cmath>
#include <string>

#include "ops/op.h"
#include "ops/op_util.h"
#include "ops/tensor_params.h"

namespace fungen {

using tensor_ops::check_max_rank;
using tensor_ops::int_at;
using tensor_ops::is_index_dtype;
using tensor_ops::require_constant;

namespace {

// Reads an int32/int64 1-D constant into a vector (shape functions may allocate).
Status read_int_list(const InferContext& ctx, const Tensor& t, const char* name,
                     std::vector<int64_t>* out) {
  if (!is_index_dtype(t.dtype()))
    return ctx.invalid(std::string("input '") + name + "' must be int64 (got " +
                       dtype_name(t.dtype()) + ")");
  if (t.rank() > 1) return ctx.invalid(std::string("input '") + name + "' must be 1-D");
  *out = tensor_to_int64s(t);
  return Status();
}

// Axes for Squeeze/Unsqueeze: attribute before opset 13, optional input from 13.
Status squeeze_axes(const InferContext& ctx, bool* given, std::vector<int64_t>* axes) {
  *given = false;
  if (ctx.opset() < 13) {
    if (ctx.node().has_attr("axes")) {
      *given = true;
      *axes = ctx.node().attr_ints("axes");
    }
    return Status();
  }
  if (ctx.node().has_attr("axes"))
    return ctx.invalid("attribute 'axes' is not allowed from opset 13 (axes is an input)");
  if (!ctx.has_input(1)) return Status();
  const Tensor* t = nullptr;
  FUNGEN_RETURN_IF_ERROR(require_constant(ctx, 1, "axes", &t));
  *given = true;
  return read_int_list(ctx, *t, "axes", axes);
}

}  // namespace

Status infer_Constant(InferContext& ctx) {
  const Node& n = ctx.node();
  int count = 0;
  for (const char* k : {"value", "value_float", "value_floats", "value_int", "value_ints",
                        "value_string", "value_strings", "sparse_value"})
    count += n.has_attr(k) ? 1 : 0;
  if (count != 1) return ctx.invalid("exactly one value* attribute must be set");
  if (n.has_attr("value_string") || n.has_attr("value_strings"))
    return ctx.unsupported_attr("string constants are not supported");
  if (n.has_attr("sparse_value"))
    return ctx.unsupported_attr("attribute 'sparse_value' is not supported");
  if (const Attribute* a = n.attr("value")) {
    if (a->kind != Attribute::Kind::kTensor || a->t.empty())
      return ctx.invalid("attribute 'value' must be a tensor");
    if (dtype_size(a->t.dtype()) == 0)
      return ctx.unsupported_attr("constant of dtype " + dtype_name(a->t.dtype()) +
                                  " is not supported");
    ctx.set_output(0, a->t.dtype(), a->t.shape());
  } else if (n.has_attr("value_float")) {
    ctx.set_output(0, DType::kFloat32, {});
  } else if (n.has_attr("value_int")) {
    ctx.set_output(0, DType::kInt64, {});
  } else if (n.has_attr("value_floats")) {
    ctx.set_output(0, DType::kFloat32,
                   {static_cast<int64_t>(n.attr_floats("value_floats").size())});
  } else {
    ctx.set_output(0, DType::kInt64, {static_cast<int64_t>(n.attr_ints("value_ints").size())});
  }
  return Status();
}

Status infer_Identity(InferContext& ctx) {
  ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(0));
  return Status();
}

Status infer_Shape(InferContext& ctx) {
  const int64_t rank = ctx.input_rank(0);
  int64_t start = ctx.node().attr_int("start", 0);
  int64_t end = ctx.node().attr_int("end", rank);
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, 0, rank);
  ctx.set_output(0, DType::kInt64, {std::max<int64_t>(end - start, 0)});
  return Status();
}

Status infer_Size(InferContext& ctx) {
  ctx.set_output(0, DType::kInt64, {});
  return Status();
}

Status infer_Reshape(InferContext& ctx) {
  std::vector<int64_t> spec;
  if (ctx.opset() < 5) {
    spec = ctx.node().attr_ints("shape");
  } else {
    const Tensor* t = nullptr;
    FUNGEN_RETURN_IF_ERROR(require_constant(ctx, 1, "shape", &t));
    FUNGEN_RETURN_IF_ERROR(read_int_list(ctx, *t, "shape", &spec));
  }
  const bool allowzero = ctx.node().attr_int("allowzero", 0) != 0;
  const Shape& in = ctx.input_shape(0);
  Shape out(spec.size());
  int infer_at = -1;
  int64_t known = 1;
  for (size_t i = 0; i < spec.size(); ++i) {
    int64_t d = spec[i];
    if (d == -1) {
      if (infer_at >= 0) return ctx.invalid("input 'shape' has more than one -1");
      infer_at = static_cast<int>(i);
      continue;
    }
    if (d < -1) return ctx.invalid("input 'shape' has a negative size " + std::to_string(d));
    if (d == 0 && !allowzero) {
      if (i >= in.size())
        return ctx.invalid("input 'shape' copies dim " + std::to_string(i) +
                           " (0) past the input's rank");
      d = in[i];
    }
    out[i] = d;
    known *= d;
  }
  if (allowzero && infer_at >= 0 && std::find(spec.begin(), spec.end(), 0) != spec.end())
    return ctx.invalid("input 'shape' has both 0 and -1 with allowzero=1");
  const int64_t total = shape_numel(in);
  if (infer_at >= 0) {
    if (known == 0 || total % known != 0)
      return ctx.invalid("cannot reshape " + shape_to_string(in) + " to " + shape_to_string(spec));
    out[static_cast<size_t>(infer_at)] = total / known;
  } else if (known != total) {
    return ctx.invalid("cannot reshape " + shape_to_string(in) + " (" + std::to_string(total) +
                       " elements) to " + shape_to_string(out));
  }
  ctx.set_output(0, ctx.input_dtype(0), std::move(out));
  return Status();
}

Status infer_Flatten(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  const int rank = static_cast<int>(in.size());
  int64_t axis = ctx.node().attr_int("axis", 1);
  if (axis < -rank || axis > rank)
    return ctx.invalid("attribute axis=" + std::to_string(axis) + " out of range for rank " +
                       std::to_string(rank));
  if (axis < 0) axis += rank;
  int64_t a = 1, b = 1;
  for (int i = 0; i < rank; ++i) (i < axis ? a : b) *= in[static_cast<size_t>(i)];
  ctx.set_output(0, ctx.input_dtype(0), {a, b});
  return Status();
}

Status infer_Squeeze(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  const int rank = static_cast<int>(in.size());
  bool given = false;
  std::vector<int64_t> axes;
  FUNGEN_RETURN_IF_ERROR(squeeze_axes(ctx, &given, &axes));
  std::vector<bool> drop(in.size(), false);
  if (!given) {
    for (int i = 0; i < rank; ++i) drop[static_cast<size_t>(i)] = in[static_cast<size_t>(i)] == 1;
  } else {
    for (int64_t a : axes) {
      auto ax = normalize_axis(a, rank);
      if (!ax)
        return ctx.invalid("axis " + std::to_string(a) + " out of range for rank " +
                           std::to_string(rank));
      if (in[static_cast<size_t>(*ax)] != 1)
        return ctx.invalid("cannot squeeze axis " + std::to_string(a) + " of size " +
                           std::to_string(in[static_cast<size_t>(*ax)]) + " in " +
                           shape_to_string(in));
      drop[static_cast<size_t>(*ax)] = true;
    }
  }
  Shape out;
  for (int i = 0; i < rank; ++i)
    if (!drop[static_cast<size_t>(i)]) out.push_back(in[static_cast<size_t>(i)]);
  ctx.set_output(0, ctx.input_dtype(0), std::move(out));
  return Status();
}

Status infer_Unsqueeze(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  bool given = false;
  std::vector<int64_t> axes;
  FUNGEN_RETURN_IF_ERROR(squeeze_axes(ctx, &given, &axes));
  if (!given) return ctx.invalid("'axes' is required");
  const int out_rank = static_cast<int>(in.size() + axes.size());
  FUNGEN_RETURN_IF_ERROR(check_max_rank(ctx, out_rank, "the output"));
  std::vector<bool> is_new(static_cast<size_t>(out_rank), false);
  for (int64_t a : axes) {
    auto ax = normalize_axis(a, out_rank);
    if (!ax)
      return ctx.invalid("axis " + std::to_string(a) + " out of range for output rank " +
                         std::to_string(out_rank));
    if (is_new[static_cast<size_t>(*ax)])
      return ctx.invalid("axis " + std::to_string(a) + " repeated in 'axes'");
    is_new[static_cast<size_t>(*ax)] = true;
  }
  Shape out;
  size_t j = 0;
  for (int i = 0; i < out_rank; ++i) out.push_back(is_new[static_cast<size_t>(i)] ? 1 : in[j++]);
  ctx.set_output(0, ctx.input_dtype(0), std::move(out));
  return Status();
}

Status infer_Expand(InferContext& ctx) {
  const Tensor* t = nullptr;
  FUNGEN_RETURN_IF_ERROR(require_constant(ctx, 1, "shape", &t));
  std::vector<int64_t> spec;
  FUNGEN_RETURN_IF_ERROR(read_int_list(ctx, *t, "shape", &spec));
  auto out = broadcast_shapes(ctx.input_shape(0), spec);
  if (!out)
    return ctx.invalid("cannot expand " + shape_to_string(ctx.input_shape(0)) + " to " +
                       shape_to_string(spec));
  FUNGEN_RETURN_IF_ERROR(check_max_rank(ctx, static_cast<int>(out->size()), "the output"));
  ctx.set_output(0, ctx.input_dtype(0), std::move(*out));
  return Status();
}

Status infer_Range(InferContext& ctx) {
  const DType dt = ctx.input_dtype(0);
  for (size_t i = 1; i < 3; ++i)
    if (ctx.input_dtype(i) != dt) return ctx.invalid("start, limit and delta must share one dtype");
  const Tensor* v[3];
  const char* names[3] = {"start", "limit", "delta"};
  for (size_t i = 0; i < 3; ++i) {
    FUNGEN_RETURN_IF_ERROR(require_constant(ctx, i, names[i], &v[i]));
    if (v[i]->numel() != 1)
      return ctx.invalid(std::string("input '") + names[i] + "' must be a scalar");
  }
  int64_t n = 0;
  auto count = [&](double start, double limit, double delta) -> Status {
    if (delta == 0) return ctx.invalid("input 'delta' is 0");
    double c = std::ceil((limit - start) / delta);
    n = c > 0 ? static_cast<int64_t>(c) : 0;
    return Status();
  };
  switch (dt) {
    case DType::kFloat32: {
      // (limit - start) in float, the division in double, as ONNX Runtime does.
      const float s = v[0]->data<float>()[0], l = v[1]->data<float>()[0],
                  d = v[2]->data<float>()[0];
      FUNGEN_RETURN_IF_ERROR(count(0.0, static_cast<double>(l - s), d));
      break;
    }
    case DType::kFloat64:
      FUNGEN_RETURN_IF_ERROR(
          count(v[0]->data<double>()[0], v[1]->data<double>()[0], v[2]->data<double>()[0]));
      break;
    case DType::kInt16:
    case DType::kInt32:
    case DType::kInt64: {
      auto get = [&](const Tensor* t) -> int64_t {
        if (dt == DType::kInt16) return t->data<int16_t>()[0];
        return int_at(*t, 0);
      };
      const int64_t s = get(v[0]), l = get(v[1]), d = get(v[2]);
      if (d == 0) return ctx.invalid("input 'delta' is 0");
      const int64_t span = l - s;
      // ceil(span / d) in integers.
      int64_t q = span / d;
      if ((span % d != 0) && ((span < 0) == (d < 0))) ++q;
      n = std::max<int64_t>(q, 0);
      break;
    }
    default:
      return ctx.unsupported_attr("dtype " + dtype_name(dt) +
                                  " is not supported (float, double, int16/32/64)");
  }
  ctx.set_output(0, dt, {n});
  return Status();
}

Status infer_ConstantOfShape(InferContext& ctx) {
  const Tensor* t = nullptr;
  FUNGEN_RETURN_IF_ERROR(require_constant(ctx, 0, "input", &t));
  std::vector<int64_t> shape;
  FUNGEN_RETURN_IF_ERROR(read_int_list(ctx, *t, "input", &shape));
  for (int64_t d : shape)
    if (d < 0) return ctx.invalid("input has a negative size " + std::to_string(d));
  DType dt = DType::kFloat32;
  if (const Attribute* a = ctx.node().attr("value")) {
    if (a->kind != Attribute::Kind::kTensor || a->t.numel() != 1)
      return ctx.invalid("attribute 'value' must be a one-element tensor");
    dt = a->t.dtype();
    if (dtype_size(dt) == 0) return ctx.unsupported_attr("value of dtype " + dtype_name(dt));
  }
  ctx.set_output(0, dt, std::move(shape));
  return Status();
}

Status infer_NonZero(InferContext& ctx) {
  const Tensor* t = nullptr;
  Status s = require_constant(ctx, 0, "X", &t);
  if (!s.ok())
    return ctx.fail(StatusCode::kUnsupported,
                    "NonZero's output shape depends on its input's values; fungen supports it only "
                    "when input 'X' is constant at load (data-dependent shapes are not supported)");
  const size_t es = dtype_size(t->dtype());
  if (es == 0) return ctx.unsupported_attr("dtype " + dtype_name(t->dtype()));
  int64_t nnz = 0;
  const auto* b = static_cast<const unsigned char*>(t->raw());
  for (int64_t i = 0; i < t->numel(); ++i)
    nnz += tensor_ops::element_nonzero(b + static_cast<size_t>(i) * es, t->dtype()) ? 1 : 0;
  ctx.set_output(0, DType::kInt64, {static_cast<int64_t>(std::max(t->rank(), 1)), nnz});
  return Status();
}

}  // namespace fungen
