// memory_plan.h — places every intermediate tensor (and each node's scratch) in one arena, reusing
// bytes between tensors whose lifetimes do not overlap. Planned once per input shape; running
// then allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fungen {

struct BufferRequest {
  size_t bytes = 0;
  int first_step = 0;  // node index that writes it
  int last_step = 0;   // last node index that reads it (inclusive)
};

struct MemoryPlan {
  size_t arena_bytes = 0;
  std::vector<size_t> offsets;  // one per request, 64-byte aligned
};

inline constexpr size_t kArenaAlignment = 64;

// Greedy by size: largest buffers first, each at the lowest offset that does not collide with
// an already placed buffer whose lifetime overlaps.
MemoryPlan plan_memory(const std::vector<BufferRequest>& requests);

}  // namespace fungen
