// The cuda backend: cuDNN, cuBLAS and fungen's kernels behind runtime/backend.h. It takes every
// run of consecutive nodes whose ops are in cuda_ops.h (and pass their row's check) and compiles
// each run into one CudaRun (cuda_run.h). A node it cannot take goes to the CPU backends with a
// warning that names it.
//
// Variants for measurement (environment): FUNGEN_CUDA_GRAPHS=0 runs the steps one launch at a
// time instead of replaying a captured CUDA graph; FUNGEN_CUDA_NHWC=0 keeps activations NCHW.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <cuda.h>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cuda_ops.h"
#include "backends/cuda/cuda_run.h"
#include "fungen/log.h"
#include "runtime/backend.h"

namespace fungen {
namespace cuda {

namespace {
#define FUNGEN_CUDA_ROW(name, lower, check, data) CudaOp{#name, lower, check, data},
const CudaOp kCudaOps[] = {FUNGEN_CUDA_OPS(FUNGEN_CUDA_ROW)};
#undef FUNGEN_CUDA_ROW

bool env_off(const char* name) {
  const char* v = std::getenv(name);
  return v && std::strcmp(v, "0") == 0;
}
}  // namespace

const CudaOp* find_cuda_op(std::string_view op_type) {
  for (const CudaOp& op : kCudaOps) {
    if (op.name == op_type) return &op;
  }
  return nullptr;
}

}  // namespace cuda

namespace {

class CudaBackend final : public Backend {
 public:
  ~CudaBackend() override {
    if (ctx_.cublas) cublasDestroy(ctx_.cublas);
    if (ctx_.cudnn) cudnnDestroy(ctx_.cudnn);
    if (ctx_.stream) cudaStreamDestroy(ctx_.stream);
  }

  Status init(const CudaBackendOptions& options) {
    ctx_.device = options.device;
    ctx_.elem = options.precision == "fp32" ? cuda::Elem::kF32 : cuda::Elem::kF16;
    ctx_.graphs = !cuda::env_off("FUNGEN_CUDA_GRAPHS");
    ctx_.nhwc = !cuda::env_off("FUNGEN_CUDA_NHWC");
    ctx_.fuse_dfl = !cuda::env_off("FUNGEN_CUDA_DFL");
    ctx_.fold_transpose = !cuda::env_off("FUNGEN_CUDA_FOLD_TRANSPOSE");
    if (const char* lanes = std::getenv("FUNGEN_CUDA_LANES"))
      ctx_.lanes = std::clamp(std::atoi(lanes), 1, 8);
    // FUNGEN_CUDA_HEAD: unset/1 the detect head in one kernel, its per-level convs writing one
    // anchor-major input for it (head_rows.h); "nchw" the head kernel reading the per-level
    // convs written NCHW into their two Concats (as in v7); "place" the latter placement only;
    // "0" neither (as before). DFL=0: no head kernel. Read here, when the backend is created
    // (a plan lowered later, at the first run, follows the setting of this moment).
    const char* head = std::getenv("FUNGEN_CUDA_HEAD");
    ctx_.place_nchw = !cuda::env_off("FUNGEN_CUDA_HEAD");
    ctx_.fuse_head = ctx_.place_nchw && ctx_.fuse_dfl && !(head && std::strcmp(head, "place") == 0);
    ctx_.head_rows = ctx_.fuse_head && !(head && std::strcmp(head, "nchw") == 0);
    if (const char* up = std::getenv("FUNGEN_CUDA_UPFUSE"))
      ctx_.upfuse = std::strcmp(up, "0") == 0 ? 0 : std::strcmp(up, "1") == 0 ? 1 : 2;
    // FUNGEN_CUDA_ATTN: unset/1 attention as one kernel (tensor cores in fp16), "simt" the
    // fp32-FMA kernel also in fp16, "copy" q and k from the Split's copies, "0" the nodes one by
    // one (lower_attention.cpp).
    if (const char* attn = std::getenv("FUNGEN_CUDA_ATTN")) {
      ctx_.attention = std::strcmp(attn, "0") == 0      ? 0
                       : std::strcmp(attn, "simt") == 0 ? 2
                       : std::strcmp(attn, "copy") == 0 ? 3
                                                        : 1;
    }
    const char* prof = std::getenv("FUNGEN_CUDA_PROFILE");
    ctx_.profile = prof && std::strcmp(prof, "1") == 0;
    if (ctx_.profile) ctx_.graphs = false;  // per-step events need eager launches
    const char* poison = std::getenv("FUNGEN_CUDA_POISON");
    ctx_.poison = poison ? std::atoi(poison) : 0;
    if (ctx_.poison >= 2) ctx_.graphs = false;  // a check after every step
    tuning_ = options.tuning;
    ctx_.tuning = tuning_.get();
    CUDA_CHECK(cudaSetDevice(ctx_.device));
    CUDA_CHECK(cudaStreamCreateWithFlags(&ctx_.stream, cudaStreamNonBlocking));
    CUDNN_CHECK(cudnnCreate(&ctx_.cudnn));
    CUDNN_CHECK(cudnnSetStream(ctx_.cudnn, ctx_.stream));
    CUBLAS_CHECK(cublasCreate(&ctx_.cublas));
    CUBLAS_CHECK(cublasSetStream(ctx_.cublas, ctx_.stream));
    cudaDeviceProp prop{};
    CUDA_CHECK(cudaGetDeviceProperties(&prop, ctx_.device));
    log(LogLevel::kInfo,
        "cuda backend: {} (sm_{}{}), {}, cuDNN {}, layout {}, graphs {}, head {}{}{}", prop.name,
        prop.major, prop.minor, options.precision, cudnnGetVersion(), ctx_.nhwc ? "NHWC" : "NCHW",
        ctx_.graphs ? "on" : "off",
        ctx_.head_rows    ? "anchor-major"
        : ctx_.fuse_head  ? "nchw"
        : ctx_.place_nchw ? "place"
                          : "off",
        ctx_.profile ? ", per-step profile" : "",
        ctx_.poison ? ", arena poisoned with NaN before each run" : "");
    return Status();
  }

