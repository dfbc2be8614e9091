// lower_upfuse.h — where the pieces of an upsampled Concat read by its 1x1 convolution lie
// (CudaRun::upfuse_of, lower_upfuse.cpp), for lower_conv_igemm.cpp.
#pragma once

#include <cstddef>
#include <cstdint>

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

// Each piece's source as the kernels read it: in place when it lies in a Concat slice they can
// read (CudaRun::view_of: row and offset multiples of 8), else its NHWC buffer (get()).
Result<UpfuseSources> upfuse_sources(CudaRun& run, const CudaRun::Upfuse& u);

}  // namespace fungen::cuda
