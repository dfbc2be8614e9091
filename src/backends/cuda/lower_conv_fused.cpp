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
#include "fungen/log.h"

namespace fungen::cuda {

namespace {

// One backend descriptor, destroyed with its owner.
struct Desc {
  cudnnBackendDescriptor_t d = nullptr;
  ~Desc() {
    if (d) cudnnBackendDestroyDescriptor(d);
  }
};
using DescPtr = std::shared_ptr<Desc>;

// Everything the plan refers to, kept alive as long as it.
struct FusedPlan {
  std::vector<DescPtr> keep;
  DescPtr plan;
  int64_t workspace = 0;
};

#define FUSED_TRY(call)                                                                        \
  do {                                                                                         \
    cudnnStatus_t st_ = (call);                                                                \
    if (st_ != CUDNN_STATUS_SUCCESS)                                                           \
      return unsupported(std::string("cudnn graph: ") + #call + ": " + cudnnGetErrorString(st_)); \
  } while (0)

Result<DescPtr> make(cudnnBackendDescriptorType_t type) {
  auto p = std::make_shared<Desc>();
  FUSED_TRY(cudnnBackendCreateDescriptor(type, &p->d));
  return p;
}

Result<DescPtr> tensor(int64_t uid, cudnnDataType_t dt, const int64_t dims[4],
                       const int64_t strides[4], bool is_virtual) {
  FUNGEN_ASSIGN_OR_RETURN(DescPtr t, make(CUDNN_BACKEND_TENSOR_DESCRIPTOR));
  const int64_t align = 16;
  FUSED_TRY(cudnnBackendSetAttribute(t->d, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &dt));
  FUSED_TRY(cudnnBackendSetAttribute(t->d, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims));
  FUSED_TRY(cudnnBackendSetAttribute(t->d, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides));
  FUSED_TRY(cudnnBackendSetAttribute(t->d, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid));
  FUSED_TRY(
      cudnnBackendSetAttribute(t->d, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align));
  FUSED_TRY(
      cudnnBackendSetAttribute(t->d, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &is_virtual));
  FUSED_TRY(cudnnBackendFinalize(t->d));
  return t;
}

// y = x (op) b, or y = op(x) when b is null; fp32 arithmetic.
Result<DescPtr> pointwise(cudnnPointwiseMode_t mode, const DescPtr& x, const DescPtr& b,
                          const DescPtr& y, std::vector<DescPtr>& keep) {
  FUNGEN_ASSIGN_OR_RETURN(DescPtr pw, make(CUDNN_BACKEND_POINTWISE_DESCRIPTOR));
  const cudnnDataType_t prec = CUDNN_DATA_FLOAT;
  FUSED_TRY(cudnnBackendSetAttribute(pw->d, CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1,
                                     &mode));
  FUSED_TRY(cudnnBackendSetAttribute(pw->d, CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1,
                                     &prec));
  FUSED_TRY(cudnnBackendFinalize(pw->d));
  keep.push_back(pw);
  FUNGEN_ASSIGN_OR_RETURN(DescPtr op, make(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR));
  FUSED_TRY(cudnnBackendSetAttribute(op->d, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR,
                                     CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &pw->d));
  FUSED_TRY(cudnnBackendSetAttribute(op->d, CUDNN_ATTR_OPERATION_POINTWISE_XDESC,
                                     CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x->d));
  if (b) {
    FUSED_TRY(cudnnBackendSetAttribute(op->d, CUDNN_ATTR_OPERATION_POINTWISE_BDESC,
                                       CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &b->d));
  }
  FUSED_TRY(cudnnBackendSetAttribute(op->d, CUDNN_ATTR_OPERATION_POINTWISE_YDESC,
                                     CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &y->d));
  FUSED_TRY(cudnnBackendFinalize(op->d));
  return op;
}

struct Spec {
  int64_t n, c, h, w, k, r, s, oh, ow, out_ld;
  int64_t pad[2], stride[2], dil[2];
  bool bias, silu, residual;
};

enum Uid : int64_t { kX = 1, kW = 2, kB = 3, kZ = 4, kY = 5, kVirtual = 10 };

Result<std::shared_ptr<FusedPlan>> build_plan(cudnnHandle_t handle, const Spec& p,
                                              size_t max_workspace) {
  auto plan = std::make_shared<FusedPlan>();
  auto& keep = plan->keep;
  const cudnnDataType_t half = CUDNN_DATA_HALF, f32 = CUDNN_DATA_FLOAT;
  // Dimensions in N,C,H,W order, strides of the NHWC (KRSC) storage.
  const int64_t xd[4] = {p.n, p.c, p.h, p.w}, xs[4] = {p.h * p.w * p.c, 1, p.w * p.c, p.c};
  const int64_t wd[4] = {p.k, p.c, p.r, p.s}, wst[4] = {p.r * p.s * p.c, 1, p.s * p.c, p.c};
  const int64_t yd[4] = {p.n, p.k, p.oh, p.ow};
  const int64_t ys[4] = {p.oh * p.ow * p.out_ld, 1, p.ow * p.out_ld, p.out_ld};
  const int64_t packed[4] = {p.oh * p.ow * p.k, 1, p.ow * p.k, p.k};
  const int64_t bd[4] = {1, p.k, 1, 1}, bs[4] = {p.k, 1, p.k, p.k};
  FUNGEN_ASSIGN_OR_RETURN(DescPtr x, tensor(kX, half, xd, xs, false));
  FUNGEN_ASSIGN_OR_RETURN(DescPtr w, tensor(kW, half, wd, wst, false));
  keep.insert(keep.end(), {x, w});
  int64_t next_uid = kVirtual;
  // The result of each stage: virtual fp32, except the last one, which is y itself.
  const int stages = 1 + (p.bias ? 1 : 0) + (p.silu ? 2 : 0) + (p.residual ? 1 : 0);
  int stage = 0;
  auto out = [&]() -> Result<DescPtr> {
    ++stage;
    if (stage == stages) return tensor(kY, half, yd, ys, false);
    return tensor(next_uid++, f32, yd, packed, true);
  };
  std::vector<DescPtr> ops;
  // Convolution.
  FUNGEN_ASSIGN_OR_RETURN(DescPtr conv, make(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR));
  {
    const int64_t dims = 2;
    const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
    FUSED_TRY(cudnnBackendSetAttribute(conv->d, CUDNN_ATTR_CONVOLUTION_COMP_TYPE,
                                       CUDNN_TYPE_DATA_TYPE, 1, &f32));
    FUSED_TRY(cudnnBackendSetAttribute(conv->d, CUDNN_ATTR_CONVOLUTION_CONV_MODE,
                                       CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode));
    FUSED_TRY(cudnnBackendSetAttribute(conv->d, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS,
                                       CUDNN_TYPE_INT64, 1, &dims));
    FUSED_TRY(cudnnBackendSetAttribute(conv->d, CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64,
                                       2, p.dil));
    FUSED_TRY(cudnnBackendSetAttribute(conv->d, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES,
                                       CUDNN_TYPE_INT64, 2, p.stride));
    FUSED_TRY(cudnnBackendSetAttribute(conv->d, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS,
                                       CUDNN_TYPE_INT64, 2, p.pad));
    FUSED_TRY(cudnnBackendSetAttribute(conv->d, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS,
                                       CUDNN_TYPE_INT64, 2, p.pad));
    FUSED_TRY(cudnnBackendFinalize(conv->d));
  }
  keep.push_back(conv);
  FUNGEN_ASSIGN_OR_RETURN(DescPtr cur, out());
  keep.push_back(cur);
  {
    FUNGEN_ASSIGN_OR_RETURN(DescPtr op, make(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR));
    const float alpha = 1.0f, beta = 0.0f;
    FUSED_TRY(cudnnBackendSetAttribute(op->d, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X,
                                       CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x->d));
    FUSED_TRY(cudnnBackendSetAttribute(op->d, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W,
                                       CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &w->d));
    FUSED_TRY(cudnnBackendSetAttribute(op->d, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y,
                                       CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cur->d));
    FUSED_TRY(cudnnBackendSetAttribute(op->d, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC,
                                       CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &conv->d));
    FUSED_TRY(cudnnBackendSetAttribute(op->d, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA,
                                       CUDNN_TYPE_FLOAT, 1, &alpha));
    FUSED_TRY(cudnnBackendSetAttribute(op->d, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA,
                                       CUDNN_TYPE_FLOAT, 1, &beta));
    FUSED_TRY(cudnnBackendFinalize(op->d));
    ops.push_back(op);
  }
  if (p.bias) {
    FUNGEN_ASSIGN_OR_RETURN(DescPtr b, tensor(kB, f32, bd, bs, false));
    FUNGEN_ASSIGN_OR_RETURN(DescPtr y, out());
    keep.insert(keep.end(), {b, y});
    FUNGEN_ASSIGN_OR_RETURN(DescPtr op, pointwise(CUDNN_POINTWISE_ADD, cur, b, y, keep));
    ops.push_back(op);
    cur = y;
  }
  if (p.silu) {  // v * sigmoid(v)
    FUNGEN_ASSIGN_OR_RETURN(DescPtr sg, out());
    keep.push_back(sg);
    FUNGEN_ASSIGN_OR_RETURN(DescPtr op1, pointwise(CUDNN_POINTWISE_SIGMOID_FWD, cur, nullptr, sg, keep));
    FUNGEN_ASSIGN_OR_RETURN(DescPtr y, out());
    keep.push_back(y);
    FUNGEN_ASSIGN_OR_RETURN(DescPtr op2, pointwise(CUDNN_POINTWISE_MUL, cur, sg, y, keep));
    ops.insert(ops.end(), {op1, op2});
    cur = y;
  }
  if (p.residual) {
    FUNGEN_ASSIGN_OR_RETURN(DescPtr z, tensor(kZ, half, yd, packed, false));
    FUNGEN_ASSIGN_OR_RETURN(DescPtr y, out());
    keep.insert(keep.end(), {z, y});
    FUNGEN_ASSIGN_OR_RETURN(DescPtr op, pointwise(CUDNN_POINTWISE_ADD, cur, z, y, keep));
    ops.push_back(op);
  }
  keep.insert(keep.end(), ops.begin(), ops.end());
  // Operation graph, heuristics, the first plan that builds and fits.
  FUNGEN_ASSIGN_OR_RETURN(DescPtr graph, make(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR));
  std::vector<cudnnBackendDescriptor_t> op_ds;
  for (const DescPtr& o : ops) op_ds.push_back(o->d);
  FUSED_TRY(cudnnBackendSetAttribute(graph->d, CUDNN_ATTR_OPERATIONGRAPH_OPS,
                                     CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                     static_cast<int64_t>(op_ds.size()), op_ds.data()));
  FUSED_TRY(cudnnBackendSetAttribute(graph->d, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE,
                                     1, &handle));
  FUSED_TRY(cudnnBackendFinalize(graph->d));
  keep.push_back(graph);
  FUNGEN_ASSIGN_OR_RETURN(DescPtr heur, make(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR));
  const cudnnBackendHeurMode_t heur_mode = CUDNN_HEUR_MODE_A;
  FUSED_TRY(cudnnBackendSetAttribute(heur->d, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH,
                                     CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &graph->d));
  FUSED_TRY(cudnnBackendSetAttribute(heur->d, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1,
                                     &heur_mode));
  FUSED_TRY(cudnnBackendFinalize(heur->d));
  keep.push_back(heur);
  constexpr int64_t kMaxConfigs = 8;
  std::vector<DescPtr> cfgs;
  std::vector<cudnnBackendDescriptor_t> cfg_ds;
  for (int64_t i = 0; i < kMaxConfigs; ++i) {
    FUNGEN_ASSIGN_OR_RETURN(DescPtr c, make(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR));
    cfgs.push_back(c);
    cfg_ds.push_back(c->d);
  }
  int64_t got = 0;
  FUSED_TRY(cudnnBackendGetAttribute(heur->d, CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                     CUDNN_TYPE_BACKEND_DESCRIPTOR, kMaxConfigs, &got,
                                     cfg_ds.data()));
  std::string why = "no engine config";
  for (int64_t i = 0; i < got && i < kMaxConfigs; ++i) {
    auto exec = std::make_shared<Desc>();
    if (cudnnBackendCreateDescriptor(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, &exec->d) !=
        CUDNN_STATUS_SUCCESS) {
      continue;
    }
    cudnnStatus_t st = cudnnBackendSetAttribute(exec->d, CUDNN_ATTR_EXECUTION_PLAN_HANDLE,
                                                CUDNN_TYPE_HANDLE, 1, &handle);
    if (st == CUDNN_STATUS_SUCCESS) {
      st = cudnnBackendSetAttribute(exec->d, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG,
                                    CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cfg_ds[static_cast<size_t>(i)]);
    }
    if (st == CUDNN_STATUS_SUCCESS) st = cudnnBackendFinalize(exec->d);
    int64_t ws = 0, n = 0;
    if (st == CUDNN_STATUS_SUCCESS) {
      st = cudnnBackendGetAttribute(exec->d, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE,
                                    CUDNN_TYPE_INT64, 1, &n, &ws);
    }
    if (st != CUDNN_STATUS_SUCCESS) {
      why = cudnnGetErrorString(st);
      continue;
    }
    if (ws < 0 || static_cast<size_t>(ws) > max_workspace) {
      why = "workspace too large";
      continue;
    }
    keep.insert(keep.end(), cfgs.begin(), cfgs.end());
    plan->plan = exec;
    plan->workspace = ws;
    return plan;
  }
  return unsupported("cudnn graph: no fused plan builds (" + why + ")");
}

Status execute(cudnnHandle_t handle, const FusedPlan& plan, const Spec& p, void* x, void* w,
               void* bias, void* z, void* y, void* workspace) {
  int64_t uids[5];
  void* ptrs[5];
  int64_t n = 0;
  auto add = [&](int64_t uid, void* ptr) {
    uids[n] = uid;
    ptrs[n] = ptr;
    ++n;
  };
  add(kX, x);
  add(kW, w);
  add(kY, y);
  if (p.bias) add(kB, bias);
  if (p.residual) add(kZ, z);
  Desc pack;
  FUSED_TRY(cudnnBackendCreateDescriptor(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, &pack.d));
  FUSED_TRY(cudnnBackendSetAttribute(pack.d, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64,
                                     n, uids));
  FUSED_TRY(cudnnBackendSetAttribute(pack.d, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS,
                                     CUDNN_TYPE_VOID_PTR, n, ptrs));
  FUSED_TRY(cudnnBackendSetAttribute(pack.d, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR,
                                     1, &workspace));
  FUSED_TRY(cudnnBackendFinalize(pack.d));
  FUSED_TRY(cudnnBackendExecute(handle, plan.plan->d, pack.d));
  return Status();
}

bool fused_enabled() {
  const char* v = std::getenv("FUNGEN_CUDA_FUSED");
  return v && std::strcmp(v, "1") == 0;
}

std::vector<int64_t> ints_or(const Node& node, const char* key, std::vector<int64_t> fallback) {
  std::vector<int64_t> v = node.attr_ints(key);
  return v.empty() ? fallback : v;
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
  std::vector<int64_t> pads = ints_or(node, "pads", {0, 0, 0, 0});
  std::vector<int64_t> strides = ints_or(node, "strides", {1, 1});
  std::vector<int64_t> dil = ints_or(node, "dilations", {1, 1});
  Spec p{};
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
  auto built = build_plan(ctx.cudnn, p, ctx.max_workspace);
  if (!built.ok()) {
    log(LogLevel::kInfo, "cuda: {}: fused conv not available, legacy path: {}", node.name,
        built.status().message());
    return false;
  }
  std::shared_ptr<FusedPlan> plan = *built;
  // A plan for the concat slice's row length, when the output is placed (else the packed one).
  const CudaRun::Slice slice = run.placement(y);
  if (slice.buf >= 0 && slice.ld != p.out_ld && slice.offset % 8 == 0 && slice.ld % 8 == 0) {
    Spec q = p;
    q.out_ld = slice.ld;
    auto strided = build_plan(ctx.cudnn, q, ctx.max_workspace);
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
  CUDA_CHECK(cudaMemcpy(run.ptr(wbuf), host.data(), host.size() * sizeof(__half),
                        cudaMemcpyHostToDevice));
  int bbuf = -1;
  if (b >= 0) {
    const Tensor& bt = run.constant(b);
    bbuf = run.persistent(bt.nbytes());
    if (!run.ptr(bbuf)) return out_of_memory("cuda: cannot allocate convolution bias");
    CUDA_CHECK(cudaMemcpy(run.ptr(bbuf), bt.raw(), bt.nbytes(), cudaMemcpyHostToDevice));
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
  const Spec spec = p;
  run.add_step(node.name + (into_slice ? " (cudnn fused conv, into concat)" : " (cudnn fused conv)"),
               {xb, zb, wbuf, bbuf, yb, copy_to}, [=](cudaStream_t st) -> Status {
                 void* out = static_cast<std::byte*>(r->ptr(yb)) + offset * sizeof(__half);
                 FUNGEN_RETURN_IF_ERROR(execute(handle, *plan, spec, r->ptr(xb), r->ptr(wbuf),
                                                bbuf >= 0 ? r->ptr(bbuf) : nullptr,
                                                zb >= 0 ? r->ptr(zb) : nullptr, out,
                                                r->workspace()));
                 if (copy_to >= 0) {
                   CUDA_CHECK(cudaMemcpy2DAsync(
                       static_cast<std::byte*>(r->ptr(copy_to)) + slice.offset * sizeof(__half),
                       static_cast<size_t>(slice.ld) * sizeof(__half), r->ptr(yb),
                       static_cast<size_t>(spec.k) * sizeof(__half),
                       static_cast<size_t>(spec.k) * sizeof(__half),
                       static_cast<size_t>(spec.n * spec.oh * spec.ow), cudaMemcpyDeviceToDevice,
                       st));
                 }
                 return Status();
               });
  return true;
}

}  // namespace fungen::cuda
