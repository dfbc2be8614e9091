// engine.cpp — fungen::Engine: import, bind, and one ExecutionPlan per set of input shapes.
#include "fungen/engine.h"

#include <algorithm>
#include <map>

#include "fungen/log.h"
#include "graph/passes/passes.h"
#include "onnx/onnx_import.h"
#include "runtime/backend.h"
#include "runtime/device_run.h"
#include "runtime/engine_impl.h"
#include "runtime/execution_plan.h"
#include "runtime/plan_file.h"
#include "util/thread_pool.h"

namespace fungen {

namespace {

TensorInfo info_of(const Value& v) {
  TensorInfo info;
  info.name = v.name;
  info.dtype = v.dtype;
  for (const DeclaredDim& d : v.declared) info.shape.push_back(d.size);
  return info;
}

}  // namespace

Result<std::unique_ptr<Engine::Impl>> make_engine_impl(Graph graph, const EngineOptions& options) {
  auto impl = std::make_unique<Engine::Impl>();
  impl->tuning = std::make_shared<TuningCache>();
  FUNGEN_RETURN_IF_ERROR(bind_schemas(graph));
  if (options.backend != "auto" && options.backend != "reference" && options.backend != "cpu" &&
      options.backend != "cuda") {
    return invalid_argument("unknown backend '" + options.backend +
                            "' (choose auto, cuda, cpu or reference)");
  }
  // The GPU: asked for, or "auto" with a CUDA device present now (bf16 is a CPU precision).
  bool use_cuda = options.backend == "cuda";
#ifdef FUNGEN_HAVE_CUDA
  use_cuda = use_cuda || (options.backend == "auto" && options.precision != "bf16" &&
                          options.precision != "int8" && cuda_device_count() > 0);
#else
  if (use_cuda) {
    return unsupported(
        "backend 'cuda' needs a build of fungen with -DFUNGEN_CUDA=ON "
        "(CUDA toolkit and cuDNN 9)");
  }
#endif
#ifndef FUNGEN_HAVE_ONEDNN
  if (options.backend == "cpu") {
    return unsupported(
        "backend 'cpu' needs oneDNN, which this build of fungen lacks "
        "(install libdnnl-dev and rebuild with -DFUNGEN_ONEDNN=ON)");
  }
#endif
  if (options.precision != "fp32" && options.precision != "bf16" && options.precision != "fp16" &&
      options.precision != "int8") {
    return invalid_argument("unknown precision '" + options.precision +
                            "' (choose fp32, bf16, int8 or fp16)");
  }
  if (options.precision == "int8" && !options.calibration) {
    return invalid_argument(
        "precision int8 needs activation ranges: pass --calibrate DIR (a folder of sample "
        "images) once, or --calibration FILE made by an earlier --calibrate");
  }
  if (options.precision == "fp16" && !use_cuda) {
    return invalid_argument("precision fp16 needs the cuda backend (a GPU and -DFUNGEN_CUDA=ON)");
  }
  if ((options.precision == "bf16" || options.precision == "int8") && use_cuda) {
    return invalid_argument("precision " + options.precision +
                            " is a CPU precision; the cuda backend runs fp16 or fp32");
  }
  if (options.precision != "fp32" && options.backend == "reference") {
    return invalid_argument("precision " + options.precision + " needs the cpu backend");
  }
  if (options.threads < 0) {
    return invalid_argument("threads must be >= 0 (0 = one per physical core), got " +
                            std::to_string(options.threads));
  }
  impl->options = options;
  int threads = options.threads > 0 ? options.threads : ThreadPool::physical_cores();
  impl->pool = std::make_unique<ThreadPool>(threads);
#ifdef FUNGEN_HAVE_CUDA
  if (use_cuda) {
    auto cuda = make_cuda_backend(
        {.precision = options.precision == "fp16" ? "fp16" : "fp32", .tuning = impl->tuning});
    if (!cuda.ok()) return cuda.status();
    impl->backends.push_back(std::move(cuda).value());
    impl->fuse = true;
  }
#endif
#ifdef FUNGEN_HAVE_ONEDNN
  if (options.backend != "reference") {
    // Behind the GPU the CPU takes what it cannot, in fp32.
    impl->backends.push_back(
        make_cpu_backend({.threads = threads,
                          .precision = use_cuda ? std::string("fp32") : options.precision,
                          .calibration = options.calibration,
                          .record_ranges = use_cuda ? nullptr : options.record_ranges}));
    impl->fuse = true;
  }
#else
  if (options.precision == "bf16" || options.precision == "int8") {
    return unsupported("precision " + options.precision + " needs oneDNN, which this build lacks");
  }
#endif
  impl->backends.push_back(make_reference_backend());
  for (auto& b : impl->backends) impl->backend_order.push_back(b.get());
  for (int id : graph.inputs)
    impl->inputs.push_back(info_of(graph.values[static_cast<size_t>(id)]));
  for (int id : graph.outputs)
    impl->outputs.push_back(info_of(graph.values[static_cast<size_t>(id)]));
  impl->graph = std::move(graph);
  return impl;
}

Status Engine::Impl::check_inputs(std::span<const Tensor> given) const {
  if (given.size() != inputs.size()) {
    return invalid_argument("the model takes " + std::to_string(inputs.size()) + " input(s), got " +
                            std::to_string(given.size()));
  }
  for (size_t i = 0; i < given.size(); ++i) {
    const TensorInfo& info = inputs[i];
    if (given[i].dtype() != info.dtype) {
      return invalid_argument("input '" + info.name + "' has dtype " +
                              dtype_name(given[i].dtype()) + " but the model expects " +
                              dtype_name(info.dtype));
    }
    if (given[i].numel() > 0 && given[i].raw() == nullptr) {
      return invalid_argument("input '" + info.name + "' has no data");
    }
  }
  return Status();
}

// A graph whose shapes depend on the VALUE of a small graph input (ONNX's node tests feed
// Reshape's shape, Resize's scales or TopK's k as inputs) cannot be planned from shapes alone.
// Then the engine specializes the plan on those inputs' values too: they fold like initializers,
// and a later run with other values builds (and caches) another plan. Large inputs such as
// images are never specialized on.
constexpr int64_t kMaxValueInputElements = 4096;

Result<ExecutionPlan*> Engine::Impl::plan_for(std::span<const Tensor> given) {
  auto key_of = [&] {
    std::pair<std::vector<Shape>, std::string> key;
    for (size_t i = 0; i < given.size(); ++i) {
      key.first.push_back(given[i].shape());
      if (!value_inputs.empty() && value_inputs[i]) {
        key.second.append(static_cast<const char*>(given[i].raw()), given[i].nbytes());
      }
    }
    return key;
  };
  auto it = plans.find(key_of());
  if (it != plans.end()) return it->second.get();
  auto plan = build_plan(given);  // may decide to specialize on values: key after it
  if (!plan.ok()) return plan.status();
  return plans.emplace(key_of(), std::unique_ptr<ExecutionPlan>(plan.value())).first->second.get();
}

Result<ExecutionPlan*> Engine::Impl::build_plan(std::span<const Tensor> given) {
  std::vector<Shape> shapes;
  for (const Tensor& t : given) shapes.push_back(t.shape());
  std::vector<Tensor> values(given.size());
  auto specialize_on_values = [&] {
    for (size_t i = 0; i < given.size(); ++i) {
      if (value_inputs[i]) values[i] = given[i];
    }
  };
  if (!value_inputs.empty()) specialize_on_values();
  // A plan file's graph for these shapes has been through the passes already.
  auto stored = value_inputs.empty() ? optimized.find(shapes) : optimized.end();
  if (stored != optimized.end()) {
    auto plan = ExecutionPlan::build(stored->second, shapes, backend_order, pool.get(), false);
    if (!plan.ok()) return plan.status();
    return std::move(plan).value().release();
  }
  auto plan = ExecutionPlan::build(graph, shapes, backend_order, pool.get(), fuse, values);
  if (!plan.ok() && value_inputs.empty() && plan.status().code() == StatusCode::kUnsupported) {
    std::vector<bool> small(given.size());
    bool any = false;
    for (size_t i = 0; i < given.size(); ++i) {
      small[i] = given[i].numel() <= kMaxValueInputElements;
      any = any || small[i];
    }
    if (any) {
      value_inputs = small;
      specialize_on_values();
      auto retry = ExecutionPlan::build(graph, shapes, backend_order, pool.get(), fuse, values);
      if (!retry.ok()) {
        value_inputs.clear();
        return plan.status();
      }
      log(LogLevel::kInfo, "shapes depend on input values: plans are specialized on small inputs");
      plan = std::move(retry);
    }
  }
  if (!plan.ok()) return plan.status();
  return std::move(plan).value().release();
}

Result<Engine> Engine::load(const std::string& path, const EngineOptions& options) {
  // A fungen plan (.engine, runtime/plan_file.h) carries its own backend and precision.
  if (is_plan_file(path)) return load_plan(path, {.threads = options.threads});
  auto graph = import_onnx_file(path);
  if (!graph.ok()) return graph.status();
  auto impl = make_engine_impl(std::move(graph).value(), options);
  if (!impl.ok()) return impl.status().with_context(path);
  return Engine(std::move(impl).value());
}

Result<Engine> Engine::load_from_memory(std::span<const uint8_t> bytes,
                                        const EngineOptions& options, const std::string& label) {
  auto graph = import_onnx_model(bytes, label);
  if (!graph.ok()) return graph.status();
  auto impl = make_engine_impl(std::move(graph).value(), options);
  if (!impl.ok()) return impl.status().with_context(label);
  return Engine(std::move(impl).value());
}

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;
Engine::~Engine() = default;

const std::vector<TensorInfo>& Engine::inputs() const {
  return impl_->inputs;
}
const std::vector<TensorInfo>& Engine::outputs() const {
  return impl_->outputs;
}
const std::map<std::string, std::string>& Engine::metadata() const {
  return impl_->graph.metadata;
}
int64_t Engine::opset() const {
  return impl_->graph.opset;
}
int Engine::threads() const {
  return impl_->pool->threads();
}
size_t Engine::nodes_on(std::string_view backend) const {
  return impl_->last ? impl_->last->nodes_on(backend) : 0;
}
size_t Engine::arena_bytes() const {
  return impl_->last ? impl_->last->arena_bytes() : 0;
}

Status Engine::prepare(std::span<const Shape> input_shapes) {
  if (input_shapes.size() != impl_->inputs.size()) {
    return invalid_argument("the model takes " + std::to_string(impl_->inputs.size()) +
                            " input(s), got " + std::to_string(input_shapes.size()) + " shapes");
  }
  std::vector<Tensor> zeros;
  for (size_t i = 0; i < input_shapes.size(); ++i) {
    zeros.emplace_back(impl_->inputs[i].dtype, input_shapes[i]);
  }
  auto plan = impl_->plan_for(zeros);
  if (!plan.ok()) return plan.status();
  impl_->last = plan.value();
  return Status();
}

Status Engine::run(std::span<const Tensor> inputs, std::vector<Tensor>& outputs) {
  FUNGEN_RETURN_IF_ERROR(impl_->check_inputs(inputs));
  if (!impl_->last || !impl_->last->matches(inputs)) {
    auto plan = impl_->plan_for(inputs);
    if (!plan.ok()) return plan.status();
    impl_->last = plan.value();
  }
  return impl_->last->run(inputs, outputs);
}

struct EngineInternals {
  static Engine::Impl& impl(Engine& e) { return *e.impl_; }
};

Result<DeviceRun*> device_run_of(Engine& engine, std::span<const Shape> input_shapes) {
  FUNGEN_RETURN_IF_ERROR(engine.prepare(input_shapes));
  ExecutionPlan* plan = EngineInternals::impl(engine).last;
  NodeKernel* kernel = plan ? plan->whole_graph_kernel() : nullptr;
  return kernel ? dynamic_cast<DeviceRun*>(kernel) : nullptr;
}

}  // namespace fungen
