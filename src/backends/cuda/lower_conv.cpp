// Conv and FusedConv through cuDNN's convolution (legacy API, fp32 accumulation, tensor cores in
// fp16), its algorithm picked by cuDNN's heuristic (or timed search) when the plan is built
// (or taken from the tuning cache of a plan file, conv_tuning.h),
// followed by one epilogue kernel for bias + SiLU + residual (conv_epilogue.cuh).
#include <cuda_fp16.h>

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "backends/cuda/conv_autotune.cuh"
#include "backends/cuda/conv_autotune.h"
#include "backends/cuda/conv_epilogue.cuh"
#include "backends/cuda/conv_tuning.h"
#include "backends/cuda/copy_rows.cuh"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cuda_run.h"
#include "backends/cuda/permute.cuh"

namespace fungen::cuda {

// Is `value` read only by plain-layout views (Reshape, Flatten) and at least once?
bool read_by_views_only(const Graph& g, int value) {
  bool any = false;
  for (const Node& n : g.nodes) {
    for (int in : n.inputs) {
      if (in != value) continue;
      if (n.op_type != "Reshape" && n.op_type != "Flatten") return false;
      any = true;
    }
  }
  return any;
}

namespace {

struct ConvDescriptors {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  cudnnConvolutionFwdAlgo_t algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
  size_t workspace = 0;
  ~ConvDescriptors() {
    if (x) cudnnDestroyTensorDescriptor(x);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (w) cudnnDestroyFilterDescriptor(w);
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
  }
};

// FUNGEN_CUDA_GEMM1X1=1: pointwise convolutions (1x1, stride 1, no padding, group 1) on NHWC
// activations as one cuBLAS GEMM, Y[B*H*W, Cout] = X[B*H*W, Cin] * W[Cout, Cin]^T (fp32
// accumulation; fp32 mode without TF32), instead of cuDNN's convolution; the epilogue is the same.
// Opt-in until measured against cuDNN on the device (bench/gpu/fungen.d/cuda_variants.sh).
// fp16: cuDNN's FFT and Winograd algorithms transform the operands in half precision, whose
// error (~1e-3 per conv) compounds over a network; only the GEMM-family ones (implicit GEMM,
// precomputed implicit GEMM, GEMM, direct) are taken, unless FUNGEN_CUDA_FP16_ALGOS=all.
bool fp16_algo_allowed(cudnnConvolutionFwdAlgo_t algo) {
  static const bool all = [] {
    const char* v = std::getenv("FUNGEN_CUDA_FP16_ALGOS");
    return v && std::strcmp(v, "all") == 0;
  }();
  return all || algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM ||
         algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM ||
         algo == CUDNN_CONVOLUTION_FWD_ALGO_GEMM || algo == CUDNN_CONVOLUTION_FWD_ALGO_DIRECT;
}

// FUNGEN_CUDA_GEMM1X1: 0 off, 1 the GEMM path, 2 ("check") the GEMM path and, on the first
// (eager) run, each GEMM's result compared with cuDNN's convolution of the same operands, one
// line per convolution on stderr: where the GEMM path goes wrong, if it does.
int gemm1x1_mode() {
  const char* v = std::getenv("FUNGEN_CUDA_GEMM1X1");
  if (!v) return 0;
  if (std::strcmp(v, "1") == 0) return 1;
  return std::strcmp(v, "check") == 0 ? 2 : 0;
}

// Relative L2 distance of two device buffers of n elements of e (waits for the stream).
Result<double> device_rel_l2(Elem e, const void* a, const void* b, int64_t n, cudaStream_t st) {
  const size_t bytes = static_cast<size_t>(n) * elem_size(e);
  std::vector<unsigned char> ha(bytes), hb(bytes);
  CUDA_CHECK(cudaStreamSynchronize(st));
  CUDA_CHECK(cudaMemcpy(ha.data(), a, bytes, cudaMemcpyDeviceToHost));
  CUDA_CHECK(cudaMemcpy(hb.data(), b, bytes, cudaMemcpyDeviceToHost));
  auto at = [&](const std::vector<unsigned char>& h, int64_t i) {
    if (e == Elem::kF32) return reinterpret_cast<const float*>(h.data())[i];
    return __half2float(reinterpret_cast<const __half*>(h.data())[i]);
  };
  double diff = 0, norm = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double x = at(ha, i), y = at(hb, i);
    diff += (x - y) * (x - y);
    norm += y * y;
  }
  return norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

// The cuDNN convolution of `node`: descriptors, math type, algorithm and workspace, the
// algorithm from the plan's tuning cache (conv_tuning.h), else the first (heuristic) or fastest
// (find) whose workspace fits. cuDNN's heuristic ranking by default: measured on the H100
// (YOLO11n fp16) it beat the timed search (b1 0.69 vs 1.77 ms, b128 17.0 vs 18.9 ms) and builds
// faster (0.9 s at b128). FUNGEN_CUDA_CONV_ALGO=find: cudnnFindConvolutionForwardAlgorithm, run
// twice, the first result dropped (the first launch of each kernel also loads its module).
// no_algo: the GEMM path, which needs no algorithm (nor a tuning entry). `perf` / `found`: what
// the heuristic or search offered (for the profile label).
Status setup_cudnn_conv(CudaRun& run, const Node& node, bool no_algo, ConvDescriptors& desc,
                        cudnnConvolutionFwdAlgoPerf_t* perf, int& found) {
  ConvDescriptors* d = &desc;
  const int x = node.inputs[0], w = node.inputs[1], y = node.outputs[0];
  const Shape& xs = run.shape(x);
  const Shape& ws = run.shape(w);
  const Shape& ys = run.shape(y);
  const int64_t group = node.attr_int("group", 1);
  std::vector<int64_t> pads = node.attr_ints("pads", {0, 0, 0, 0});
  std::vector<int64_t> strides = node.attr_ints("strides", {1, 1});
  std::vector<int64_t> dil = node.attr_ints("dilations", {1, 1});
  CudaContext& ctx = run.ctx();
  const cudnnTensorFormat_t fmt = ctx.nhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
  const bool half = run.elem() == Elem::kF16;
  const cudnnDataType_t dt = half ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&d->x));
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&d->y));
  CUDNN_CHECK(cudnnCreateFilterDescriptor(&d->w));
  CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&d->conv));
  auto i32 = [](int64_t v) { return static_cast<int>(v); };
  CUDNN_CHECK(
      cudnnSetTensor4dDescriptor(d->x, fmt, dt, i32(xs[0]), i32(xs[1]), i32(xs[2]), i32(xs[3])));
  CUDNN_CHECK(
      cudnnSetTensor4dDescriptor(d->y, fmt, dt, i32(ys[0]), i32(ys[1]), i32(ys[2]), i32(ys[3])));
  CUDNN_CHECK(
      cudnnSetFilter4dDescriptor(d->w, dt, fmt, i32(ws[0]), i32(ws[1]), i32(ws[2]), i32(ws[3])));
  CUDNN_CHECK(cudnnSetConvolution2dDescriptor(d->conv, i32(pads[0]), i32(pads[1]), i32(strides[0]),
                                              i32(strides[1]), i32(dil[0]), i32(dil[1]),
                                              CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  CUDNN_CHECK(cudnnSetConvolutionGroupCount(d->conv, i32(group)));
  // fp16: tensor cores; fp32: plain FMA (no TF32), so fp32 mode stays exact to ~1e-5.
  const cudnnMathType_t math = half ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
  CUDNN_CHECK(cudnnSetConvolutionMathType(d->conv, math));
  const std::string tuning_key = conv_tuning_key(d->x, d->w, d->conv, d->y);
  bool chosen =
      no_algo || use_tuned_conv(ctx, tuning_key, d->x, d->w, d->conv, d->y, d->algo, d->workspace);
  if (chosen && !no_algo && half && !fp16_algo_allowed(d->algo)) chosen = false;  // choose again
  found = 0;
  const char* pick = std::getenv("FUNGEN_CUDA_CONV_ALGO");
  if (!chosen && (!pick || std::strcmp(pick, "find") != 0)) {
    CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(
        ctx.cudnn, d->x, d->w, d->conv, d->y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &found, perf));
  } else if (!chosen) {
    for (int pass = 0; pass < 2; ++pass) {
      CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithm(
          ctx.cudnn, d->x, d->w, d->conv, d->y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &found, perf));
    }
  }
  // Two passes in fp16: the allowed algorithms first, any if none of them is offered.
  for (int pass = half ? 0 : 1, i = 0; pass < 2 && !chosen; ++pass, i = 0) {
    for (; i < found && !chosen; ++i) {
      if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > ctx.max_workspace) continue;
      if (!half && perf[i].mathType != CUDNN_FMA_MATH) continue;
      if (pass == 0 && !fp16_algo_allowed(perf[i].algo)) continue;
      d->algo = perf[i].algo;
      d->workspace = perf[i].memory;
      CUDNN_CHECK(cudnnSetConvolutionMathType(d->conv, perf[i].mathType));
      remember_conv(ctx, tuning_key, perf[i].algo, perf[i].mathType, perf[i].memory);
      chosen = true;
    }
  }
  if (!chosen) return unsupported("cuda: cuDNN found no algorithm for this convolution");
  return Status();
}

}  // namespace

