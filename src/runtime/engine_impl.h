// engine_impl.h — Engine's insides, for the runtime files that build engines another way than
// from an ONNX file (plan_file.cpp: engines from .engine plans) and read back what they planned.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fungen/engine.h"
#include "graph/graph.h"
#include "runtime/backend.h"
#include "runtime/execution_plan.h"
#include "runtime/tuning_cache.h"
#include "util/thread_pool.h"

namespace fungen {

struct Engine::Impl {
  Graph graph;
  std::vector<TensorInfo> inputs, outputs;
  EngineOptions options;
  std::unique_ptr<ThreadPool> pool;
  std::vector<std::unique_ptr<Backend>> backends;
  std::vector<Backend*> backend_order;
  // Plans by input shapes, plus the bytes of the inputs a plan was specialized on (see run()).
  std::map<std::pair<std::vector<Shape>, std::string>, std::unique_ptr<ExecutionPlan>> plans;
  std::vector<bool> value_inputs;  // inputs whose values the graph needs at load
  ExecutionPlan* last = nullptr;
  bool fuse = false;  // run graph/passes/fusions.h (when a backend with fused kernels is in use)
  // From a plan file (runtime/plan_file.h): graphs already specialized and fused, by input
  // shapes, and the algorithm choices the backends' autotuning made (shared with the backends).
  std::map<std::vector<Shape>, Graph> optimized;
  std::shared_ptr<TuningCache> tuning;
  std::string plan_path;  // the .engine file this engine came from, "" for an ONNX model

  Status check_inputs(std::span<const Tensor> given) const;
  Result<ExecutionPlan*> plan_for(std::span<const Tensor> given);
  Result<ExecutionPlan*> build_plan(std::span<const Tensor> given);
};

// Binds the graph's schemas and sets up the backends `options` asks for (engine.cpp).
Result<std::unique_ptr<Engine::Impl>> make_engine_impl(Graph graph, const EngineOptions& options);

struct EngineAccess {
  static Engine::Impl& impl(Engine& e) { return *e.impl_; }
  static const Engine::Impl& impl(const Engine& e) { return *e.impl_; }
  static Engine make(std::unique_ptr<Engine::Impl> impl) { return Engine(std::move(impl)); }
};

}  // namespace fungen
