// lower_dwfuse.h — 3x3 depthwise convolutions computed by the 1x1 convolution reading them
// (CudaRun::dwfuse_of, lower_dwfuse.cpp): the measured choice, and the depthwise conv's buffers
// for lower_conv_igemm.cpp.
#pragma once

#include <cstdint>
#include <string>

#include "backends/cuda/conv_autotune.h"
#include "backends/cuda/conv_igemm.cuh"
#include "backends/cuda/cuda_run.h"

namespace fungen::cuda {

// FUNGEN_CUDA_DWFUSE's choice for one pattern (tuning entry "dwfuse ...": algo, tile_m in
// math_type, tile_n in workspace).
inline constexpr int32_t kDwfuseSeparate = 0, kDwfuseFused = 1;
struct DwfuseDecision {
  int32_t algo = kDwfuseSeparate;
  int tile_m = 0, tile_n = 0;
  std::string note;  // for the conv's step label
};

// Times the fused igemm kernel (the tiles igemm_tile_candidates gives that igemm_dw_supports
// takes) against the depthwise step as lower_conv_direct runs it + the best of cuDNN, igemm and
// the persistent 1x1 kernel on its output, on scratch buffers (conv_dwfuse_autotune.cpp).
Result<DwfuseDecision> measure_dwfuse(CudaRun& run, const Node& conv, const IgemmDesc& d,
                                      bool dw_bias, bool bias, bool residual, bool into_slice,
                                      PersistMode pmode);

// The depthwise conv's input (NHWC, dense), weights [ky][kx][C] and bias as the fused kernel
// reads them: buffers of the run (bias -1 when absent).
struct DwfuseSources {
  int x = -1, w = -1, bias = -1;
  bool silu = false;
  IgemmDw at(const CudaRun& r) const {
    IgemmDw dw;
    dw.x = r.ptr(x);
    dw.w = static_cast<const float*>(r.ptr(w));
    dw.bias = bias >= 0 ? static_cast<const float*>(r.ptr(bias)) : nullptr;
    dw.silu = silu;
    return dw;
  }
};
Result<DwfuseSources> dwfuse_sources(CudaRun& run, const CudaRun::Dwfuse& f);

}  // namespace fungen::cuda