bool check_conv(const Node& node, const Graph& graph) {
  const Value& x = graph.values[static_cast<size_t>(node.inputs[0])];
  if (x.shape.size() != 4 || node.inputs.size() < 2) return false;
  if (!graph.values[static_cast<size_t>(node.inputs[1])].is_constant()) return false;
  if (node.inputs.size() > 2 && node.inputs[2] >= 0 &&
      !graph.values[static_cast<size_t>(node.inputs[2])].is_constant()) {
    return false;
  }
  std::string pad = node.attr_string("auto_pad", "NOTSET");
  if (pad != "NOTSET") return false;  // specialize_shapes leaves explicit pads for exports
  std::vector<int64_t> pads = node.attr_ints("pads", {0, 0, 0, 0});
  return pads.size() == 4 && pads[0] == pads[2] && pads[1] == pads[3];
}

Result<bool> lower_conv_direct(CudaRun& run, const Node& node);  // lower_conv_direct.cpp
Result<bool> lower_conv_fused(CudaRun& run, const Node& node);   // lower_conv_fused.cpp
// lower_conv_igemm.cpp; `note`: why cuDNN keeps the node when FUNGEN_CUDA_IGEMM=auto measured it.
Result<bool> lower_conv_igemm(CudaRun& run, const Node& node, std::string& note);

