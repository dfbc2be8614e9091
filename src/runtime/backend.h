// backend.h — the narrow interface a compute backend implements. The planner gives each node to
// the first backend (in the engine's order) whose supports() says yes; the reference backend
// takes everything, so it comes last.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fungen/calibration.h"
#include "fungen/status.h"
#include "graph/graph.h"
#include "ops/op.h"
#include "runtime/tuning_cache.h"

namespace fungen {

// One prepared node: created once per plan, run once per inference.
class NodeKernel {
 public:
  virtual ~NodeKernel() = default;
  virtual Status run(KernelContext& ctx) = 0;
};

// A run of consecutive nodes of the (topologically sorted) graph that one backend compiles into
// one kernel, keeping tensors between them in its own layouts. `inputs` are the values the run
// reads that are neither constants nor produced inside it; `outputs` are the values it produces
// that are read after it or are graph outputs. The run's KernelContext carries exactly these, in
// this order, in the graph's plain layout.
struct NodeRun {
  size_t first = 0, last = 0;  // node indices, inclusive
  std::vector<int> inputs, outputs;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  // Can this backend run `node` with the shapes/dtypes the specialized graph gives it?
  virtual bool supports(const Node& node, const Graph& graph) const = 0;
  // Prepares the node (primitive creation, weight packing); called once per plan.
  virtual Result<std::unique_ptr<NodeKernel>> prepare(const Node& node, const Graph& graph) = 0;
  // A backend that returns true here gets each maximal run of consecutive nodes it supports
  // through prepare_run() instead of prepare() per node.
  virtual bool prepares_runs() const { return false; }
  virtual Result<std::unique_ptr<NodeKernel>> prepare_run(const Graph& graph, const NodeRun& run) {
    return unsupported(std::string(name()) + " does not prepare runs");
  }
};

// The plain reference kernels of ops/op_list.h: the ground truth, supports every op.
std::unique_ptr<Backend> make_reference_backend();

#ifdef FUNGEN_HAVE_ONEDNN
// oneDNN (fp32, or bf16 where the CPU has it): runs of convolutions, pooling, resizing and the
// glue between them with activations in blocked layouts; `threads` bounds oneDNN's threads.
struct CpuBackendOptions {
  int threads = 1;
  std::string precision = "fp32";                                 // "fp32" | "bf16" | "int8"
  std::shared_ptr<const CalibrationTable> calibration = nullptr;  // int8: conv input ranges
  std::shared_ptr<CalibrationTable> record_ranges = nullptr;  // fp32: record conv input ranges here
};
std::unique_ptr<Backend> make_cpu_backend(const CpuBackendOptions& options);
#endif

#ifdef FUNGEN_HAVE_CUDA
// cuDNN + cuBLAS + fungen's kernels on one GPU: runs of nodes with activations in device memory,
// fp16 storage with fp32 accumulation ("fp16") or fp32 throughout ("fp32").
struct CudaBackendOptions {
  int device = 0;
  std::string precision = "fp16";  // "fp16" | "fp32"
  // Convolution algorithm choices: consulted before measuring, filled after (null: measure).
  std::shared_ptr<TuningCache> tuning;
};
Result<std::unique_ptr<Backend>> make_cuda_backend(const CudaBackendOptions& options);
// CUDA devices usable now; 0 without a driver or a GPU.
int cuda_device_count();
// Gives the device's primary context the scheduling flag (blocking sync) that FFmpeg's NVDEC
// requires when it shares that context (AV_CUDA_USE_PRIMARY_CONTEXT refuses an active primary
// context with other flags: "Operation not supported"). Only effective before anything in the
// process creates the context; call it before loading a GPU model that will read NVDEC frames.
void cuda_share_context_with_nvdec(int device);
// What a plan's fingerprint records about a device and the CUDA stack (cuda_device_info.cpp).
struct CudaDeviceInfo {
  std::string name;
  int major = 0, minor = 0;  // compute capability
  int driver_version = 0;    // cudaDriverGetVersion, e.g. 13000
  int runtime_version = 0;   // cudaRuntimeGetVersion
  size_t cudnn_version = 0;  // cudnnGetVersion, e.g. 91000
};
Result<CudaDeviceInfo> cuda_device_info(int device);
#endif

}  // namespace fungen
