#include "graph/memory_plan.h"

#include <algorithm>
#include <numeric>

namespace fungen {

MemoryPlan plan_memory(const std::vector<BufferRequest>& requests) {
  auto align = [](size_t n) {
    return (n + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
  };
  std::vector<size_t> order(requests.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return requests[a].bytes > requests[b].bytes; });

  MemoryPlan plan;
  plan.offsets.assign(requests.size(), 0);
  struct Placed {
    size_t offset, end;
    int first, last;
  };
  std::vector<Placed> placed;
  std::vector<Placed> conflicts;
  for (size_t r : order) {
    const BufferRequest& req = requests[r];
    size_t size = align(std::max<size_t>(req.bytes, 1));
    conflicts.clear();
    for (const Placed& p : placed) {
      if (p.first <= req.last_step && req.first_step <= p.last) conflicts.push_back(p);
    }
    std::sort(conflicts.begin(), conflicts.end(),
              [](const Placed& a, const Placed& b) { return a.offset < b.offset; });
    size_t offset = 0;
    for (const Placed& p : conflicts) {
      if (offset + size <= p.offset) break;
      offset = std::max(offset, p.end);
    }
    plan.offsets[r] = offset;
    placed.push_back({offset, offset + size, req.first_step, req.last_step});
    plan.arena_bytes = std::max(plan.arena_bytes, offset + size);
  }
  return plan;
}

}  // namespace fungen