Result<float> time_cudnn_conv(CudaRun& run, const Node& node, CudnnTimedOutput out, int64_t out_ld,
                              int64_t x_ld, int64_t z_ld) {
  const int y = node.outputs[0];
  const int b = node.inputs.size() > 2 ? node.inputs[2] : -1;
  const int z = node.inputs.size() > 3 ? node.inputs[3] : -1;
  const bool silu = node.attr_string("activation", "") == "silu";
  if (!run.ctx().nhwc) return internal_error("cuda autotune: cuDNN timing is for NHWC runs");
  ConvDescriptors d;
  cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  int found = 0;
  FUNGEN_RETURN_IF_ERROR(setup_cudnn_conv(run, node, false, d, perf, found));
  const Elem e = run.elem();
  const size_t es = elem_size(e);
  const Shape& ys = run.shape(y);
  const int64_t n = shape_numel(ys), channels = ys[1], rows = n / channels;
  const size_t y_bytes = static_cast<size_t>(n) * es;
  const Shape& xs = run.shape(node.inputs[0]);
  const int64_t x_rows = xs[0] * xs[2] * xs[3];
  if (z < 0 || z == node.inputs[0]) z_ld = 0;  // the residual is the input: copied once
  size_t out_bytes = 0;
  if (out == CudnnTimedOutput::kNchw) out_bytes = y_bytes;
  if (out == CudnnTimedOutput::kSlice) out_bytes = static_cast<size_t>(rows * out_ld) * es;
  DeviceScratch s;
  FUNGEN_RETURN_IF_ERROR(
      s.reserve({static_cast<size_t>(shape_numel(run.shape(node.inputs[0]))) * es,
                 static_cast<size_t>(shape_numel(run.shape(node.inputs[1]))) * es, y_bytes,
                 out_bytes, b >= 0 ? static_cast<size_t>(channels) * sizeof(float) : 0,
                 z >= 0 ? y_bytes : 0, d.workspace,
                 // the Concat rows a strided input / residual is copied out of
                 static_cast<size_t>(x_rows * x_ld) * es, static_cast<size_t>(rows * z_ld) * es},
                run.ctx().stream));
  const float* bias = b >= 0 ? static_cast<const float*>(s.ptr(4)) : nullptr;
  const void* res = z >= 0 ? s.ptr(5) : nullptr;
  const bool epilogue = b >= 0 || silu || z >= 0;
  cudnnHandle_t handle = run.ctx().cudnn;
  // As lower_conv's step: the convolution, then the epilogue pass where its output goes.
  return median_launch_ms(run.ctx().stream, [&](cudaStream_t st) {
    const float one = 1.0f, zero = 0.0f;
    if (x_ld > 0) launch_copy_rows(e, s.ptr(7), x_ld, s.ptr(0), xs[1], x_rows, xs[1], st);
    if (z_ld > 0) launch_copy_rows(e, s.ptr(8), z_ld, s.ptr(5), channels, rows, channels, st);
    if (cudnnConvolutionForward(handle, &one, d.x, s.ptr(0), d.w, s.ptr(1), d.conv, d.algo,
                                s.ptr(6), d.workspace, &zero, d.y,
                                s.ptr(2)) != CUDNN_STATUS_SUCCESS) {
      return cudaErrorUnknown;
    }
    if (out == CudnnTimedOutput::kNchw) {
      launch_conv_epilogue_to_nchw(e, s.ptr(2), s.ptr(3), bias, ys[0], channels, ys[2] * ys[3],
                                   silu, st);
    } else if (out == CudnnTimedOutput::kSlice) {
      launch_conv_epilogue_rows(e, s.ptr(2), s.ptr(3), out_ld, bias, res, rows, channels, silu, st);
    } else if (epilogue) {
      launch_conv_epilogue_rows(e, s.ptr(2), s.ptr(2), channels, bias, res, rows, channels, silu,
                                st);
    }
    return cudaGetLastError();
  });
}