  std::string_view name() const override { return "cuda"; }

  bool supports(const Node& node, const Graph& graph) const override {
    std::string why = reject_reason(node, graph);
    if (why.empty()) return true;
    log(LogLevel::kWarn, "cuda: {} runs on the CPU: {}", node.describe(graph.opset), why);
    return false;
  }

  Result<std::unique_ptr<NodeKernel>> prepare(const Node& node, const Graph& graph) override {
    return unsupported("the cuda backend prepares runs of nodes");
  }
  bool prepares_runs() const override { return true; }
  Result<std::unique_ptr<NodeKernel>> prepare_run(const Graph& graph, const NodeRun& run) override {
    auto r = cuda::CudaRun::build(graph, run, ctx_);
    if (!r.ok()) return r.status();
    return std::unique_ptr<NodeKernel>(std::move(r).value());
  }

 private:
  // Empty when the node can run here; else why not.
  static std::string reject_reason(const Node& node, const Graph& graph) {
    const cuda::CudaOp* op = node.schema ? cuda::find_cuda_op(node.op_type) : nullptr;
    if (!op) return "the cuda backend has no kernel for " + node.op_type;
    for (int id : node.outputs) {
      if (id >= 0 && graph.values[static_cast<size_t>(id)].dtype != DType::kFloat32) {
        return "an output is not float32";
      }
    }
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      if (node.inputs[i] < 0) continue;
      const Value& v = graph.values[static_cast<size_t>(node.inputs[i])];
      bool data = op->data_inputs < 0 || static_cast<int>(i) < op->data_inputs;
      if (data && v.dtype != DType::kFloat32)
        return "input " + std::to_string(i) + " is not float32";
      if (!data && !v.is_constant()) return "input " + std::to_string(i) + " is not a constant";
    }
    if (!op->check(node, graph)) return "these attributes or shapes have no cuda kernel yet";
    return "";
  }

  cuda::CudaContext ctx_;
  std::shared_ptr<TuningCache> tuning_;  // kept alive for ctx_.tuning
};

}  // namespace

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear: no driver or no device is not an error here
    return 0;
  }
  return n;
}

void cuda_share_context_with_nvdec(int device) {
  if (cuda_device_count() <= device) return;
  // Driver API entry points through the runtime (fungen does not link libcuda: the binary must
  // start on machines without the NVIDIA driver).
  using GetState = CUresult (*)(CUdevice, unsigned int*, int*);
  using SetFlags = CUresult (*)(CUdevice, unsigned int);
  void* get_state = nullptr;
  void* set_flags = nullptr;
  cudaDriverEntryPointQueryResult found{};
  if (cudaGetDriverEntryPointByVersion("cuDevicePrimaryCtxGetState", &get_state, 12000,
                                       cudaEnableDefault, &found) != cudaSuccess ||
      found != cudaDriverEntryPointSuccess ||
      cudaGetDriverEntryPointByVersion("cuDevicePrimaryCtxSetFlags", &set_flags, 12000,
                                       cudaEnableDefault, &found) != cudaSuccess ||
      found != cudaDriverEntryPointSuccess) {
    cudaGetLastError();
    return;
  }
  unsigned int flags = 0;
  int active = 0;
  const auto dev = static_cast<CUdevice>(device);
  if (reinterpret_cast<GetState>(get_state)(dev, &flags, &active) != CUDA_SUCCESS) return;
  if (flags == CU_CTX_SCHED_BLOCKING_SYNC) return;
  // Since CUDA 11 the flags of an active primary context can be changed too.
  if (reinterpret_cast<SetFlags>(set_flags)(dev, CU_CTX_SCHED_BLOCKING_SYNC) != CUDA_SUCCESS) {
    log(LogLevel::kWarn, "cuda: could not set blocking sync on device {}: NVDEC may fall back",
        device);
  }
}

Result<std::unique_ptr<Backend>> make_cuda_backend(const CudaBackendOptions& options) {
  if (cuda_device_count() <= options.device) {
    return unsupported("backend 'cuda': no CUDA device " + std::to_string(options.device) +
                       " is present (check nvidia-smi and the driver)");
  }
  auto b = std::make_unique<CudaBackend>();
  FUNGEN_RETURN_IF_ERROR(b->init(options).with_context("backend 'cuda'"));
  return std::unique_ptr<Backend>(std::move(b));
}

}  // namespace fungen
