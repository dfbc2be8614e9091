// Reference kernel of the internal FusedConv, composed from the plain kernels so a fused graph
// computes exactly what the unfused one did: Conv, then the activation with the Sigmoid and Mul
// kernels' arithmetic, then the residual Add.
#include <cmath>
#include <string>

#include "ops/elementwise_dtypes.h"
#include "ops/op.h"

namespace fungen {

Status reference_Conv(KernelContext& ctx);

Status reference_FusedConv(KernelContext& ctx) {
  FUNGEN_RETURN_IF_ERROR(reference_Conv(ctx));  // reads X, W, optional B; writes Y
  Tensor& y = ctx.output(0);
  const bool silu = ctx.node().attr_string("activation", "") == "silu";
  const Tensor* z = ctx.has_input(3) ? &ctx.input(3) : nullptr;
  bool ok = dispatch_dtype(FloatTypes{}, y.dtype(), [&]<class T>() {
    T* yp = y.data<T>();
    const int64_t n = y.numel();
    if (silu) {
      for (int64_t i = 0; i < n; ++i) yp[i] = yp[i] * (T(1) / (T(1) + std::exp(-yp[i])));
    }
    if (z) {
      const T* zp = z->data<T>();
      for (int64_t i = 0; i < n; ++i) yp[i] = yp[i] + zp[i];
    }
  });
  if (!ok) {
    return unsupported(ctx.node().describe(ctx.opset()) + ": dtype " + dtype_name(y.dtype()) +
                       " not supported");
  }
  return Status();
}

}  // namespace fungen