Status lower_conv(CudaRun& run, const Node& node) {
  FUNGEN_ASSIGN_OR_RETURN(bool direct, lower_conv_direct(run, node));
  if (direct) return Status();
  std::string igemm_note;  // FUNGEN_CUDA_IGEMM=auto: what it measured, for the step label
  FUNGEN_ASSIGN_OR_RETURN(bool igemm, lower_conv_igemm(run, node, igemm_note));
  if (igemm) return Status();
  FUNGEN_ASSIGN_OR_RETURN(bool fused, lower_conv_fused(run, node));
  if (fused) return Status();
  const int x = node.inputs[0], w = node.inputs[1], y = node.outputs[0];
  const int b = node.inputs.size() > 2 ? node.inputs[2] : -1;
  const int z = node.inputs.size() > 3 ? node.inputs[3] : -1;
  const bool silu = node.attr_string("activation", "") == "silu";
  const Shape& xs = run.shape(x);
  const Shape& ws = run.shape(w);
  const Shape& ys = run.shape(y);
  const int64_t group = node.attr_int("group", 1);
  std::vector<int64_t> pads = node.attr_ints("pads", {0, 0, 0, 0});
  std::vector<int64_t> strides = node.attr_ints("strides", {1, 1});
  std::vector<int64_t> dil = node.attr_ints("dilations", {1, 1});
  CudaContext& ctx = run.ctx();
  const Layout layout = ctx.nhwc ? Layout::kNhwc : Layout::kPlain;
  const bool half = run.elem() == Elem::kF16;

  const int gemm_mode = gemm1x1_mode();
  const bool gemm = ctx.nhwc && gemm_mode > 0 && group == 1 && ws[2] == 1 && ws[3] == 1 &&
                    strides[0] == 1 && strides[1] == 1 && dil[0] == 1 && dil[1] == 1 &&
                    pads[0] == 0 && pads[1] == 0 && xs[2] == ys[2] && xs[3] == ys[3];
  // The GEMM path needs no cuDNN algorithm (nor a tuning entry), unless it is checked against it.
  const bool gemm_check = gemm && gemm_mode == 2;
  auto d = std::make_shared<ConvDescriptors>();
  cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  int found = 0;
  FUNGEN_RETURN_IF_ERROR(setup_cudnn_conv(run, node, gemm && !gemm_check, *d, perf, found));
  run.need_workspace(d->workspace);

  // Weights: OIHW fp32 -> the run's type, OHWI (KRSC) for NHWC.
  const Tensor& wt = run.constant(w);
  int wbuf = run.persistent(static_cast<size_t>(wt.numel()) * elem_size(run.elem()));
  if (!run.ptr(wbuf))
    return out_of_memory(
        "cuda: no device memory left for convolution weights; free GPU memory or use a smaller "
        "batch");
  {
    auto staging = device_alloc(wt.nbytes());
    FUNGEN_RETURN_IF_ERROR(run.upload(staging.get(), wt.raw(), wt.nbytes()));
    PermuteDesc p;
    p.rank = 4;
    int64_t o = ws[0], i = ws[1], h = ws[2], wd = ws[3];
    if (ctx.nhwc) {
      int64_t dims[4] = {o, h, wd, i}, str[4] = {i * h * wd, wd, 1, h * wd};
      std::copy(dims, dims + 4, p.out_dims);
      std::copy(str, str + 4, p.in_strides);
    } else {
      int64_t dims[4] = {o, i, h, wd}, str[4] = {i * h * wd, h * wd, wd, 1};
      std::copy(dims, dims + 4, p.out_dims);
      std::copy(str, str + 4, p.in_strides);
    }
    launch_permute(Elem::kF32, run.elem(), staging.get(), run.ptr(wbuf), p, ctx.stream);
    CUDA_CHECK(cudaGetLastError());
    CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
  }
  int bbuf = -1;
  if (b >= 0) {
    const Tensor& bt = run.constant(b);
    bbuf = run.persistent(bt.nbytes());
    FUNGEN_RETURN_IF_ERROR(run.upload(run.ptr(bbuf), bt.raw(), bt.nbytes()));
  }

  FUNGEN_ASSIGN_OR_RETURN(int xb, run.get(x, layout));
  int zb = -1;
  if (z >= 0) {
    FUNGEN_ASSIGN_OR_RETURN(zb, run.get(z, layout));
  }
  // NHWC: the epilogue may write into the value's slice of a Concat output (placement), or, when
  // only plain-layout views read y (YOLO's head: Reshape), write it NCHW from a scratch buffer.
  // NCHW out may go into a Concat on the last axis behind the Reshape (placement_nchw).
  // Or into the detect head's anchor-major input (CudaRun::anchor_placement, head_rows.h).
  const CudaRun::Slice slice = ctx.nhwc ? run.placement(y) : CudaRun::Slice{};
  const CudaRun::AnchorSlice rows_to =
      ctx.nhwc && slice.buf < 0 && zb < 0 ? run.anchor_placement(y) : CudaRun::AnchorSlice{};
  const bool nchw_out =
      ctx.nhwc && slice.buf < 0 && rows_to.buf < 0 && zb < 0 && read_by_views_only(run.graph(), y);
  const CudaRun::NchwSlice into = nchw_out ? run.placement_nchw(y) : CudaRun::NchwSlice{};
  int yb = -1, outb = -1;
  if (nchw_out || rows_to.buf >= 0) {
    yb = run.scratch(static_cast<size_t>(shape_numel(ys)) * elem_size(run.elem()));
    outb = rows_to.buf >= 0 ? rows_to.buf
           : into.buf >= 0  ? into.buf
                            : run.define(y, Layout::kPlain);
  } else {
    yb = run.define(y, layout);
  }
  // Read by a Concat and by other nodes: the epilogue writes y and its concat slice (dual store).
  const CudaRun::Slice dual = ctx.nhwc && slice.buf < 0 && !nchw_out && rows_to.buf < 0
                                  ? run.dual_placement(y)
                                  : CudaRun::Slice{};
  const Elem e = run.elem();
  const int64_t n = shape_numel(ys), channels = ys[1];
  const int64_t inner = ctx.nhwc ? 1 : ys[2] * ys[3];
  const bool epilogue = bbuf >= 0 || silu || zb >= 0;
  CudaRun* r = &run;
  cudnnHandle_t handle = ctx.cudnn;
  cublasHandle_t blas = ctx.cublas;
  const cudaDataType_t gemm_type = half ? CUDA_R_16F : CUDA_R_32F;
  const int gemm_m = static_cast<int>(ys[1]), gemm_k = static_cast<int>(xs[1]);
  const int gemm_n = static_cast<int>(ys[0] * ys[2] * ys[3]);
  // FUNGEN_CUDA_GEMM1X1=check: cuDNN's result of the same convolution, compared on the first run.
  const int cbuf = gemm_check ? run.persistent(static_cast<size_t>(n) * elem_size(e)) : -1;
  auto checks = std::make_shared<int>(0);
  const std::string conv_name = node.name;
  std::string label =
      node.name +
      (gemm ? std::string(" (cublas gemm 1x1") : " (cudnn conv algo " + std::to_string(d->algo)) +
      (slice.buf >= 0 ? ", into concat" : "") + (dual.buf >= 0 ? ", and into concat" : "") +
      (nchw_out ? ", NCHW out" : "") + (into.buf >= 0 ? " into concat" : "") +
      (rows_to.buf >= 0 ? ", into the head's anchor-major input" : "") + igemm_note;
  if (ctx.profile) {  // what the search saw: algo, tensor-op math, ms, workspace MiB
    label += "; search:";
    for (int i = 0; i < found && i < 4; ++i) {
      char buf[96];
      std::snprintf(buf, sizeof(buf), " %d%s %.3fms %zuMiB%s", static_cast<int>(perf[i].algo),
                    perf[i].mathType == CUDNN_TENSOR_OP_MATH ? "tc" : "", perf[i].time,
                    perf[i].memory >> 20, perf[i].status == CUDNN_STATUS_SUCCESS ? "" : "(fail)");
      label += buf;
    }
  }
  label += ")";
  // The GEMM variants use the context's handles; the cuDNN conv takes the stream's (lanes).
  run.next_step_uses(gemm ? StepLibrary::kContext : StepLibrary::kPerStream);
  std::vector<int> bufs = {xb, yb, zb, wbuf, bbuf, slice.buf, outb, cbuf, dual.buf};
  run.add_step(label, std::move(bufs), [=](cudaStream_t st) {
    const float one = 1.0f, zero = 0.0f;
    if (gemm) {
      // Column-major view: Y^T[Cout, M] = op(Wt)[Cout, Cin] * X^T[Cin, M], where the KRSC
      // weights are Wt[Cin, Cout] (ld Cin, transposed) and the NHWC rows X^T[Cin, M] (ld Cin).
      CUBLAS_CHECK(cublasGemmEx(blas, CUBLAS_OP_T, CUBLAS_OP_N, gemm_m, gemm_n, gemm_k, &one,
                                r->ptr(wbuf), gemm_type, gemm_k, r->ptr(xb), gemm_type, gemm_k,
                                &zero, r->ptr(yb), gemm_type, gemm_m, CUBLAS_COMPUTE_32F,
                                CUBLAS_GEMM_DEFAULT));
      if (gemm_check && (*checks)++ == 0) {  // the first run is eager: no capture to break
        CUDNN_CHECK(cudnnConvolutionForward(handle, &one, d->x, r->ptr(xb), d->w, r->ptr(wbuf),
                                            d->conv, d->algo, r->workspace(), d->workspace, &zero,
                                            d->y, r->ptr(cbuf)));
        FUNGEN_ASSIGN_OR_RETURN(double err, device_rel_l2(e, r->ptr(yb), r->ptr(cbuf), n, st));
        std::fprintf(stderr,
                     "gemm1x1 check: %s: cuBLAS vs cuDNN (algo %d) rel L2 %.3e, M %d Cin %d "
                     "Cout %d%s%s\n",
                     conv_name.c_str(), static_cast<int>(d->algo), err, gemm_n, gemm_k, gemm_m,
                     slice.buf >= 0 ? ", into concat" : "", nchw_out ? ", NCHW out" : "");
      }
    } else {
      CUDNN_CHECK(cudnnConvolutionForward(r->cudnn_for(st), &one, d->x, r->ptr(xb), d->w,
                                          r->ptr(wbuf), d->conv, d->algo, r->workspace_for(st),
                                          d->workspace, &zero, d->y, r->ptr(yb)));
    }
    const float* bias = bbuf >= 0 ? static_cast<const float*>(r->ptr(bbuf)) : nullptr;
    const void* res = zb >= 0 ? r->ptr(zb) : nullptr;
    if (rows_to.buf >= 0) {
      void* out = static_cast<std::byte*>(r->ptr(outb)) + rows_to.offset * elem_size(e);
      launch_conv_epilogue_rows(e, r->ptr(yb), out, rows_to.ld, bias, nullptr, n / channels,
                                channels, silu, st, nullptr, 0, ys[2] * ys[3], rows_to.batch_ld);
    } else if (nchw_out) {
      void* out = static_cast<std::byte*>(r->ptr(outb)) + into.offset * elem_size(e);
      launch_conv_epilogue_to_nchw(e, r->ptr(yb), out, bias, ys[0], channels, ys[2] * ys[3], silu,
                                   st, into.ch_ld, into.batch_ld);
    } else if (slice.buf >= 0) {
      void* out = static_cast<std::byte*>(r->ptr(slice.buf)) + slice.offset * elem_size(e);
      launch_conv_epilogue_rows(e, r->ptr(yb), out, slice.ld, bias, res, n / channels, channels,
                                silu, st);
    } else if (dual.buf >= 0) {  // in place, and into the slice (a plain copy without epilogue)
      void* out2 = static_cast<std::byte*>(r->ptr(dual.buf)) + dual.offset * elem_size(e);
      launch_conv_epilogue_rows(e, r->ptr(yb), r->ptr(yb), channels, bias, res, n / channels,
                                channels, silu, st, out2, dual.ld);
    } else if (epilogue && inner == 1) {
      launch_conv_epilogue_rows(e, r->ptr(yb), r->ptr(yb), channels, bias, res, n / channels,
                                channels, silu, st);
    } else if (epilogue) {
      launch_conv_epilogue(e, r->ptr(yb),
                           bbuf >= 0 ? static_cast<const float*>(r->ptr(bbuf)) : nullptr,
                           zb >= 0 ? r->ptr(zb) : nullptr, n, channels, inner, silu, st);
    }
    return Status();
  });
  if (rows_to.buf >= 0) run.narrow_to_anchor_slice(rows_to, ys[0], ys[2] * ys[3], channels);
  return Status();
}

}  // namespace fungen::cuda
