#include "runtime/execution_plan.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>

#include "fungen/log.h"
#include "graph/memory_plan.h"
#include "graph/passes/passes.h"
#include "util/assert.h"
#include "util/memory.h"

namespace fungen {

Result<std::unique_ptr<ExecutionPlan>> ExecutionPlan::build(const Graph& base,
                                                            std::span<const Shape> input_shapes,
                                                            std::span<Backend* const> backends,
                                                            ThreadPool* pool) {
  std::unique_ptr<ExecutionPlan> plan(new ExecutionPlan());
  plan->pool_ = pool;
  plan->graph_ = base;
  Graph& g = plan->graph_;
  FUNGEN_RETURN_IF_ERROR(specialize_shapes(g, input_shapes));
  remove_dead_nodes(g);
  plan->input_shapes_.assign(input_shapes.begin(), input_shapes.end());

  // Which values are graph outputs, graph inputs.
  std::vector<int> output_index(g.values.size(), -1);
  for (size_t i = 0; i < g.outputs.size(); ++i) {
    int id = g.outputs[i];
    if (output_index[static_cast<size_t>(id)] < 0) output_index[static_cast<size_t>(id)] = static_cast<int>(i);
  }
  std::vector<bool> is_input(g.values.size(), false);
  for (int id : g.inputs) is_input[static_cast<size_t>(id)] = true;

  // Lifetimes of arena tensors (node outputs that are not graph outputs) and scratch.
  std::vector<int> last_use(g.values.size(), -1);
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    for (int id : g.nodes[n].inputs) {
      if (id >= 0) last_use[static_cast<size_t>(id)] = static_cast<int>(n);
    }
  }
  std::vector<BufferRequest> requests;
  std::vector<int> request_value;  // value id, or -(node index + 1) for scratch
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const Node& node = g.nodes[n];
    for (int id : node.outputs) {
      if (id < 0 || output_index[static_cast<size_t>(id)] >= 0) continue;
      const Value& v = g.values[static_cast<size_t>(id)];
      int last = std::max(static_cast<int>(n), last_use[static_cast<size_t>(id)]);
      requests.push_back({static_cast<size_t>(shape_numel(v.shape)) * dtype_size(v.dtype),
                          static_cast<int>(n), last});
      request_value.push_back(id);
    }
    if (node.scratch_bytes) {
      requests.push_back({node.scratch_bytes, static_cast<int>(n), static_cast<int>(n)});
      request_value.push_back(-static_cast<int>(n) - 1);
    }
  }
  MemoryPlan mem = plan_memory(requests);
  plan->arena_bytes_ = mem.arena_bytes;
  plan->arena_ = allocate_buffer(mem.arena_bytes);
  if (!plan->arena_) {
    return out_of_memory("cannot allocate " + std::to_string(mem.arena_bytes >> 20) +
                         " MiB of activation memory; use a smaller batch");
  }
  auto* base_ptr = static_cast<std::byte*>(plan->arena_.get());

  // Slots: one Tensor per value.
  plan->slots_.resize(g.values.size());
  std::vector<void*> scratch_of(g.nodes.size(), nullptr);
  for (size_t r = 0; r < requests.size(); ++r) {
    int id = request_value[r];
    if (id < 0) {
      scratch_of[static_cast<size_t>(-id - 1)] = base_ptr + mem.offsets[r];
      continue;
    }
    const Value& v = g.values[static_cast<size_t>(id)];
    plan->slots_[static_cast<size_t>(id)] = Tensor::view(v.dtype, v.shape, base_ptr + mem.offsets[r]);
  }
  for (size_t id = 0; id < g.values.size(); ++id) {
    const Value& v = g.values[id];
    if (v.constant) {
      plan->slots_[id] = *v.constant;
    } else if (is_input[id]) {
      plan->slots_[id] = Tensor::view(v.dtype, v.shape, nullptr);
    }
  }
  // Outputs: own buffers; produced in place by their node, or copied from an input/constant.
  plan->outputs_.resize(g.outputs.size());
  plan->copy_to_output_.assign(g.outputs.size(), -1);
  for (size_t i = 0; i < g.outputs.size(); ++i) {
    int id = g.outputs[i];
    const Value& v = g.values[static_cast<size_t>(id)];
    plan->outputs_[i] = Tensor(v.dtype, v.shape);
    bool produced_here = output_index[static_cast<size_t>(id)] == static_cast<int>(i) &&
                         !v.constant && !is_input[static_cast<size_t>(id)];
    if (produced_here) {
      plan->slots_[static_cast<size_t>(id)] = plan->outputs_[i];
    } else if (v.constant) {
      if (v.constant->nbytes()) std::memcpy(plan->outputs_[i].raw(), v.constant->raw(), v.constant->nbytes());
    } else {
      plan->copy_to_output_[i] = id;
    }
  }

  // Steps: each node prepared by the first backend that takes it.
  plan->steps_.reserve(g.nodes.size());
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const Node& node = g.nodes[n];
    Step step;
    step.node = &node;
    for (Backend* backend : backends) {
      if (!backend->supports(node, g)) continue;
      auto kernel = backend->prepare(node, g);
      if (!kernel.ok()) return kernel.status();
      step.kernel = std::move(kernel).value();
      step.backend = backend->name();
      break;
    }
    if (!step.kernel) {
      return unsupported(node.describe(g.opset) + ": no backend can run this node");
    }
    for (int id : node.inputs) step.inputs.push_back(id >= 0 ? &plan->slots_[static_cast<size_t>(id)] : nullptr);
    for (int id : node.outputs) step.outputs.push_back(id >= 0 ? &plan->slots_[static_cast<size_t>(id)] : nullptr);
    step.scratch = scratch_of[n];
    plan->steps_.push_back(std::move(step));
  }
  log(LogLevel::kDebug, "plan: {} nodes, arena {:.1f} MiB", plan->steps_.size(),
      static_cast<double>(plan->arena_bytes_) / (1 << 20));
  return plan;
}

