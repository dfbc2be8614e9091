// Reference kernels of the shape-making ops (shape functions: ops/tensor_shape.cpp).
// Reshape-like ops copy bytes; the executor may alias them instead of running these.
#include <algorithm>
#include <cstring>

#include "ops/op.h"
#include "ops/op_util.h"
#include "ops/tensor_params.h"

namespace fungen {

using tensor_ops::Dims;
using tensor_ops::dims_of;
using tensor_ops::kMaxRank;

namespace {

Status copy_input(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  if (y.raw() != x.raw() && y.nbytes() > 0) std::memcpy(y.raw(), x.raw(), y.nbytes());
  return Status();
}

void fill_bytes(void* dst, const void* value, size_t elem_size, int64_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  if (n <= 0) return;
  std::memcpy(d, value, elem_size);
  // Doubling copies: 1, 2, 4, ... elements.
  int64_t done = 1;
  while (done < n) {
    int64_t m = std::min(done, n - done);
    std::memcpy(d + static_cast<size_t>(done) * elem_size, d, static_cast<size_t>(m) * elem_size);
    done += m;
  }
}

}  // namespace

Status reference_Constant(KernelContext& ctx) {
  const Node& n = ctx.node();
  Tensor& y = ctx.output(0);
  if (const Attribute* a = n.attr("value")) {
    if (y.nbytes() > 0) std::memcpy(y.raw(), a->t.raw(), y.nbytes());
  } else if (const Attribute* f = n.attr("value_float")) {
    y.data<float>()[0] = f->f;
  } else if (const Attribute* i = n.attr("value_int")) {
    y.data<int64_t>()[0] = i->i;
  } else if (const Attribute* fs = n.attr("value_floats")) {
    std::copy(fs->floats.begin(), fs->floats.end(), y.data<float>());
  } else if (const Attribute* is = n.attr("value_ints")) {
    std::copy(is->ints.begin(), is->ints.end(), y.data<int64_t>());
  }
  return Status();
}

Status reference_Identity(KernelContext& ctx) {
  return copy_input(ctx);
}
Status reference_Reshape(KernelContext& ctx) {
  return copy_input(ctx);
}
Status reference_Flatten(KernelContext& ctx) {
  return copy_input(ctx);
}
Status reference_Squeeze(KernelContext& ctx) {
  return copy_input(ctx);
}
Status reference_Unsqueeze(KernelContext& ctx) {
  return copy_input(ctx);
}

// Reads only the input's shape: its data may not exist while folding.
Status reference_Shape(KernelContext& ctx) {
  const Shape& s = ctx.input(0).shape();
  const int64_t rank = static_cast<int64_t>(s.size());
  int64_t start = ctx.node().attr_int("start", 0);
  if (start < 0) start += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  Tensor& y = ctx.output(0);
  for (int64_t i = 0; i < y.numel(); ++i) y.data<int64_t>()[i] = s[static_cast<size_t>(start + i)];
  return Status();
}

Status reference_Size(KernelContext& ctx) {
  ctx.output(0).data<int64_t>()[0] = shape_numel(ctx.input(0).shape());
  return Status();
}

Status reference_Expand(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const size_t es = dtype_size(x.dtype());
  const Dims out = dims_of(y.shape());
  if (y.numel() == 0) return Status();
  if (out.rank == 0) {
    std::memcpy(y.raw(), x.raw(), es);
    return Status();
  }
  // Input strides aligned to the output's rank, 0 on broadcast dims.
  int64_t stride[kMaxRank] = {};
  const int off = out.rank - x.rank();
  int64_t s = 1;
  for (int d = x.rank() - 1; d >= 0; --d) {
    stride[off + d] = x.dim(d) == 1 ? 0 : s;
    s *= x.dim(d);
  }
  const int last = out.rank - 1;
  const int64_t row = out.d[last];
  const int64_t rows = y.numel() / row;
  const auto* src = static_cast<const unsigned char*>(x.raw());
  auto* dst = static_cast<unsigned char*>(y.raw());
  int64_t idx[kMaxRank] = {};
  for (int64_t r = 0; r < rows; ++r) {
    int64_t base = 0;
    for (int d = 0; d < last; ++d) base += idx[d] * stride[d];
    const unsigned char* in = src + static_cast<size_t>(base) * es;
    if (stride[last] == 0)
      fill_bytes(dst, in, es, row);
    else
      std::memcpy(dst, in, static_cast<size_t>(row) * es);
    dst += static_cast<size_t>(row) * es;
    for (int d = last - 1; d >= 0; --d) {
      if (++idx[d] < out.d[d]) break;
      idx[d] = 0;
    }
  }
  return Status();
}

Status reference_Range(KernelContext& ctx) {
  Tensor& y = ctx.output(0);
  const int64_t n = y.numel();
  // Accumulates like the ONNX function body (prev + delta) and ONNX Runtime.
  auto run = [&]<class T>() {
    T v = ctx.input(0).data<T>()[0];
    const T delta = ctx.input(2).data<T>()[0];
    T* out = y.data<T>();
    for (int64_t i = 0; i < n; ++i) {
      out[i] = v;
      v = static_cast<T>(v + delta);
    }
  };
  switch (y.dtype()) {
    case DType::kFloat32:
      run.operator()<float>();
      break;
    case DType::kFloat64:
      run.operator()<double>();
      break;
    case DType::kInt16:
      run.operator()<int16_t>();
      break;
    case DType::kInt32:
      run.operator()<int32_t>();
      break;
    case DType::kInt64:
      run.operator()<int64_t>();
      break;
    default:
      return tensor_ops::kernel_error(ctx.node(), ctx.opset(), StatusCode::kUnsupported,
                                      "dtype " + dtype_name(y.dtype()));
  }
  return Status();
}

Status reference_ConstantOfShape(KernelContext& ctx) {
  Tensor& y = ctx.output(0);
  const Attribute* a = ctx.node().attr("value");
  if (!a) {  // default: float32 zeros (the planner may hand out a reused buffer)
    if (y.nbytes() > 0) std::memset(y.raw(), 0, y.nbytes());
    return Status();
  }
  fill_bytes(y.raw(), a->t.raw(), dtype_size(y.dtype()), y.numel());
  return Status();
}

Status reference_NonZero(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const size_t es = dtype_size(x.dtype());
  const int rank = x.rank();
  const int64_t nnz = y.dim(1);
  const Dims in = dims_of(x.shape());
  int64_t idx[kMaxRank] = {};
  int64_t k = 0;
  const auto* b = static_cast<const unsigned char*>(x.raw());
  for (int64_t i = 0; i < x.numel(); ++i) {
    if (tensor_ops::element_nonzero(b + static_cast<size_t>(i) * es, x.dtype())) {
      if (k >= nnz)
        return tensor_ops::kernel_error(ctx.node(), ctx.opset(), StatusCode::kInternal,
                                        "input changed after its output shape was fixed");
      if (rank == 0) y.data<int64_t>()[k] = 0;
      for (int d = 0; d < rank; ++d) y.data<int64_t>()[d * nnz + k] = idx[d];
      ++k;
    }
    for (int d = rank - 1; d >= 0; --d) {
      if (++idx[d] < in.d[d]) break;
      idx[d] = 0;
    }
  }
  return Status();
}

}  // namespace fungen
