// Ops that run on plain tensors inside a run: reshaping ops as views of their input's bytes
// (no step at all), everything else through its reference kernel (glue whose cost does not show,
// e.g. Transpose/Softmax of the detect head).
#include "backends/cpu/cpu_run.h"

namespace fungen::cpu {

Status lower_view(CpuRun& run, const Node& node) {
  const int x = node.inputs[0], y = node.outputs[0];
  int xb = run.get_plain(x);
  run.define_alias(y, xb, run.plain_desc(y));
  return Status();
}

Status lower_plain(CpuRun& run, const Node& node) {
  std::vector<int> in, out;
  for (int id : node.inputs) in.push_back(id >= 0 && !run.is_constant(id) ? run.get_plain(id) : -1);
  for (int id : node.outputs) out.push_back(id >= 0 ? run.define(id, run.plain_desc(id)) : -1);
  run.add_plain(node, std::move(in), std::move(out));
  return Status();
}

}  // namespace fungen::cpu
