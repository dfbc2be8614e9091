// engine.cpp — fungen::Engine: import, bind, and one ExecutionPlan per set of input shapes.
#include "fungen/engine.h"

#include <algorithm>
#include <map>

#include "fungen/log.h"
#include "graph/passes/passes.h"
#include "onnx/onnx_import.h"
#include "runtime/backend.h"
#include "runtime/execution_plan.h"
#include "util/thread_pool.h"

namespace fungen {

struct Engine::Impl {
  Graph graph;
  std::vector<TensorInfo> inputs, outputs;
  EngineOptions options;
  std::unique_ptr<ThreadPool> pool;
  std::vector<std::unique_ptr<Backend>> backends;
  std::vector<Backend*> backend_order;
  std::map<std::vector<Shape>, std::unique_ptr<ExecutionPlan>> plans;
  ExecutionPlan* last = nullptr;

  Status check_inputs(std::span<const Tensor> given) const;
  Result<ExecutionPlan*> plan_for(std::span<const Shape> shapes);
};

namespace {

TensorInfo info_of(const Value& v) {
  TensorInfo info;
  info.name = v.name;
  info.dtype = v.dtype;
  for (const DeclaredDim& d : v.declared) info.shape.push_back(d.size);
  return info;
}

Result<std::unique_ptr<Engine::Impl>> make_impl(Graph graph, const EngineOptions& options) {
  auto impl = std::make_unique<Engine::Impl>();
  FUNGEN_RETURN_IF_ERROR(bind_schemas(graph));
  if (options.backend != "auto" && options.backend != "reference") {
    return invalid_argument("unknown backend '" + options.backend +
                            "' (choose auto or reference)");
  }
  if (options.threads < 0) {
    return invalid_argument("threads must be >= 0 (0 = one per physical core), got " +
                            std::to_string(options.threads));
  }
  impl->options = options;
  int threads = options.threads > 0 ? options.threads : ThreadPool::physical_cores();
  impl->pool = std::make_unique<ThreadPool>(threads);
  impl->backends.push_back(make_reference_backend());
  for (auto& b : impl->backends) impl->backend_order.push_back(b.get());
  for (int id : graph.inputs) impl->inputs.push_back(info_of(graph.values[static_cast<size_t>(id)]));
  for (int id : graph.outputs) impl->outputs.push_back(info_of(graph.values[static_cast<size_t>(id)]));
  impl->graph = std::move(graph);
  return impl;
}

}  // namespace

Status Engine::Impl::check_inputs(std::span<const Tensor> given) const {
  if (given.size() != inputs.size()) {
    return invalid_argument("the model takes " + std::to_string(inputs.size()) +
                            " input(s), got " + std::to_string(given.size()));
  }
  for (size_t i = 0; i < given.size(); ++i) {
    const TensorInfo& info = inputs[i];
    if (given[i].dtype() != info.dtype) {
      return invalid_argument("input '" + info.name + "' has dtype " + dtype_name(given[i].dtype()) +
                              " but the model expects " + dtype_name(info.dtype));
    }
    if (given[i].numel() > 0 && given[i].raw() == nullptr) {
      return invalid_argument("input '" + info.name + "' has no data");
    }
  }
  return Status();
}

Result<ExecutionPlan*> Engine::Impl::plan_for(std::span<const Shape> shapes) {
  std::vector<Shape> key(shapes.begin(), shapes.end());
  auto it = plans.find(key);
  if (it == plans.end()) {
    auto plan = ExecutionPlan::build(graph, shapes, backend_order, pool.get());
    if (!plan.ok()) return plan.status();
    it = plans.emplace(std::move(key), std::move(plan).value()).first;
  }
  return it->second.get();
}

Result<Engine> Engine::load(const std::string& path, const EngineOptions& options) {
  auto graph = import_onnx_file(path);
  if (!graph.ok()) return graph.status();
  auto impl = make_impl(std::move(graph).value(), options);
  if (!impl.ok()) return impl.status().with_context(path);
  return Engine(std::move(impl).value());
}

Result<Engine> Engine::load_from_memory(std::span<const uint8_t> bytes,
                                        const EngineOptions& options, const std::string& label) {
  auto graph = import_onnx_model(bytes, label);
  if (!graph.ok()) return graph.status();
  auto impl = make_impl(std::move(graph).value(), options);
  if (!impl.ok()) return impl.status().with_context(label);
  return Engine(std::move(impl).value());
}

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;
Engine::~Engine() = default;

const std::vector<TensorInfo>& Engine::inputs() const { return impl_->inputs; }
const std::vector<TensorInfo>& Engine::outputs() const { return impl_->outputs; }
const std::map<std::string, std::string>& Engine::metadata() const { return impl_->graph.metadata; }
int64_t Engine::opset() const { return impl_->graph.opset; }
int Engine::threads() const { return impl_->pool->threads(); }
size_t Engine::arena_bytes() const { return impl_->last ? impl_->last->arena_bytes() : 0; }

Status Engine::prepare(std::span<const Shape> input_shapes) {
  auto plan = impl_->plan_for(input_shapes);
  if (!plan.ok()) return plan.status();
  impl_->last = plan.value();
  return Status();
}

Status Engine::run(std::span<const Tensor> inputs, std::vector<Tensor>& outputs) {
  FUNGEN_RETURN_IF_ERROR(impl_->check_inputs(inputs));
  if (!impl_->last || !impl_->last->matches(inputs)) {
    std::vector<Shape> shapes;
    for (const Tensor& t : inputs) shapes.push_back(t.shape());
    auto plan = impl_->plan_for(shapes);
    if (!plan.ok()) return plan.status();
    impl_->last = plan.value();
  }
  return impl_->last->run(inputs, outputs);
}

}  // namespace fungen
