// lower_upfuse.h — upsampled Concats read by their 1x1 convolution (CudaRun::upfuse_of,
// lower_upfuse.cpp): the measured choice, and where the pieces lie for lower_conv_igemm.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "backends/cuda/conv_autotune.h"
#include "backends/cuda/cuda_run.h"
#include "backends/cuda/igemm_pieces.h"

namespace fungen::cuda {

struct UpfuseSources {
  int buf[kIgemmMaxPieces] = {-1, -1, -1, -1};  // the pieces' source buffers
  int64_t offset[kIgemmMaxPieces] = {};         // elements: a channel offset in a Concat row
  IgemmPieces geometry;                         // c0, ld, shift; bases null
  // The pieces at the buffers' device addresses (after the run's arena is placed).
  IgemmPieces at(const CudaRun& r) const {
    IgemmPieces ps = geometry;
    for (int i = 0; i < ps.count; ++i)
      ps.p[i].base = static_cast<const std::byte*>(r.ptr(buf[i])) + offset[i] * 2;  // fp16
    return ps;
  }
};

// FUNGEN_CUDA_UPFUSE's choice for one pattern (tuning entry "upfuse ...": algo, tile_m in
// math_type, tile_n in workspace).
inline constexpr int32_t kUpfuseMaterialized = 0, kUpfuseIgemm = 1, kUpfusePersist = 2;
struct UpfuseDecision {
  int32_t algo = kUpfuseMaterialized;
  int tile_m = 0, tile_n = 0;
  std::string note;  // for the conv's step label
};

// Measures the virtual read of `ps` (geometry only) by `conv` (desc d, its tile chosen) against
// Resize + Concat + the best kernel on the materialized input (conv_upfuse_autotune.cpp).
Result<UpfuseDecision> measure_upfuse(CudaRun& run, const Node& conv, IgemmDesc d,
                                      const IgemmPieces& ps, const CudaRun::Upfuse& u, bool bias,
                                      bool residual, bool into_slice, PersistMode pmode);

// Each piece's source as the kernels read it: in place when it lies in a Concat slice they can
// read (CudaRun::view_of: row and offset multiples of 8), else its NHWC buffer (get()).
Result<UpfuseSources> upfuse_sources(CudaRun& run, const CudaRun::Upfuse& u);

}  // namespace fungen::cuda
