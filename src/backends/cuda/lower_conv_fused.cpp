// Opt-in (FUNGEN_CUDA_FUSED=1): a convolution and its whole epilogue as one cuDNN graph-API
// operation graph — conv -> + bias -> SiLU (sigmoid, multiply) -> + residual -> y — so that
// cuDNN's runtime-fusion engines run it as one kernel, writing y with any row length (straight
// into a Concat slice). NHWC fp16 only, group 1, channel counts multiples of 8 (tensor cores).
// The engine is cuDNN's first heuristic (mode A) choice whose plan builds and whose workspace
// fits; when none does, or any call fails, the node goes to the legacy path (lower_conv) with an
// info line. Written without a GPU at hand: checked by tests/unit/test_backend_cuda_kernels.cpp
// and bench/gpu/gpu_bench --check-all with the switch on.
#include <cuda_fp16.h>
#include <cudnn.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cuda_run.h"
#include "backends/cuda/cudnn_fused_plan.h"
#include "fungen/log.h"

namespace fungen::cuda {

namespace {

bool fused_enabled() {
  const char* v = std::getenv("FUNGEN_CUDA_FUSED");
  return v && std::strcmp(v, "1") == 0;
}

}  // namespace

// True when the node was lowered here; false leaves it to the legacy path.
Result<bool> lower_conv_fused(CudaRun& run, const Node& node) {
  CudaContext& ctx = run.ctx();
  if (!fused_enabled() || !ctx.nhwc || run.elem() != Elem::kF16) return false;
  const int x = node.inputs[0], w = node.inputs[1], y = node.outputs[0];
  const int b = node.inputs.size() > 2 ? node.inputs[2] : -1;
  const int z = node.inputs.size() > 3 ? node.inputs[3] : -1;
  const Shape& xs = run.shape(x);
  const Shape& ws = run.shape(w);
  const Shape& ys = run.shape(y);
  if (node.attr_int("group", 1) != 1 || xs[1] % 8 != 0 || ys[1] % 8 != 0) return false;
  std::vector<int64_t> pads = node.attr_ints("pads", {0, 0, 0, 0});
  std::vector<int64_t> strides = node.attr_ints("strides", {1, 1});
  std::vector<int64_t> dil = node.attr_ints("dilations", {1, 1});
  FusedConvSpec p{};
  p.n = xs[0];
  p.c = xs[1];
  p.h = xs[2];
  p.w = xs[3];
  p.k = ys[1];
  p.r = ws[2];
  p.s = ws[3];
  p.oh = ys[2];
  p.ow = ys[3];
  p.out_ld = ys[1];
  p.pad[0] = pads[0];
  p.pad[1] = pads[1];
  p.stride[0] = strides[0];
  p.stride[1] = strides[1];
  p.dil[0] = dil[0];
  p.dil[1] = dil[1];
  p.bias = b >= 0;
  p.silu = node.attr_string("activation", "") == "silu";
  p.residual = z >= 0;
  // The packed plan first: when it does not build, the legacy path takes the node (and its
  // Concat placement, not asked for yet).
  auto built = build_fused_plan(ctx.cudnn, p, ctx.max_workspace);
  if (!built.ok()) {
    log(LogLevel::kInfo, "cuda: {}: fused conv not available, legacy path: {}", node.name,
        built.status().message());
    return false;
  }
  std::shared_ptr<FusedPlan> plan = *built;
  // A plan for the concat slice's row length, when the output is placed (else the packed one).
  const CudaRun::Slice slice = run.placement(y);
  if (slice.buf >= 0 && slice.ld != p.out_ld && slice.offset % 8 == 0 && slice.ld % 8 == 0) {
    FusedConvSpec q = p;
    q.out_ld = slice.ld;
    auto strided = build_fused_plan(ctx.cudnn, q, ctx.max_workspace);
    if (strided.ok()) {
      p = q;
      plan = *strided;
    }
  }
  const bool into_slice = slice.buf >= 0 && p.out_ld == slice.ld;
  run.need_workspace(static_cast<size_t>(plan->workspace));

  // Weights: OIHW fp32 -> KRSC fp16 on the host; bias fp32.
  const Tensor& wt = run.constant(w);
  const float* src = wt.data<float>();
  std::vector<__half> host(static_cast<size_t>(wt.numel()));
  const int64_t co = ws[0], ci = ws[1], kh = ws[2], kw = ws[3];
  for (int64_t o = 0; o < co; ++o)
    for (int64_t i = 0; i < ci; ++i)
      for (int64_t r = 0; r < kh * kw; ++r)
        host[static_cast<size_t>((o * kh * kw + r) * ci + i)] =
            __float2half(src[(o * ci + i) * kh * kw + r]);
  int wbuf = run.persistent(host.size() * sizeof(__half));
  if (!run.ptr(wbuf)) return out_of_memory("cuda: cannot allocate convolution weights");
  FUNGEN_RETURN_IF_ERROR(run.upload(run.ptr(wbuf), host.data(), host.size() * sizeof(__half)));
  int bbuf = -1;
  if (b >= 0) {
    const Tensor& bt = run.constant(b);
    bbuf = run.persistent(bt.nbytes());
    if (!run.ptr(bbuf)) return out_of_memory("cuda: cannot allocate convolution bias");
    FUNGEN_RETURN_IF_ERROR(run.upload(run.ptr(bbuf), bt.raw(), bt.nbytes()));
  }
  FUNGEN_ASSIGN_OR_RETURN(int xb, run.get(x, Layout::kNhwc));
  int zb = -1;
  if (z >= 0) {
    FUNGEN_ASSIGN_OR_RETURN(zb, run.get(z, Layout::kNhwc));
  }
  int yb = -1;
  int64_t offset = 0;
  int copy_to = -1;  // placed but the strided plan did not build: packed y, then a copy
  if (into_slice) {
    yb = slice.buf;
    offset = slice.offset;
  } else {
    yb = run.define(y, Layout::kNhwc);
    if (slice.buf >= 0) copy_to = slice.buf;
  }
  CudaRun* r = &run;
  cudnnHandle_t handle = ctx.cudnn;
  const FusedConvSpec spec = p;
  run.next_step_uses(StepLibrary::kContext);
  run.add_step(
      node.name + (into_slice ? " (cudnn fused conv, into concat)" : " (cudnn fused conv)"),
      {xb, zb, wbuf, bbuf, yb, copy_to}, [=](cudaStream_t st) -> Status {
        void* out = static_cast<std::byte*>(r->ptr(yb)) + offset * sizeof(__half);
        FUNGEN_RETURN_IF_ERROR(execute_fused_plan(
            handle, *plan, spec, r->ptr(xb), r->ptr(wbuf), bbuf >= 0 ? r->ptr(bbuf) : nullptr,
            zb >= 0 ? r->ptr(zb) : nullptr, out, r->workspace()));
        if (copy_to >= 0) {
          CUDA_CHECK(cudaMemcpy2DAsync(
              static_cast<std::byte*>(r->ptr(copy_to)) + slice.offset * sizeof(__half),
              static_cast<size_t>(slice.ld) * sizeof(__half), r->ptr(yb),
              static_cast<size_t>(spec.k) * sizeof(__half),
              static_cast<size_t>(spec.k) * sizeof(__half),
              static_cast<size_t>(spec.n * spec.oh * spec.ow), cudaMemcpyDeviceToDevice, st));
        }
        return Status();
      });
  return true;
}

}  // namespace fungen::cuda
