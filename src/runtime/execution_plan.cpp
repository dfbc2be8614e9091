#include "runtime/execution_plan.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>

#include "fungen/log.h"
#include "graph/memory_plan.h"
#include "graph/passes/fusions.h"
#include "graph/passes/passes.h"
#include "util/assert.h"
#include "util/memory.h"

namespace fungen {

namespace {

// One step of the plan before preparation: a single node, or a run of consecutive nodes that a
// run-preparing backend takes as a whole.
struct StepSpec {
  Backend* backend = nullptr;
  NodeRun run;  // first == last for a single node
  bool is_run = false;
  std::vector<int> inputs, outputs;  // value ids as the kernel sees them (-1: omitted)
};

std::vector<StepSpec> partition(const Graph& g, std::span<Backend* const> backends) {
  std::vector<Backend*> owner(g.nodes.size(), nullptr);
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    for (Backend* b : backends) {
      if (b->supports(g.nodes[n], g)) {
        owner[n] = b;
        break;
      }
    }
  }
  std::vector<int> uses = g.use_counts();
  std::vector<StepSpec> specs;
  for (size_t n = 0; n < g.nodes.size();) {
    StepSpec spec;
    spec.backend = owner[n];
    size_t last = n;
    if (spec.backend && spec.backend->prepares_runs()) {
      while (last + 1 < g.nodes.size() && owner[last + 1] == spec.backend) ++last;
      spec.is_run = true;
    }
    spec.run.first = n;
    spec.run.last = last;
    if (!spec.is_run) {
      spec.inputs = g.nodes[n].inputs;
      spec.outputs = g.nodes[n].outputs;
    } else {
      // Boundary values: read inside but made outside; made inside but read outside.
      std::vector<int> inside_uses(g.values.size(), 0);
      std::vector<bool> made_inside(g.values.size(), false), listed(g.values.size(), false);
      for (size_t k = n; k <= last; ++k) {
        for (int id : g.nodes[k].inputs) {
          if (id < 0) continue;
          ++inside_uses[static_cast<size_t>(id)];
          const Value& v = g.values[static_cast<size_t>(id)];
          if (!made_inside[static_cast<size_t>(id)] && !v.is_constant() &&
              !listed[static_cast<size_t>(id)]) {
            listed[static_cast<size_t>(id)] = true;
            spec.inputs.push_back(id);
          }
        }
        for (int id : g.nodes[k].outputs) {
          if (id >= 0) made_inside[static_cast<size_t>(id)] = true;
        }
      }
      for (size_t k = n; k <= last; ++k) {
        for (int id : g.nodes[k].outputs) {
          if (id >= 0 && uses[static_cast<size_t>(id)] > inside_uses[static_cast<size_t>(id)]) {
            spec.outputs.push_back(id);
          }
        }
      }
    }
    spec.run.inputs = spec.inputs;
    spec.run.outputs = spec.outputs;
    specs.push_back(std::move(spec));
    n = last + 1;
  }
  return specs;
}

}  // namespace

