// memory.h — every large buffer fungen allocates (tensors, arenas) goes through here, so tests
// can prove that a planned inference allocates nothing.
#pragma once

#include <cstddef>
#include <memory>

namespace fungen {

inline constexpr size_t kBufferAlignment = 64;

// 64-byte aligned, freed when the last shared_ptr goes; nullptr on failure (never throws).
std::shared_ptr<void> allocate_buffer(size_t bytes);

// Number of allocate_buffer() calls since the process started.
size_t buffer_allocation_count();

}  // namespace fungen
