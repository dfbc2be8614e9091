// Zero-copy Concat/Split planning of a CpuRun (cpu_run.h): which values are produced straight
// into their slice of a Concat's output, and where those slices live.
#include <algorithm>

#include "backends/cpu/cpu_run.h"

namespace fungen::cpu {

void CpuRun::plan_concats(const NodeRun& run) {
  const size_t nv = graph_.values.size();
  placement_.assign(nv, {-1, 0});
  reserved_.assign(nv, -1);
  if (layout_ != memory::format_tag::nChw16c) return;
  const memory::data_type t = options_.bf16 ? memory::data_type::bf16 : memory::data_type::f32;
  std::vector<bool> made_inside(nv, false);
  for (size_t n = run.first; n <= run.last; ++n) {
    for (int id : graph_.nodes[n].outputs) {
      if (id >= 0) made_inside[static_cast<size_t>(id)] = true;
    }
  }
  // Consumers first, so an outer Concat places its inputs before they place theirs.
  for (size_t n = run.last + 1; n-- > run.first;) {
    const Node& node = graph_.nodes[n];
    if (node.op_type == "Concat") {
      const int y = node.outputs[0];
      const Shape& ys = shape(y);
      int64_t axis = node.attr_int("axis", 0);
      if (!blocks_are_contiguous(y) || (axis != 1 && axis != -3)) continue;
      int64_t c = 0;
      bool ok = true;
      std::vector<int> seen;
      for (int id : node.inputs) {
        if (id < 0 || c % 16 != 0 || !made_inside[static_cast<size_t>(id)] ||
            placement_[static_cast<size_t>(id)].first >= 0 ||
            std::find(seen.begin(), seen.end(), id) != seen.end()) {
          ok = false;
          break;
        }
        seen.push_back(id);
        c += shape(id)[1];
      }
      if (!ok) continue;
      c = 0;
      for (int id : node.inputs) {
        placement_[static_cast<size_t>(id)] = {y, channel_offset(ys, c, t)};
        c += shape(id)[1];
      }
    } else if (node.op_type == "Split") {
      // All parts placed one after another in one Concat: place the input there.
      const int x = node.inputs[0];
      int64_t axis = node.attr_int("axis", 0);
      if (!blocks_are_contiguous(x) || (axis != 1 && axis != -3) ||
          placement_[static_cast<size_t>(x)].first >= 0)
        continue;
      int target = -1;
      size_t base = 0;
      int64_t c = 0;
      bool ok = made_inside[static_cast<size_t>(x)];
      for (int id : node.outputs) {
        if (!ok) break;
        auto [tv, off] =
            id >= 0 ? placement_[static_cast<size_t>(id)] : std::pair<int, size_t>{-1, 0};
        if (tv < 0 || c % 16 != 0) {
          ok = false;
          break;
        }
        if (target < 0) {
          target = tv;
          base = off;
        }
        ok = tv == target && off == base + channel_offset(shape(x), c, t);
        c += shape(id)[1];
      }
      if (ok && target >= 0) placement_[static_cast<size_t>(x)] = {target, base};
    }
  }
}

std::pair<int, size_t> CpuRun::placed(int value) {
  auto [target, offset] = placement_[static_cast<size_t>(value)];
  if (target < 0) {
    // A Concat output whose inputs were placed in it: its storage, made on first use.
    int& st = reserved_[static_cast<size_t>(value)];
    bool is_target = false;
    for (const auto& p : placement_) is_target |= p.first == value;
    if (!is_target) return {-1, 0};
    if (st < 0)
      st = new_storage(blocked_desc(shape(value), options_.bf16 ? memory::data_type::bf16
                                                                : memory::data_type::f32)
                           .get_size());
    return {st, 0};
  }
  auto [st, base] = placed(target);
  return {st, base + offset};
}

}  // namespace fungen::cpu