Result<std::unique_ptr<ExecutionPlan>> ExecutionPlan::build(const Graph& base,
                                                            std::span<const Shape> input_shapes,
                                                            std::span<Backend* const> backends,
                                                            ThreadPool* pool, bool fuse,
                                                            std::span<const Tensor> input_values) {
  std::unique_ptr<ExecutionPlan> plan(new ExecutionPlan());
  plan->pool_ = pool;
  plan->graph_ = base;
  Graph& g = plan->graph_;
  plan->input_values_.resize(g.inputs.size());
  for (size_t i = 0; i < input_values.size() && i < g.inputs.size(); ++i) {
    if (input_values[i].empty()) continue;
    plan->input_values_[i] = input_values[i].clone();
    g.values[static_cast<size_t>(g.inputs[i])].constant = plan->input_values_[i];
  }
  FUNGEN_RETURN_IF_ERROR(specialize_shapes(g, input_shapes));
  remove_dead_nodes(g);
  if (fuse) run_fusions(g);
  plan->input_shapes_.assign(input_shapes.begin(), input_shapes.end());

  std::vector<StepSpec> specs = partition(g, backends);
  for (const StepSpec& spec : specs) {
    if (!spec.backend) {
      return unsupported(g.nodes[spec.run.first].describe(g.opset) +
                         ": no backend can run this node");
    }
  }

  // Which values are graph outputs, graph inputs.
  std::vector<int> output_index(g.values.size(), -1);
  for (size_t i = 0; i < g.outputs.size(); ++i) {
    int id = g.outputs[i];
    if (output_index[static_cast<size_t>(id)] < 0)
      output_index[static_cast<size_t>(id)] = static_cast<int>(i);
  }
  std::vector<bool> is_input(g.values.size(), false);
  for (int id : g.inputs) is_input[static_cast<size_t>(id)] = true;

  // Lifetimes (in steps) of arena tensors (step outputs that are not graph outputs) and scratch.
  // Values inside a run belong to its backend and get no slot here.
  std::vector<int> last_use(g.values.size(), -1);
  for (size_t st = 0; st < specs.size(); ++st) {
    for (int id : specs[st].inputs) {
      if (id >= 0) last_use[static_cast<size_t>(id)] = static_cast<int>(st);
    }
  }
  std::vector<BufferRequest> requests;
  std::vector<int> request_value;  // value id, or -(step index + 1) for scratch
  for (size_t st = 0; st < specs.size(); ++st) {
    for (int id : specs[st].outputs) {
      if (id < 0 || output_index[static_cast<size_t>(id)] >= 0) continue;
      const Value& v = g.values[static_cast<size_t>(id)];
      int last = std::max(static_cast<int>(st), last_use[static_cast<size_t>(id)]);
      requests.push_back({static_cast<size_t>(shape_numel(v.shape)) * dtype_size(v.dtype),
                          static_cast<int>(st), last});
      request_value.push_back(id);
    }
    size_t scratch = specs[st].is_run ? 0 : g.nodes[specs[st].run.first].scratch_bytes;
    if (scratch) {
      requests.push_back({scratch, static_cast<int>(st), static_cast<int>(st)});
      request_value.push_back(-static_cast<int>(st) - 1);
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
  std::vector<void*> scratch_of(specs.size(), nullptr);
  for (size_t r = 0; r < requests.size(); ++r) {
    int id = request_value[r];
    if (id < 0) {
      scratch_of[static_cast<size_t>(-id - 1)] = base_ptr + mem.offsets[r];
      continue;
    }
    const Value& v = g.values[static_cast<size_t>(id)];
    plan->slots_[static_cast<size_t>(id)] =
        Tensor::view(v.dtype, v.shape, base_ptr + mem.offsets[r]);
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
      if (v.constant->nbytes())
        std::memcpy(plan->outputs_[i].raw(), v.constant->raw(), v.constant->nbytes());
    } else {
      plan->copy_to_output_[i] = id;
    }
  }

  // Steps: prepared by their backend.
  plan->steps_.reserve(specs.size());
  for (size_t st = 0; st < specs.size(); ++st) {
    StepSpec& spec = specs[st];
    Step step;
    if (spec.is_run) {
      auto node = std::make_unique<Node>();
      node->name = std::string(spec.backend->name()) + " run of nodes " +
                   std::to_string(spec.run.first) + ".." + std::to_string(spec.run.last) + " ('" +
                   g.nodes[spec.run.first].name + "'..'" + g.nodes[spec.run.last].name + "')";
      node->op_type = "Run";
      node->inputs = spec.inputs;
      node->outputs = spec.outputs;
      step.node = node.get();
      plan->run_nodes_.push_back(std::move(node));
      auto kernel = spec.backend->prepare_run(g, spec.run);
      if (!kernel.ok()) return kernel.status();
      step.kernel = std::move(kernel).value();
    } else {
      const Node& node = g.nodes[spec.run.first];
      step.node = &node;
      auto kernel = spec.backend->prepare(node, g);
      if (!kernel.ok()) return kernel.status();
      step.kernel = std::move(kernel).value();
    }
    step.backend = spec.backend->name();
    step.node_count = spec.run.last - spec.run.first + 1;
    for (int id : spec.inputs)
      step.inputs.push_back(id >= 0 ? &plan->slots_[static_cast<size_t>(id)] : nullptr);
    for (int id : spec.outputs)
      step.outputs.push_back(id >= 0 ? &plan->slots_[static_cast<size_t>(id)] : nullptr);
    step.scratch = scratch_of[st];
    plan->steps_.push_back(std::move(step));
  }
  log(LogLevel::kDebug, "plan: {} nodes in {} steps, arena {:.1f} MiB", g.nodes.size(),
      plan->steps_.size(), static_cast<double>(plan->arena_bytes_) / (1 << 20));
  return plan;
}

bool ExecutionPlan::matches(std::span<const Tensor> inputs) const {
  if (inputs.size() != input_shapes_.size()) return false;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].shape() != input_shapes_[i]) return false;
    const Tensor& v = input_values_[i];
    if (!v.empty() && (v.dtype() != inputs[i].dtype() ||
                       std::memcmp(v.raw(), inputs[i].raw(), v.nbytes()) != 0)) {
      return false;
    }
  }
  return true;
}

Status ExecutionPlan::run_step(Step& step) {
  KernelContext ctx(*step.node, graph_.opset, step.inputs, step.outputs, step.scratch,
                    step.node->scratch_bytes, pool_);
  if (!log_enabled(LogLevel::kDebug)) return step.kernel->run(ctx);
  auto t0 = std::chrono::steady_clock::now();
  Status s = step.kernel->run(ctx);
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  const Tensor* out = step.outputs.empty() ? nullptr : step.outputs[0];
  log(LogLevel::kDebug, "{:<40} {:<12} {:<10} out {} {:.3f} ms", step.node->name,
      step.node->op_type, step.backend, out ? shape_to_string(out->shape()) : "-", ms);
  return s;
}

Status ExecutionPlan::run(std::span<const Tensor> inputs, std::vector<Tensor>& outputs) {
  FUNGEN_ASSERT(matches(inputs));
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!input_values_[i].empty()) continue;  // folded into the plan
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
  for (const Step& s : steps_) {
    if (s.backend != backend) continue;
    // A run step counts the nodes it covers.
    n += s.node_count;
  }
  return n;
}

NodeKernel* ExecutionPlan::whole_graph_kernel() const {
  if (steps_.size() != 1 || steps_[0].node->op_type != "Run") return nullptr;
  const Node& run = *steps_[0].node;
  for (int c : copy_to_output_) {
    if (c >= 0) return nullptr;
  }
  bool folded = false;
  for (const Tensor& v : input_values_) folded = folded || !v.empty();
  if (folded || run.inputs != graph_.inputs || run.outputs != graph_.outputs) return nullptr;
  return steps_[0].kernel.get();
}

}  // namespace fungen
