// Batch handling of a CpuRun (cpu_run.h): can the run go image by image?
#include <optional>
#include <string>
#include <vector>

#include "backends/cpu/cpu_run.h"

namespace fungen::cpu {
namespace {

// The axes a constant `axes` operand (or attribute) names, or nullopt when it is absent/unknown.
std::optional<std::vector<int64_t>> axes_of(const Graph& g, const Node& node, size_t input) {
  if (node.has_attr("axes")) return node.attr_ints("axes");
  if (node.inputs.size() <= input || node.inputs[input] < 0) return std::nullopt;
  const Value& v = g.values[static_cast<size_t>(node.inputs[input])];
  if (!v.is_constant() || v.constant->dtype() != DType::kInt64) return std::nullopt;
  const int64_t* p = v.constant->data<int64_t>();
  return std::vector<int64_t>(p, p + v.constant->numel());
}

}  // namespace

// All values carry the batch in dim 0 and no op works across dim 0.
bool images_independent(const Graph& g, const NodeRun& run, int64_t batch) {
  auto axis_ok = [](int64_t axis, size_t rank) {
    return axis != 0 && axis != -static_cast<int64_t>(rank);
  };
  for (size_t n = run.first; n <= run.last; ++n) {
    const Node& node = g.nodes[n];
    const std::string& op = node.op_type;
    // Ops that change the rank keep dim 0 (the batch) on both sides; the others broadcast, and
    // an operand of lower rank would have its leading dim taken for the batch (a[2,2,6] * b[2,6]).
    const bool reshapes = op == "Reshape" || op == "Flatten" || op == "Squeeze" ||
                          op == "Unsqueeze" || op == "ReduceSum" || op == "ReduceMax";
    size_t rank = 0;
    for (int id : node.outputs) {
      if (id < 0) continue;
      const Value& v = g.values[static_cast<size_t>(id)];
      if (v.shape.empty() || v.shape[0] != batch) return false;
      rank = v.shape.size();
    }
    for (int id : node.inputs) {
      if (id < 0) continue;
      const Value& v = g.values[static_cast<size_t>(id)];
      if (v.is_constant()) {
        // A constant operand must broadcast over the batch.
        if (v.shape.size() >= rank && !v.shape.empty() && v.shape[0] != 1 && op != "Reshape" &&
            op != "Slice" && op != "Resize" && op != "Split" && op != "Conv" && op != "FusedConv" &&
            op != "ReduceSum" && op != "ReduceMax") {
          return false;
        }
        continue;
      }
      if (v.shape.empty() || v.shape[0] != batch) return false;
      if (!reshapes && v.shape.size() != rank) return false;
    }
    if (op == "Concat" || op == "Split" || op == "Flatten") {
      if (!axis_ok(node.attr_int("axis", op == "Flatten" ? 1 : 0), rank)) return false;
    } else if (op == "Softmax") {
      if (!axis_ok(node.attr_int("axis", g.opset >= 13 ? -1 : 1), rank)) return false;
    } else if (op == "Resize") {
      // `sizes` name the whole batch, which a plain kernel on one image would not match.
      if (node.inputs.size() > 3 && node.inputs[3] >= 0) return false;
    } else if (op == "MatMul") {
      // Dim 0 of the second operand is a batch dim only from rank 3 on (of rank 2 it is K).
      const int b = node.inputs[1];
      if (b >= 0 && !g.values[static_cast<size_t>(b)].is_constant() &&
          g.values[static_cast<size_t>(b)].shape.size() < 3) {
        return false;
      }
    } else if (op == "Transpose") {
      auto perm = node.attr_ints("perm");
      if (perm.empty() || perm[0] != 0) return false;
    } else if (op == "Slice" || op == "ReduceSum" || op == "ReduceMax") {
      // Axes (an input from Slice-10 / ReduceSum-13 / ReduceMax-18, else an attribute) must be
      // known and leave dim 0 alone; none means all of them.
      const Value& x = g.values[static_cast<size_t>(node.inputs[0])];
      auto axes = axes_of(g, node, op == "Slice" ? 3 : 1);
      if (!axes || axes->empty()) return false;
      for (int64_t a : *axes) {
        if (!axis_ok(a, x.shape.size())) return false;
      }
    } else if (op == "Squeeze" || op == "Unsqueeze") {
      // dim 0 kept on both sides is checked above (batch > 1 cannot be squeezed; an unsqueezed
      // leading 1 is not the batch).
    }
  }
  return true;
}

}  // namespace fungen::cpu
