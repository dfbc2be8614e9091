// Reference kernels of the indexing ops (shape functions: ops/tensor_gather.cpp). Gathers move
// bytes for any dtype; scatter reductions are typed. Out-of-range indices are errors.
#include <algorithm>
#include <cstring>
#include <string>

#include "ops/op.h"
#include "ops/op_util.h"
#include "ops/tensor_params.h"

namespace fungen {

using tensor_ops::Dims;
using tensor_ops::dims_of;
using tensor_ops::int_at;
using tensor_ops::kMaxRank;
using tensor_ops::next_index;
using tensor_ops::strides_of;

namespace {

using Byte = unsigned char;

Status index_error(const KernelContext& ctx, int64_t index, int64_t dim) {
  return tensor_ops::kernel_error(
      ctx.node(), ctx.opset(), StatusCode::kInvalidArgument,
      "index " + std::to_string(index) + " out of range for axis of size " + std::to_string(dim));
}

// Normalizes a possibly negative index into [0, dim); false when out of range.
inline bool fix_index(int64_t* i, int64_t dim) {
  if (*i < 0) *i += dim;
  return *i >= 0 && *i < dim;
}

enum class Reduction { kNone, kAdd, kMul, kMax, kMin };

Reduction reduction_of(const Node& node) {
  std::string_view r = tensor_ops::attr_string_view(node, "reduction", "none");
  if (r == "add") return Reduction::kAdd;
  if (r == "mul") return Reduction::kMul;
  if (r == "max") return Reduction::kMax;
  if (r == "min") return Reduction::kMin;
  return Reduction::kNone;
}

template <class T>
void reduce_into(T* dst, const T* src, int64_t n, Reduction r) {
  for (int64_t i = 0; i < n; ++i) {
    switch (r) {
      case Reduction::kNone:
        dst[i] = src[i];
        break;
      case Reduction::kAdd:
        dst[i] = static_cast<T>(dst[i] + src[i]);
        break;
      case Reduction::kMul:
        dst[i] = static_cast<T>(dst[i] * src[i]);
        break;
      case Reduction::kMax:
        dst[i] = std::max(dst[i], src[i]);
        break;
      case Reduction::kMin:
        dst[i] = std::min(dst[i], src[i]);
        break;
    }
  }
}

// Applies `n` elements of src onto dst with reduction r; false for a dtype that cannot reduce.
bool apply_update(Byte* dst, const Byte* src, int64_t n, DType dt, Reduction r) {
  if (r == Reduction::kNone) {
    std::memcpy(dst, src, static_cast<size_t>(n) * dtype_size(dt));
    return true;
  }
  switch (dt) {
    case DType::kFloat32:
      reduce_into(reinterpret_cast<float*>(dst), reinterpret_cast<const float*>(src), n, r);
      return true;
    case DType::kFloat64:
      reduce_into(reinterpret_cast<double*>(dst), reinterpret_cast<const double*>(src), n, r);
      return true;
    case DType::kInt32:
      reduce_into(reinterpret_cast<int32_t*>(dst), reinterpret_cast<const int32_t*>(src), n, r);
      return true;
    case DType::kInt64:
      reduce_into(reinterpret_cast<int64_t*>(dst), reinterpret_cast<const int64_t*>(src), n, r);
      return true;
    case DType::kInt8:
      reduce_into(reinterpret_cast<int8_t*>(dst), reinterpret_cast<const int8_t*>(src), n, r);
      return true;
    case DType::kUInt8:
      reduce_into(reinterpret_cast<uint8_t*>(dst), reinterpret_cast<const uint8_t*>(src), n, r);
      return true;
    default:
      return false;
  }
}

}  // namespace

Status reference_Gather(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& ind = ctx.input(1);
  Tensor& y = ctx.output(0);
  const size_t es = dtype_size(x.dtype());
  const int axis = *normalize_axis(ctx.node().attr_int("axis", 0), x.rank());
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= x.dim(d);
  for (int d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
  const int64_t n = x.dim(axis);
  const int64_t k = ind.numel();
  const size_t block = static_cast<size_t>(inner) * es;
  const auto* src = static_cast<const Byte*>(x.raw());
  auto* dst = static_cast<Byte*>(y.raw());
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < k; ++j, dst += block) {
      int64_t i = int_at(ind, j);
      if (!fix_index(&i, n)) return index_error(ctx, int_at(ind, j), n);
      std::memcpy(dst, src + static_cast<size_t>(o * n + i) * block, block);
    }
  }
  return Status();
}

