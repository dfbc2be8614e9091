#include "util/memory.h"

#include <atomic>
#include <cstdlib>

namespace fungen {
namespace {
std::atomic<size_t> g_allocations{0};
}

std::shared_ptr<void> allocate_buffer(size_t bytes) {
  ++g_allocations;
  size_t rounded = (bytes + kBufferAlignment - 1) / kBufferAlignment * kBufferAlignment;
  if (rounded == 0) rounded = kBufferAlignment;
  void* p = std::aligned_alloc(kBufferAlignment, rounded);
  if (!p) return nullptr;
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

size_t buffer_allocation_count() {
  return g_allocations.load();
}

}  // namespace fungen
