// conv_autotune.h — FUNGEN_CUDA_IGEMM=auto (the default): per convolution, the fastest of cuDNN
// (its algorithm as lower_conv picks it, plus lower_conv's epilogue pass) and the own kernels
// (implicit GEMM conv_igemm.cuh, persistent 1x1 conv_igemm_1x1.cuh, 3x3 halo conv_tile3.cuh, a
// few CTA tiles each), measured once on the real shapes while
// the plan is built (conv_autotune.cuh) and recorded in the plan's tuning cache, so that a plan
// file replays the choice without measuring.
//
// Tuning entry: key "igemm " + the geometry (igemm_tuning_key), value algorithm 1 for the
// implicit-GEMM kernel (math_type = tile_m, workspace = tile_n), 2 for the persistent 1x1 kernel
// conv_igemm_1x1.cuh, 3 for the 3x3 halo kernel conv_tile3.cuh (same fields), or 0 for cuDNN.
// The key ends in " xld=L" / " zld=L" when the kernels read their input / residual in place from
// a Concat row of L elements, then in " tile3" when the halo kernel was a candidate (3x3 only).
// An entry of 2 or 3 read while its kernel is off, or by a build that predates it, is measured
// again. Plans written by the tile3 branch before the persistent kernel recorded tile3 as 2 under
// a " tile3" key: such an entry still replays as tile3 (a 3x3 key is never persistent).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

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
// where the output goes, whether tile3 was a candidate); `d`'s tile is not part of it.
std::string igemm_tuning_key(const IgemmDesc& d, bool bias, bool residual, bool tile3 = false);

// The igemm tiles choose_igemm_or_cudnn times for d (d's tile first), for other timings of the
// same kernels (lower_upfuse.cpp).
std::vector<std::pair<int, int>> igemm_tile_candidates(const IgemmDesc& d);

// Whether a timed candidate (ms) replaces the incumbent (ms): at least 3% faster, and for steps
// of a few microseconds (under 0.05 ms, batch 1) 15% and 2 us faster: timed alone such small
// kernels differ by less than they vary inside the graph (H100, YOLO11n batch 1: 0.636 ms with
// 3% alone vs 0.606 ms with cuDNN only; at batch 128 the choices gained 1.3 ms). Every own-kernel
// choice at plan build goes through it (igemm/persistent/tile3 vs cuDNN, upfuse, stemfuse).
inline bool candidate_wins(float candidate, float incumbent) {
  if (incumbent < 0.05f) return candidate <= 0.85f * incumbent && incumbent - candidate >= 0.002f;
  return candidate <= 0.97f * incumbent;
}

// "0.412": a timing in ms as the step labels and the autotune's log lines print it.
std::string ms_str(float ms);

enum class ConvKernel { kCudnn, kIgemm, kPersist, kTile3 };

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
// `fixed_tile`: only d's tile is tried (FUNGEN_CUDA_IGEMM_TILE).
// `persist`: which persistent 1x1 candidates are timed (d a 1x1 it supports): none, each tile
// beside the igemm ones, or only them (FUNGEN_CUDA_PERSIST, lower_conv_igemm.cpp).
// `tile3`: the 3x3 halo kernel's tiles (conv_tile3.cuh; d must pass tile3_supports) are
// candidates too, under the same margin (FUNGEN_CUDA_TILE3=auto).
enum class PersistMode { kOff, kAuto, kOnly };
Result<IgemmChoice> choose_igemm_or_cudnn(CudaRun& run, const Node& node, const IgemmDesc& d,
                                          bool bias, bool residual, bool into_slice,
                                          bool fixed_tile, PersistMode persist, bool tile3);

}  // namespace fungen::cuda
