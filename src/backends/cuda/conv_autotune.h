// conv_autotune.h — FUNGEN_CUDA_IGEMM=auto (the default): per convolution, the faster of cuDNN
// (its algorithm as lower_conv picks it, plus lower_conv's epilogue pass) and the own
// implicit-GEMM kernel (conv_igemm.cuh, a few CTA tiles), measured once on the real shapes while
// the plan is built (conv_autotune.cuh) and recorded in the plan's tuning cache, so that a plan
// file replays the choice without measuring.
//
// Tuning entry: key "igemm " + the geometry (igemm_tuning_key; + " tile3" when the 3x3 halo kernel
// conv_tile3.cuh was a candidate too), value algorithm 1 for igemm, 2 for tile3 (math_type =
// tile_m, workspace = tile_n) or 0 for cuDNN. Plans written before tile3 hold keys without the
// suffix: they replay as before with FUNGEN_CUDA_TILE3=0, and are re-timed under auto.
#pragma once

#include <cstdint>
#include <string>

#include "backends/cuda/conv_igemm.cuh"
#include "backends/cuda/cuda_run.h"

namespace fungen::cuda {

// Where lower_conv's epilogue writes the convolution: its own packed NHWC buffer, a Concat
// slice (rows of out_ld elements), or NCHW (read by Reshape / Flatten only).
enum class CudnnTimedOutput { kPacked, kSlice, kNchw };

// Median ms of lower_conv's cuDNN step for `node` (convolution + epilogue) on scratch buffers
// (lower_conv.cpp). NHWC runs only.
Result<float> time_cudnn_conv(CudaRun& run, const Node& node, CudnnTimedOutput out, int64_t out_ld);

// The tuning cache key of the choice for this problem (the geometry, SiLU, bias, residual and
// where the output goes, whether tile3 was a candidate); `d`'s tile is not part of it.
std::string igemm_tuning_key(const IgemmDesc& d, bool bias, bool residual, bool tile3 = false);

enum class ConvKernel { kCudnn, kIgemm, kTile3 };

struct IgemmChoice {
  ConvKernel kernel = ConvKernel::kCudnn;  // kCudnn: cuDNN keeps the node
  int tile_m = 0, tile_n = 0;
  std::string note;  // for the step labels: ", chosen: 0.41 vs cudnn 0.56 ms" and the like
};

// The choice for `d` (its tile: choose_igemm_tile's pick, the first candidate): from ctx.tuning
// when it holds one, else measured (every candidate tile, then cuDNN) and stored there. The
// kernel is taken only when at least 3% faster than cuDNN (15% and 2 us for convs under 0.05 ms). A
// measurement that fails without breaking the CUDA context (no memory for the scratch, a launch
// refused) leaves the node on cuDNN, unrecorded, with one warning; a sticky CUDA error is returned.
// `fixed_tile`: only d's tile is tried (FUNGEN_CUDA_IGEMM_TILE). `tile3`: the 3x3 halo kernel's
// tiles (conv_tile3.cuh; d must pass tile3_supports) are candidates too, under the same margin.
Result<IgemmChoice> choose_igemm_or_cudnn(CudaRun& run, const Node& node, const IgemmDesc& d,
                                          bool bias, bool residual, bool into_slice,
                                          bool fixed_tile, bool tile3);

}  // namespace fungen::cuda
