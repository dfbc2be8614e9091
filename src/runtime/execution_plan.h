// execution_plan.h — a graph specialized for one set of input shapes, ready to run: each node
// prepared by its backend, every intermediate tensor placed in one arena by plan_memory(),
// outputs in buffers of their own. run() allocates nothing.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "fungen/status.h"
#include "fungen/tensor.h"
#include "graph/graph.h"
#include "runtime/backend.h"

namespace fungen {

class ThreadPool;

class ExecutionPlan {
 public:
  // `input_values`, when not empty, has one entry per graph input: a non-empty tensor makes that
  // input a constant of the plan (its value folds like an initializer; see Engine::run).
  // `base` must have bound schemas. Backends are tried in order for each node; consecutive nodes
  // taken by a backend that prepares runs become one step. `fuse` runs graph/passes/fusions.h.
  static Result<std::unique_ptr<ExecutionPlan>> build(const Graph& base,
                                                      std::span<const Shape> input_shapes,
                                                      std::span<Backend* const> backends,
                                                      ThreadPool* pool, bool fuse = false,
                                                      std::span<const Tensor> input_values = {});

  bool matches(std::span<const Tensor> inputs) const;
  // Inputs must match the planned shapes. `outputs` receives tensors that share the plan's
  // output buffers.
  Status run(std::span<const Tensor> inputs, std::vector<Tensor>& outputs);

  size_t arena_bytes() const { return arena_bytes_; }
  const Graph& graph() const { return graph_; }
  // Number of graph nodes that each backend took, for logs and tests.
  size_t nodes_on(std::string_view backend) const;
  // The kernel of the plan's only step when that step is a run computing every graph output
  // from the graph inputs (same order on both sides); else nullptr. See runtime/device_run.h.
  NodeKernel* whole_graph_kernel() const;

 private:
  struct Step {
    const Node* node = nullptr;
    std::unique_ptr<NodeKernel> kernel;
    std::string_view backend;
    std::vector<const Tensor*> inputs;
    std::vector<Tensor*> outputs;
    void* scratch = nullptr;
    size_t node_count = 1;  // graph nodes this step runs (more than one for a run)
  };
  ExecutionPlan() = default;
  Status run_step(Step& step);

  Graph graph_;
  std::vector<Shape> input_shapes_;
  std::vector<Tensor> input_values_;  // per input: the value this plan was specialized on, or empty
  std::vector<Tensor> slots_;         // one per value: constant, bound input, arena view or output
  std::vector<Step> steps_;
  std::vector<std::unique_ptr<Node>> run_nodes_;  // the Node a run step's KernelContext names
  std::shared_ptr<void> arena_;
  size_t arena_bytes_ = 0;
  std::vector<int> copy_to_output_;  // output index -> value id to copy from, or -1
  std::vector<Tensor> outputs_;
  ThreadPool* pool_ = nullptr;
};

}  // namespace fungen
