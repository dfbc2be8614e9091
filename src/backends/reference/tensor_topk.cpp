// Reference kernels of TopK and CumSum (shape functions: ops/tensor_topk.cpp).
//
// TopK orders by value (descending when largest=1), ties by lower index, like ONNX Runtime; the
// index buffer lives in scratch. With sorted=0 the output is still in that order.
#include <algorithm>
#include <cstdint>

#include "ops/op.h"
#include "ops/op_util.h"
#include "ops/tensor_params.h"

namespace fungen {

namespace {

template <class T>
void topk_run(const Tensor& x, Tensor& values, Tensor& indices, int axis, bool largest,
              int64_t* order) {
  const int64_t n = x.dim(axis);
  const int64_t k = values.dim(axis);
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= x.dim(d);
  for (int d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
  const T* src = x.data<T>();
  T* vout = values.data<T>();
  int64_t* iout = indices.empty() ? nullptr : indices.data<int64_t>();
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t in = 0; in < inner; ++in) {
      const T* v = src + o * n * inner + in;
      for (int64_t i = 0; i < n; ++i) order[i] = i;
      auto before = [&](int64_t a, int64_t b) {
        const T va = v[a * inner], vb = v[b * inner];
        if (va != vb) return largest ? va > vb : va < vb;
        return a < b;
      };
      if (k < n)
        std::partial_sort(order, order + k, order + n, before);
      else
        std::sort(order, order + n, before);
      for (int64_t j = 0; j < k; ++j) {
        const int64_t at = (o * k + j) * inner + in;
        vout[at] = v[order[j] * inner];
        if (iout) iout[at] = order[j];
      }
    }
  }
}

template <class T>
void cumsum_run(const Tensor& x, Tensor& y, int axis, bool exclusive, bool reverse) {
  const int64_t n = x.dim(axis);
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= x.dim(d);
  for (int d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
  const T* src = x.data<T>();
  T* dst = y.data<T>();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t in = 0; in < inner; ++in) {
      T acc = 0;
      for (int64_t s = 0; s < n; ++s) {
        const int64_t i = reverse ? n - 1 - s : s;
        const int64_t at = (o * n + i) * inner + in;
        const T v = src[at];
        if (exclusive) {
          dst[at] = acc;
          acc += v;
        } else {
          acc += v;
          dst[at] = acc;
        }
      }
    }
}

}  // namespace

Status reference_TopK(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& values = ctx.output(0);
  Tensor no_indices;
  Tensor& indices = ctx.has_output(1) ? ctx.output(1) : no_indices;
  const int axis = *normalize_axis(ctx.node().attr_int("axis", -1), x.rank());
  const bool largest = ctx.node().attr_int("largest", 1) != 0;
  if (values.numel() == 0) return Status();
  if (ctx.scratch_bytes() < static_cast<size_t>(x.dim(axis)) * sizeof(int64_t))
    return tensor_ops::kernel_error(ctx.node(), ctx.opset(), StatusCode::kInternal,
                                    "scratch too small");
  auto* order = static_cast<int64_t*>(ctx.scratch());
  switch (x.dtype()) {
    case DType::kFloat32:
      topk_run<float>(x, values, indices, axis, largest, order);
      break;
    case DType::kFloat64:
      topk_run<double>(x, values, indices, axis, largest, order);
      break;
    case DType::kInt8:
      topk_run<int8_t>(x, values, indices, axis, largest, order);
      break;
    case DType::kUInt8:
      topk_run<uint8_t>(x, values, indices, axis, largest, order);
      break;
    case DType::kInt16:
      topk_run<int16_t>(x, values, indices, axis, largest, order);
      break;
    case DType::kUInt16:
      topk_run<uint16_t>(x, values, indices, axis, largest, order);
      break;
    case DType::kInt32:
      topk_run<int32_t>(x, values, indices, axis, largest, order);
      break;
    case DType::kUInt32:
      topk_run<uint32_t>(x, values, indices, axis, largest, order);
      break;
    case DType::kInt64:
      topk_run<int64_t>(x, values, indices, axis, largest, order);
      break;
    case DType::kUInt64:
      topk_run<uint64_t>(x, values, indices, axis, largest, order);
      break;
    default:
      return tensor_ops::kernel_error(ctx.node(), ctx.opset(), StatusCode::kUnsupported,
                                      "dtype " + dtype_name(x.dtype()));
  }
  return Status();
}

Status reference_CumSum(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  auto axis = normalize_axis(tensor_ops::int_at(ctx.input(1), 0), x.rank());
  if (!axis)
    return tensor_ops::kernel_error(ctx.node(), ctx.opset(), StatusCode::kInvalidArgument,
                                    "input 'axis' out of range");
  const bool exclusive = ctx.node().attr_int("exclusive", 0) != 0;
  const bool reverse = ctx.node().attr_int("reverse", 0) != 0;
  switch (x.dtype()) {
    case DType::kFloat32:
      cumsum_run<float>(x, y, *axis, exclusive, reverse);
      break;
    case DType::kFloat64:
      cumsum_run<double>(x, y, *axis, exclusive, reverse);
      break;
    case DType::kInt32:
      cumsum_run<int32_t>(x, y, *axis, exclusive, reverse);
      break;
    case DType::kInt64:
      cumsum_run<int64_t>(x, y, *axis, exclusive, reverse);
      break;
    case DType::kUInt32:
      cumsum_run<uint32_t>(x, y, *axis, exclusive, reverse);
      break;
    case DType::kUInt64:
      cumsum_run<uint64_t>(x, y, *axis, exclusive, reverse);
      break;
    default:
      return tensor_ops::kernel_error(ctx.node(), ctx.opset(), StatusCode::kUnsupported,
                                      "dtype " + dtype_name(x.dtype()));
  }
  return Status();
}

}  // namespace fungen
