// backend.h — the narrow interface a compute backend implements. The planner gives each node to
// the first backend (in the engine's order) whose supports() says yes; the reference backend
// takes everything, so it comes last.
#pragma once

#include <memory>
#include <string_view>

#include "fungen/status.h"
#include "graph/graph.h"
#include "ops/op.h"

namespace fungen {

// One prepared node: created once per plan, run once per inference.
class NodeKernel {
 public:
  virtual ~NodeKernel() = default;
  virtual Status run(KernelContext& ctx) = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  // Can this backend run `node` with the shapes/dtypes the specialized graph gives it?
  virtual bool supports(const Node& node, const Graph& graph) const = 0;
  // Prepares the node (primitive creation, weight packing); called once per plan.
  virtual Result<std::unique_ptr<NodeKernel>> prepare(const Node& node, const Graph& graph) = 0;
};

// The plain reference kernels of ops/op_list.h: the ground truth, supports every op.
std::unique_ptr<Backend> make_reference_backend();

}  // namespace fungen
