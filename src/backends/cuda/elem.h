// elem.h — the element types the CUDA backend keeps activations in. Kernels take void pointers
// and an Elem; arithmetic is always fp32 (fp16 is storage only).
#pragma once

#include <cstddef>
#include <cstdint>

namespace fungen::cuda {

enum class Elem { kF32, kF16 };

inline size_t elem_size(Elem e) {
  return e == Elem::kF16 ? 2 : 4;
}

// Up to this many dimensions in the strided kernels (transpose, broadcast).
inline constexpr int kMaxRank = 6;

}  // namespace fungen::cuda
