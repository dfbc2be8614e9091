// The cpu backend: oneDNN behind runtime/backend.h. It takes every run of consecutive nodes whose
// ops are in cpu_ops.h and compiles each run into one CpuRun (cpu_run.h).
#include <memory>

#include "backends/cpu/cpu_ops.h"
#include "backends/cpu/cpu_run.h"
#include "runtime/backend.h"

namespace fungen {
namespace cpu {

namespace {
#define FUNGEN_CPU_ROW(name, lower) CpuOp{#name, lower},
const CpuOp kCpuOps[] = {FUNGEN_CPU_OPS(FUNGEN_CPU_ROW)};
#undef FUNGEN_CPU_ROW
}  // namespace

const CpuOp* find_cpu_op(std::string_view op_type) {
  for (const CpuOp& op : kCpuOps) {
    if (op.name == op_type) return &op;
  }
  return nullptr;
}

}  // namespace cpu

namespace {

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const CpuBackendOptions& options) {
    options_.threads = options.threads;
    options_.bf16 = options.precision == "bf16";
    options_.int8 = options.precision == "int8";
    options_.calibration = options.calibration;
    options_.record = options.precision == "fp32" ? options.record_ranges : nullptr;
  }
  std::string_view name() const override { return "cpu"; }

  bool supports(const Node& node, const Graph& graph) const override {
    if (!node.schema || !cpu::find_cpu_op(node.op_type)) return false;
    // Float32 data throughout; index/shape inputs must be constants; ranks oneDNN can describe.
    for (int id : node.outputs) {
      if (id < 0) continue;
      const Value& v = graph.values[static_cast<size_t>(id)];
      if (v.dtype != DType::kFloat32 || v.shape.size() > cpu::kMaxRank) return false;
    }
    for (int id : node.inputs) {
      if (id < 0) continue;
      const Value& v = graph.values[static_cast<size_t>(id)];
      if (v.dtype != DType::kFloat32 && !v.is_constant()) return false;
      if (v.dtype == DType::kFloat32 && v.shape.size() > cpu::kMaxRank) return false;
    }
    return true;
  }

  Result<std::unique_ptr<NodeKernel>> prepare(const Node& node, const Graph& graph) override {
    return unsupported("the cpu backend prepares runs of nodes");
  }

  bool prepares_runs() const override { return true; }

  Result<std::unique_ptr<NodeKernel>> prepare_run(const Graph& graph, const NodeRun& run) override {
    auto r = cpu::CpuRun::build(graph, run, options_);
    if (!r.ok()) return r.status();
    return std::unique_ptr<NodeKernel>(std::move(r).value());
  }

 private:
  cpu::CpuOptions options_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const CpuBackendOptions& options) {
  return std::make_unique<CpuBackend>(options);
}

}  // namespace fungen
