// Reference kernels of MatMul and Gemm: i-k-j loops (row of C += a(i,k) * row k of B), so the
// innermost loop runs contiguously over C and B and vectorizes. Rows run in parallel.
#include <algorithm>

#include "ops/elementwise_dtypes.h"
#include "ops/op.h"
#include "ops/op_util.h"
#include "util/thread_pool.h"

namespace fungen {
namespace {

using MatMulTypes = TypeList<float, double, int32_t, int64_t, uint32_t, uint64_t>;

// c[0, n) = sum_k a[k * a_stride] * b[k * ldb + 0 .. n)
template <class T>
inline void row_times_matrix(const T* a, int64_t a_stride, const T* b, int64_t ldb, T* c, int64_t k,
                             int64_t n) {
  std::fill(c, c + n, T(0));
  for (int64_t kk = 0; kk < k; ++kk) {
    const T av = a[kk * a_stride];
    const T* br = b + kk * ldb;
    for (int64_t j = 0; j < n; ++j) c[j] += av * br[j];
  }
}

}  // namespace

Status reference_MatMul(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  Tensor& y = ctx.output(0);
  // View 1-D operands as [1, K] and [K, 1].
  Shape as = a.shape(), bs = b.shape();
  if (as.size() == 1) as.insert(as.begin(), 1);
  if (bs.size() == 1) bs.push_back(1);
  const int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  const Shape a_batch(as.begin(), as.end() - 2), b_batch(bs.begin(), bs.end() - 2);
  const Shape batch = *broadcast_shapes(a_batch, b_batch);
  const std::vector<int64_t> a_str = broadcast_strides(a_batch, batch);
  const std::vector<int64_t> b_str = broadcast_strides(b_batch, batch);
  const int64_t batches = shape_numel(batch);
  bool ok = dispatch_dtype(MatMulTypes{}, a.dtype(), [&]<class T>() {
    const T* ad = a.data<T>();
    const T* bd = b.data<T>();
    T* yd = y.data<T>();
    parallel_over(ctx.pool(), batches * m, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const int64_t bi = r / m, i = r % m;
        int64_t a_off = 0, b_off = 0, rem = bi;
        for (size_t d = batch.size(); d-- > 0;) {
          const int64_t idx = rem % batch[d];
          rem /= batch[d];
          a_off += idx * a_str[d];
          b_off += idx * b_str[d];
        }
        row_times_matrix(ad + (a_off * m + i) * k, 1, bd + b_off * k * n, n, yd + r * n, k, n);
      }
    });
  });
  if (!ok) return unsupported("MatMul: dtype " + dtype_name(a.dtype()) + " not supported");
  return Status();
}

// Y = alpha * A' * B' + beta * C. A transposed is read with a stride; B transposed is first
// copied into scratch as [K, N] so the inner loop stays contiguous.
Status reference_Gemm(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  Tensor& y = ctx.output(0);
  const bool trans_a = ctx.node().attr_int("transA", 0) == 1;
  const bool trans_b = ctx.node().attr_int("transB", 0) == 1;
  const float alpha = ctx.node().attr_float("alpha", 1.0f);
  const float beta = ctx.node().attr_float("beta", 1.0f);
  const int64_t m = y.dim(0), n = y.dim(1);
  const int64_t k = trans_a ? a.dim(0) : a.dim(1);
  const Tensor* c = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  bool ok = dispatch_dtype(FloatTypes{}, a.dtype(), [&]<class T>() {
    const T* ad = a.data<T>();
    const T* bd = b.data<T>();
    if (trans_b) {  // B is [N, K]
      T* bt = static_cast<T*>(ctx.scratch());
      for (int64_t j = 0; j < n; ++j) {
        for (int64_t kk = 0; kk < k; ++kk) bt[kk * n + j] = bd[j * k + kk];
      }
      bd = bt;
    }
    const T* cd = c ? c->data<T>() : nullptr;
    std::vector<int64_t> c_str =
        c ? broadcast_strides(c->shape(), Shape{m, n}) : std::vector<int64_t>{0, 0};
    T* yd = y.data<T>();
    parallel_over(ctx.pool(), m, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        T* yr = yd + i * n;
        if (trans_a) {
          row_times_matrix(ad + i, m, bd, n, yr, k, n);
        } else {
          row_times_matrix(ad + i * k, 1, bd, n, yr, k, n);
        }
        for (int64_t j = 0; j < n; ++j) {
          T v = static_cast<T>(alpha) * yr[j];
          if (cd) v += static_cast<T>(beta) * cd[i * c_str[0] + j * c_str[1]];
          yr[j] = v;
        }
      }
    });
  });
  if (!ok) return unsupported("Gemm: dtype " + dtype_name(a.dtype()) + " not supported");
  return Status();
}

}  // namespace fungen
