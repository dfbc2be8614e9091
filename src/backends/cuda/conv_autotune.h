// conv_autotune.h — FUNGEN_CUDA_IGEMM=auto (the default): per convolution, the faster of cuDNN
// (its algorithm as lower_conv picks it, plus lower_conv's epilogue pass) and the own
// implicit-GEMM kernel (conv_igemm.cuh, a few CTA tiles), measured once on the real shapes while
// the plan is built (conv_autotune.cuh) and recorded in the plan's tuning cache, so that a plan
// file replays the choice without measuring.
//
// Tuning entry: key "igemm " + the geometry (igemm_tuning_key), value algorithm 1 for the
// kernel (math_type = tile_m, workspace = tile_n), 2 for the persistent 1x1 kernel (same
// fields), or 0 for cuDNN. An entry of 2 read while the persistent kernel is off, or by a build
// that predates it, is measured again. The key ends in " xld=L" /
// " zld=L" when the kernel reads its input / residual in place from a Concat row of L elements.
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
// (lower_conv.cpp). NHWC runs only. x_ld / z_ld > 0: the input / residual lies in a Concat slice
// with that row (a Split piece), so cuDNN's path also pays the packed copy of it (timed with it).
Result<float> time_cudnn_conv(CudaRun& run, const Node& node, CudnnTimedOutput out, int64_t out_ld,
                              int64_t x_ld = 0, int64_t z_ld = 0);

// The tuning cache key of the choice for this problem (the geometry, SiLU, bias, residual and
// where the output goes); `d`'s tile is not part of it.
std::string igemm_tuning_key(const IgemmDesc& d, bool bias, bool residual);

struct IgemmChoice {
  bool igemm = false;    // false: cuDNN keeps the node
  bool persist = false;  // igemm: the persistent 1x1 kernel (conv_igemm_1x1.cuh)
  int tile_m = 0, tile_n = 0;
  std::string note;  // for the step labels: ", chosen: 0.41 vs cudnn 0.56 ms" and the like
};

// The choice for `d` (its tile: choose_igemm_tile's pick, the first candidate): from ctx.tuning
// when it holds one, else measured (every candidate tile, then cuDNN) and stored there. The
// kernel is taken only when at least 3% faster than cuDNN (15% and 2 us for convs under 0.05 ms). A
// measurement that fails without breaking the CUDA context (no memory for the scratch, a launch
// refused) leaves the node on cuDNN, unrecorded, with one warning; a sticky CUDA error is returned.
// `fixed_tile`: only d's tile is tried (FUNGEN_CUDA_IGEMM_TILE).
// `persist`: which persistent 1x1 candidates are timed (d a 1x1 it supports): none, each tile
// beside the igemm ones, or only them (FUNGEN_CUDA_PERSIST, lower_conv_igemm.cpp).
enum class PersistMode { kOff, kAuto, kOnly };
Result<IgemmChoice> choose_igemm_or_cudnn(CudaRun& run, const Node& node, const IgemmDesc& d,
                                          bool bias, bool residual, bool into_slice,
                                          bool fixed_tile, PersistMode persist);

}  // namespace fungen::cuda