Status reference_GatherElements(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& ind = ctx.input(1);
  Tensor& y = ctx.output(0);
  if (y.numel() == 0) return Status();
  const size_t es = dtype_size(x.dtype());
  const int axis = *normalize_axis(ctx.node().attr_int("axis", 0), x.rank());
  const Dims in = dims_of(x.shape());
  const Dims out = dims_of(y.shape());
  int64_t stride[kMaxRank];
  strides_of(in, stride);
  const auto* src = static_cast<const Byte*>(x.raw());
  auto* dst = static_cast<Byte*>(y.raw());
  int64_t idx[kMaxRank] = {};
  int64_t j = 0;
  do {
    int64_t i = int_at(ind, j);
    if (!fix_index(&i, in.d[axis])) return index_error(ctx, int_at(ind, j), in.d[axis]);
    int64_t off = 0;
    for (int d = 0; d < in.rank; ++d) off += (d == axis ? i : idx[d]) * stride[d];
    std::memcpy(dst, src + static_cast<size_t>(off) * es, es);
    dst += es;
    ++j;
  } while (next_index(idx, out.d, out.rank));
  return Status();
}

Status reference_GatherND(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& ind = ctx.input(1);
  Tensor& y = ctx.output(0);
  const size_t es = dtype_size(x.dtype());
  const int b = static_cast<int>(ctx.node().attr_int("batch_dims", 0));
  const int m = static_cast<int>(ind.dim(ind.rank() - 1));
  const Dims in = dims_of(x.shape());
  int64_t batch = 1, slice = 1;
  for (int d = 0; d < b; ++d) batch *= in.d[d];
  for (int d = b + m; d < in.rank; ++d) slice *= in.d[d];
  int64_t batch_elems = 1;
  for (int d = b; d < in.rank; ++d) batch_elems *= in.d[d];
  const int64_t tuples = batch == 0 ? 0 : ind.numel() / m / batch;
  const size_t block = static_cast<size_t>(slice) * es;
  const auto* src = static_cast<const Byte*>(x.raw());
  auto* dst = static_cast<Byte*>(y.raw());
  const int64_t* ip = ind.data<int64_t>();
  for (int64_t bi = 0; bi < batch; ++bi) {
    for (int64_t t = 0; t < tuples; ++t, ip += m, dst += block) {
      int64_t off = 0;
      for (int k = 0; k < m; ++k) {
        int64_t i = ip[k];
        if (!fix_index(&i, in.d[b + k])) return index_error(ctx, ip[k], in.d[b + k]);
        off = off * in.d[b + k] + i;
      }
      std::memcpy(dst, src + static_cast<size_t>(bi * batch_elems + off * slice) * es, block);
    }
  }
  return Status();
}

