// Reference kernels of the layout ops (shape functions: ops/tensor_layout.cpp). They move bytes,
// so one implementation serves every dtype; contiguous runs are copied with memcpy.
#include <algorithm>
#include <cstring>

#include "ops/op.h"
#include "ops/op_util.h"
#include "ops/tensor_params.h"

namespace fungen {

using tensor_ops::Dims;
using tensor_ops::dims_of;
using tensor_ops::kMaxRank;
using tensor_ops::next_index;
using tensor_ops::strides_of;

namespace {

using Byte = unsigned char;

// Copies one element of `es` bytes; the common sizes become plain moves.
inline void copy_elem(Byte* dst, const Byte* src, size_t es) {
  switch (es) {
    case 1:
      *dst = *src;
      break;
    case 2:
      std::memcpy(dst, src, 2);
      break;
    case 4:
      std::memcpy(dst, src, 4);
      break;
    case 8:
      std::memcpy(dst, src, 8);
      break;
    default:
      std::memcpy(dst, src, es);
  }
}

}  // namespace

Status reference_Transpose(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const size_t es = dtype_size(x.dtype());
  const Dims in = dims_of(x.shape());
  const int r = in.rank;
  if (y.numel() == 0) return Status();
  int64_t perm[kMaxRank];
  std::span<const int64_t> pa = tensor_ops::attr_ints_view(ctx.node(), "perm");
  for (int i = 0; i < r; ++i) perm[i] = pa.empty() ? r - 1 - i : pa[static_cast<size_t>(i)];
  int64_t in_stride[kMaxRank], src_stride[kMaxRank], out_dim[kMaxRank];
  strides_of(in, in_stride);
  for (int i = 0; i < r; ++i) {
    src_stride[i] = in_stride[perm[i]];
    out_dim[i] = in.d[perm[i]];
  }
  // Trailing axes that stay in place form one contiguous block.
  int m = r;
  int64_t block = 1;
  while (m > 0 && perm[m - 1] == m - 1) {
    --m;
    block *= in.d[m];
  }
  const auto* src = static_cast<const Byte*>(x.raw());
  auto* dst = static_cast<Byte*>(y.raw());
  if (m == 0) {
    std::memcpy(dst, src, y.nbytes());
    return Status();
  }
  const size_t chunk = static_cast<size_t>(block) * es;
  const int inner = m - 1;
  const int64_t inner_n = out_dim[inner];
  const int64_t inner_stride = src_stride[inner];
  int64_t idx[kMaxRank] = {};
  do {
    int64_t base = 0;
    for (int d = 0; d < inner; ++d) base += idx[d] * src_stride[d];
    const Byte* s = src + static_cast<size_t>(base) * es;
    if (block == 1) {
      for (int64_t j = 0; j < inner_n; ++j, dst += es)
        copy_elem(dst, s + static_cast<size_t>(j * inner_stride) * es, es);
    } else {
      for (int64_t j = 0; j < inner_n; ++j, dst += chunk)
        std::memcpy(dst, s + static_cast<size_t>(j * inner_stride) * es, chunk);
    }
  } while (next_index(idx, out_dim, inner));
  return Status();
}

Status reference_Concat(KernelContext& ctx) {
  Tensor& y = ctx.output(0);
  const size_t es = dtype_size(y.dtype());
  const int rank = y.rank();
  const int axis = *normalize_axis(ctx.node().attr_int("axis", 1), rank);
  int64_t outer = 1;
  for (int d = 0; d < axis; ++d) outer *= y.dim(d);
  auto* dst = static_cast<Byte*>(y.raw());
  const size_t n_in = ctx.num_inputs();
  for (int64_t o = 0; o < outer; ++o) {
    for (size_t i = 0; i < n_in; ++i) {
      const Tensor& x = ctx.input(i);
      const int64_t block_elems = outer == 0 ? 0 : x.numel() / outer;
      const size_t block = static_cast<size_t>(block_elems) * es;
      if (block == 0) continue;
      std::memcpy(dst, static_cast<const Byte*>(x.raw()) + static_cast<size_t>(o) * block, block);
      dst += block;
    }
  }
  return Status();
}

Status reference_Split(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const size_t es = dtype_size(x.dtype());
  const int axis = *normalize_axis(ctx.node().attr_int("axis", 0), x.rank());
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= x.dim(d);
  for (int d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
  const auto* src = static_cast<const Byte*>(x.raw());
  for (int64_t o = 0; o < outer; ++o) {
    for (size_t i = 0; i < ctx.num_outputs(); ++i) {
      if (!ctx.has_output(i))
        return tensor_ops::kernel_error(ctx.node(), ctx.opset(), StatusCode::kUnsupported,
                                        "every output of Split must be named");
      Tensor& y = ctx.output(i);
      const size_t block = static_cast<size_t>(y.dim(axis) * inner) * es;
      if (block == 0) continue;
      std::memcpy(static_cast<Byte*>(y.raw()) + static_cast<size_t>(o) * block, src, block);
      src += block;
    }
  }
  return Status();
}

Status reference_Slice(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  if (y.numel() == 0) return Status();
  const size_t es = dtype_size(x.dtype());
  const Tensor* t[4] = {nullptr, nullptr, nullptr, nullptr};
  if (ctx.opset() >= 10)
    for (size_t i = 0; i < 4; ++i) t[i] = ctx.has_input(i + 1) ? &ctx.input(i + 1) : nullptr;
  tensor_ops::SliceParams p;
  Status s =
      tensor_ops::resolve_slice(ctx.node(), ctx.opset(), x.shape(), t[0], t[1], t[2], t[3], &p);
  if (!s.ok()) return tensor_ops::kernel_error(ctx.node(), ctx.opset(), s.code(), s.message());
  const Dims in = dims_of(x.shape());
  const int r = in.rank;
  int64_t stride[kMaxRank];
  strides_of(in, stride);
  // k: the innermost axis that is not taken whole; axes after it are one contiguous block.
  int k = r - 1;
  int64_t inner = 1;
  while (k >= 0 && p.start[k] == 0 && p.step[k] == 1 && p.out[k] == in.d[k]) {
    inner *= in.d[k];
    --k;
  }
  const auto* src = static_cast<const Byte*>(x.raw());
  auto* dst = static_cast<Byte*>(y.raw());
  if (k < 0) {
    std::memcpy(dst, src, y.nbytes());
    return Status();
  }
  const size_t chunk = static_cast<size_t>(inner) * es;
  int64_t idx[kMaxRank] = {};
  do {
    int64_t base = 0;
    for (int d = 0; d < k; ++d) base += (p.start[d] + idx[d] * p.step[d]) * stride[d];
    base += p.start[k] * stride[k];
    const Byte* row = src + static_cast<size_t>(base) * es;
    if (p.step[k] == 1) {
      const size_t run = static_cast<size_t>(p.out[k]) * chunk;
      std::memcpy(dst, row, run);
      dst += run;
    } else {
      const int64_t jump = p.step[k] * stride[k];
      for (int64_t j = 0; j < p.out[k]; ++j, dst += chunk) {
        const Byte* e = row + static_cast<ptrdiff_t>(j * jump) * static_cast<ptrdiff_t>(es);
        if (inner == 1)
          copy_elem(dst, e, es);
        else
          std::memcpy(dst, e, chunk);
      }
    }
  } while (next_index(idx, p.out, k));
  return Status();
}

Status reference_Tile(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  if (y.numel() == 0) return Status();
  const size_t es = dtype_size(x.dtype());
  const Dims in = dims_of(x.shape());
  const Dims out = dims_of(y.shape());
  const int r = in.rank;
  if (r == 0) {
    std::memcpy(y.raw(), x.raw(), es);
    return Status();
  }
  int64_t stride[kMaxRank];
  strides_of(in, stride);
  const int last = r - 1;
  const size_t row = static_cast<size_t>(in.d[last]) * es;
  const int64_t reps = out.d[last] / in.d[last];
  const auto* src = static_cast<const Byte*>(x.raw());
  auto* dst = static_cast<Byte*>(y.raw());
  int64_t idx[kMaxRank] = {};
  do {
    int64_t base = 0;
    for (int d = 0; d < last; ++d) base += (idx[d] % in.d[d]) * stride[d];
    for (int64_t k = 0; k < reps; ++k, dst += row)
      std::memcpy(dst, src + static_cast<size_t>(base) * es, row);
  } while (next_index(idx, out.d, last));
  return Status();
}

namespace {

// The source coordinate of padded coordinate c along an axis whose kept input range is
// [lo, hi); -1 means "the constant value".
inline int64_t pad_source(int64_t c, int64_t lo, int64_t hi, tensor_ops::PadMode mode) {
  if (c >= lo && c < hi) return c;
  const int64_t n = hi - lo;
  int64_t t = c - lo;
  switch (mode) {
    case tensor_ops::PadMode::kConstant:
      return -1;
    case tensor_ops::PadMode::kEdge:
      return t < 0 ? lo : hi - 1;
    case tensor_ops::PadMode::kWrap:
      return lo + ((t % n) + n) % n;
    case tensor_ops::PadMode::kReflect: {
      if (n == 1) return lo;
      const int64_t period = 2 * (n - 1);
      t = ((t % period) + period) % period;
      return lo + (t < n ? t : period - t);
    }
  }
  return -1;
}

// The pad value as bytes of dtype dt.
void pad_value_bytes(KernelContext& ctx, DType dt, Byte* out) {
  const size_t es = dtype_size(dt);
  std::memset(out, 0, es);
  if (ctx.opset() >= 11) {
    if (ctx.has_input(2) && ctx.input(2).numel() > 0) std::memcpy(out, ctx.input(2).raw(), es);
    return;
  }
  const double v = ctx.node().attr_float("value", 0.0f);
  switch (dt) {
    case DType::kFloat32: {
      float f = static_cast<float>(v);
      std::memcpy(out, &f, 4);
      break;
    }
    case DType::kFloat64:
      std::memcpy(out, &v, 8);
      break;
    case DType::kFloat16: {
      uint16_t h = float_to_float16(static_cast<float>(v));
      std::memcpy(out, &h, 2);
      break;
    }
    case DType::kInt32: {
      int32_t i = static_cast<int32_t>(v);
      std::memcpy(out, &i, 4);
      break;
    }
    case DType::kInt64: {
      int64_t i = static_cast<int64_t>(v);
      std::memcpy(out, &i, 8);
      break;
    }
    default:
      break;
  }
}

}  // namespace

Status reference_Pad(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  if (y.numel() == 0) return Status();
  const size_t es = dtype_size(x.dtype());
  const Tensor* pads = ctx.opset() >= 11 ? &ctx.input(1) : nullptr;
  const Tensor* axes = ctx.opset() >= 11 && ctx.has_input(3) ? &ctx.input(3) : nullptr;
  tensor_ops::PadParams p;
  Status s = tensor_ops::resolve_pad(ctx.node(), ctx.opset(), x.shape(), pads, axes, &p);
  if (!s.ok()) return tensor_ops::kernel_error(ctx.node(), ctx.opset(), s.code(), s.message());
  Byte value[16];
  pad_value_bytes(ctx, x.dtype(), value);
  const Dims in = dims_of(x.shape());
  const Dims out = dims_of(y.shape());
  const int r = in.rank;
  auto* dst = static_cast<Byte*>(y.raw());
  const auto* src = static_cast<const Byte*>(x.raw());
  if (r == 0) {
    std::memcpy(dst, src, es);
    return Status();
  }
  int64_t stride[kMaxRank], lo[kMaxRank], hi[kMaxRank];
  strides_of(in, stride);
  for (int d = 0; d < r; ++d) {
    lo[d] = std::max<int64_t>(0, -p.begin[d]);
    hi[d] = in.d[d] - std::max<int64_t>(0, -p.end[d]);
  }
  const int last = r - 1;
  const int64_t width = out.d[last];
  int64_t idx[kMaxRank] = {};
  do {
    int64_t base = 0;
    bool constant_row = false;
    for (int d = 0; d < last; ++d) {
      const int64_t c = pad_source(idx[d] - p.begin[d], lo[d], hi[d], p.mode);
      if (c < 0) constant_row = true;
      base += c * stride[d];
    }
    if (constant_row || lo[last] >= hi[last]) {
      for (int64_t j = 0; j < width; ++j, dst += es) std::memcpy(dst, value, es);
      continue;
    }
    const Byte* row = src + static_cast<size_t>(base) * es;
    // Output j reads input j - begin; [j0, j1) is the directly copied middle.
    const int64_t j0 = std::clamp<int64_t>(lo[last] + p.begin[last], 0, width);
    const int64_t j1 = std::clamp<int64_t>(hi[last] + p.begin[last], j0, width);
    for (int64_t j = 0; j < j0; ++j, dst += es) {
      const int64_t c = pad_source(j - p.begin[last], lo[last], hi[last], p.mode);
      std::memcpy(dst, c < 0 ? value : row + static_cast<size_t>(c) * es, es);
    }
    const size_t mid = static_cast<size_t>(j1 - j0) * es;
    std::memcpy(dst, row + static_cast<size_t>(j0 - p.begin[last]) * es, mid);
    dst += mid;
    for (int64_t j = j1; j < width; ++j, dst += es) {
      const int64_t c = pad_source(j - p.begin[last], lo[last], hi[last], p.mode);
      std::memcpy(dst, c < 0 ? value : row + static_cast<size_t>(c) * es, es);
    }
  } while (next_index(idx, out.d, last));
  return Status();
}

namespace {

Status space_depth(KernelContext& ctx, bool to_space) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const size_t es = dtype_size(x.dtype());
  const int64_t b = ctx.node().attr_int("blocksize", 1);
  const bool crd = tensor_ops::attr_string_view(ctx.node(), "mode", "DCR") == "CRD";
  // The small (space) side: N, C, H, W with H, W the large spatial dims.
  const Tensor& big = to_space ? y : x;  // N, C, H*b, W*b side
  const int64_t N = big.dim(0), C = big.dim(1), H = big.dim(2) / b, W = big.dim(3) / b;
  const auto* src = static_cast<const Byte*>(x.raw());
  auto* dst = static_cast<Byte*>(y.raw());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < b; ++i)
        for (int64_t j = 0; j < b; ++j) {
          const int64_t deep_c = crd && to_space ? c * b * b + i * b + j : (i * b + j) * C + c;
          for (int64_t h = 0; h < H; ++h)
            for (int64_t w = 0; w < W; ++w) {
              const int64_t big_off = ((n * C + c) * H * b + h * b + i) * W * b + w * b + j;
              const int64_t deep_off = ((n * C * b * b + deep_c) * H + h) * W + w;
              const int64_t so = to_space ? deep_off : big_off;
              const int64_t dof = to_space ? big_off : deep_off;
              copy_elem(dst + static_cast<size_t>(dof) * es, src + static_cast<size_t>(so) * es,
                        es);
            }
        }
  return Status();
}

}  // namespace

Status reference_DepthToSpace(KernelContext& ctx) {
  return space_depth(ctx, true);
}
Status reference_SpaceToDepth(KernelContext& ctx) {
  return space_depth(ctx, false);
}

Status reference_Trilu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const size_t es = dtype_size(x.dtype());
  const int64_t k = ctx.has_input(1) ? ctx.input(1).data<int64_t>()[0] : 0;
  const bool upper = ctx.node().attr_int("upper", 1) != 0;
  const int64_t rows = x.dim(x.rank() - 2), cols = x.dim(x.rank() - 1);
  const int64_t mats = rows * cols == 0 ? 0 : x.numel() / (rows * cols);
  const auto* src = static_cast<const Byte*>(x.raw());
  auto* dst = static_cast<Byte*>(y.raw());
  for (int64_t m = 0; m < mats; ++m)
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        const size_t off = static_cast<size_t>((m * rows + i) * cols + j) * es;
        const bool keep = upper ? (j - i >= k) : (j - i <= k);
        if (keep)
          copy_elem(dst + off, src + off, es);
        else
          std::memset(dst + off, 0, es);
      }
  return Status();
}

}  // namespace fungen