bool ExecutionPlan::matches(std::span<const Tensor> inputs) const {
  if (inputs.size() != input_shapes_.size()) return false;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].shape() != input_shapes_[i]) return false;
  }
  return true;
}

Status ExecutionPlan::run_step(Step& step) {
  KernelContext ctx(*step.node, graph_.opset, step.inputs, step.outputs, step.scratch,
                    step.node->scratch_bytes, pool_);
  if (!log_enabled(LogLevel::kDebug)) return step.kernel->run(ctx);
  auto t0 = std::chrono::steady_clock::now();
  Status s = step.kernel->run(ctx);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  const Tensor* out = step.outputs.empty() ? nullptr : step.outputs[0];
  log(LogLevel::kDebug, "{:<40} {:<12} {:<10} out {} {:.3f} ms", step.node->name,
      step.node->op_type, step.backend, out ? shape_to_string(out->shape()) : "-", ms);
  return s;
}

Status ExecutionPlan::run(std::span<const Tensor> inputs, std::vector<Tensor>& outputs) {
  FUNGEN_ASSERT(matches(inputs));
  for (size_t i = 0; i < inputs.size(); ++i) {
    slots_[static_cast<size_t>(graph_.inputs[i])].rebind(const_cast<void*>(inputs[i].raw()));
  }
  for (Step& step : steps_) {
    Status s = run_step(step);
    if (!s.ok()) return s.with_context(step.node->describe(graph_.opset));
  }
  for (size_t i = 0; i < outputs_.size(); ++i) {
    if (copy_to_output_[i] < 0) continue;
    const Tensor& src = slots_[static_cast<size_t>(copy_to_output_[i])];
    if (src.nbytes()) std::memcpy(outputs_[i].raw(), src.raw(), src.nbytes());
  }
  if (outputs.size() != outputs_.size()) outputs.resize(outputs_.size());
  for (size_t i = 0; i < outputs_.size(); ++i) outputs[i] = outputs_[i];
  return Status();
}

size_t ExecutionPlan::nodes_on(std::string_view backend) const {
  size_t n = 0;
  for (const Step& s : steps_) n += s.backend == backend;
  return n;
}

}  // namespace fungen