Status reference_ScatterND(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& ind = ctx.input(1);
  const Tensor& upd = ctx.input(2);
  Tensor& y = ctx.output(0);
  const size_t es = dtype_size(x.dtype());
  if (y.raw() != x.raw() && y.nbytes() > 0) std::memcpy(y.raw(), x.raw(), y.nbytes());
  const Reduction r = reduction_of(ctx.node());
  const int m = static_cast<int>(ind.dim(ind.rank() - 1));
  const Dims in = dims_of(x.shape());
  int64_t slice = 1;
  for (int d = m; d < in.rank; ++d) slice *= in.d[d];
  const int64_t tuples = ind.numel() / m;
  const int64_t* ip = ind.data<int64_t>();
  const auto* us = static_cast<const Byte*>(upd.raw());
  auto* dst = static_cast<Byte*>(y.raw());
  for (int64_t t = 0; t < tuples; ++t, ip += m) {
    int64_t off = 0;
    for (int k = 0; k < m; ++k) {
      int64_t i = ip[k];
      if (!fix_index(&i, in.d[k])) return index_error(ctx, ip[k], in.d[k]);
      off = off * in.d[k] + i;
    }
    if (!apply_update(dst + static_cast<size_t>(off * slice) * es,
                      us + static_cast<size_t>(t * slice) * es, slice, x.dtype(), r))
      return tensor_ops::kernel_error(ctx.node(), ctx.opset(), StatusCode::kUnsupported,
                                      "reduction on dtype " + dtype_name(x.dtype()));
  }
  return Status();
}

Status reference_ScatterElements(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& ind = ctx.input(1);
  const Tensor& upd = ctx.input(2);
  Tensor& y = ctx.output(0);
  const size_t es = dtype_size(x.dtype());
  if (y.raw() != x.raw() && y.nbytes() > 0) std::memcpy(y.raw(), x.raw(), y.nbytes());
  if (ind.numel() == 0) return Status();
  const Reduction r = reduction_of(ctx.node());
  const int axis = *normalize_axis(ctx.node().attr_int("axis", 0), x.rank());
  const Dims in = dims_of(x.shape());
  const Dims id = dims_of(ind.shape());
  int64_t stride[kMaxRank];
  strides_of(in, stride);
  const auto* us = static_cast<const Byte*>(upd.raw());
  auto* dst = static_cast<Byte*>(y.raw());
  int64_t idx[kMaxRank] = {};
  int64_t j = 0;
  do {
    int64_t i = int_at(ind, j);
    if (!fix_index(&i, in.d[axis])) return index_error(ctx, int_at(ind, j), in.d[axis]);
    int64_t off = 0;
    for (int d = 0; d < in.rank; ++d) off += (d == axis ? i : idx[d]) * stride[d];
    if (!apply_update(dst + static_cast<size_t>(off) * es, us + static_cast<size_t>(j) * es, 1,
                      x.dtype(), r))
      return tensor_ops::kernel_error(ctx.node(), ctx.opset(), StatusCode::kUnsupported,
                                      "reduction on dtype " + dtype_name(x.dtype()));
    ++j;
  } while (next_index(idx, id.d, id.rank));
  return Status();
}

Status reference_OneHot(KernelContext& ctx) {
  const Tensor& ind = ctx.input(0);
  const Tensor& values = ctx.input(2);
  Tensor& y = ctx.output(0);
  const size_t es = dtype_size(y.dtype());
  const int out_rank = y.rank();
  const int axis = *normalize_axis(ctx.node().attr_int("axis", -1), out_rank);
  const int64_t depth = y.dim(axis);
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= y.dim(d);
  for (int d = axis + 1; d < out_rank; ++d) inner *= y.dim(d);
  const auto* off_v = static_cast<const Byte*>(values.raw());
  const Byte* on_v = off_v + es;
  auto* dst = static_cast<Byte*>(y.raw());
  for (int64_t i = 0; i < y.numel(); ++i) std::memcpy(dst + static_cast<size_t>(i) * es, off_v, es);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t in = 0; in < inner; ++in) {
      const int64_t j = o * inner + in;
      int64_t v = 0;
      switch (ind.dtype()) {
        case DType::kFloat32:
          v = static_cast<int64_t>(ind.data<float>()[j]);
          break;
        case DType::kFloat64:
          v = static_cast<int64_t>(ind.data<double>()[j]);
          break;
        default:
          v = int_at(ind, j);
      }
      if (v < 0) v += depth;
      if (v < 0 || v >= depth) continue;
      std::memcpy(dst + static_cast<size_t>((o * depth + v) * inner + in) * es, on_v, es);
    }
  return Status();
}

}  // namespace fungen
