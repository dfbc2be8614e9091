// conv_upfuse_autotune.cpp — FUNGEN_CUDA_UPFUSE's measurement (lower_upfuse.cpp): the best
// virtual read of an upsampled Concat's pieces by its 1x1 convolution (igemm and persistent 1x1
// kernels, the tiles choose_igemm_or_cudnn tries with a power-of-two tile_n) against the best
// kernel on the materialized Concat (cuDNN + its epilogue as lower_conv runs it, igemm and
// persistent tiles) plus each Resize into its slice, all timed on scratch buffers of the real
// shapes (conv_autotune.cuh). The virtual read is taken when 3% faster (15% and 2 us when the
// materialized path takes under 0.05 ms), the margins of conv_igemm_autotune.cpp.
#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <string>

#include "backends/cuda/conv_autotune.cuh"
#include "backends/cuda/conv_autotune.h"
#include "backends/cuda/conv_igemm.cuh"
#include "backends/cuda/conv_igemm_1x1.cuh"
#include "backends/cuda/lower_upfuse.h"
#include "backends/cuda/pool_resize.cuh"

namespace fungen::cuda {
namespace {

// Median ms of the kernel (persistent or igemm, tile tm x tn) reading `ps` (pieces non-null) or
// the materialized input, on scratch buffers of d's shapes.
Result<float> time_kernel(CudaRun& run, IgemmDesc d, const IgemmPieces* ps, int tm, int tn,
                          bool bias, bool residual, bool persist) {
  d.tile_m = tm;
  d.tile_n = tn;
  const size_t m = static_cast<size_t>(d.n) * d.oh * d.ow;
  size_t piece_bytes[kIgemmMaxPieces] = {};
  for (int i = 0; ps && i < ps->count; ++i)
    piece_bytes[i] = (m >> (2 * ps->p[i].shift)) * static_cast<size_t>(ps->p[i].ld) * 2;
  DeviceScratch s;
  FUNGEN_RETURN_IF_ERROR(s.reserve(
      {ps ? 0 : m * static_cast<size_t>(d.cin) * 2,
       static_cast<size_t>(igemm_cout_pad(d)) * igemm_k_pad(d) * 2,
       bias ? static_cast<size_t>(d.cout) * sizeof(float) : 0, residual ? m * d.cout * 2 : 0,
       m * static_cast<size_t>(d.nchw_out ? d.cout : d.out_ld) * 2, piece_bytes[0], piece_bytes[1],
       piece_bytes[2], piece_bytes[3]},
      run.ctx().stream));
  IgemmPieces at;
  if (ps) {
    at = *ps;
    for (int i = 0; i < at.count; ++i) at.p[i].base = s.ptr(5 + static_cast<size_t>(i));
  }
  const float* b = bias ? static_cast<const float*>(s.ptr(2)) : nullptr;
  return median_launch_ms(run.ctx().stream, [&](cudaStream_t st) {
    if (persist)
      return launch_conv_igemm_1x1_persist(d, s.ptr(0), s.ptr(1), b, s.ptr(3), s.ptr(4), st, 0,
                                           ps ? &at : nullptr);
    return ps ? launch_conv_igemm_pieces(d, at, s.ptr(1), b, s.ptr(3), s.ptr(4), st)
              : launch_conv_igemm(d, s.ptr(0), s.ptr(1), b, s.ptr(3), s.ptr(4), st);
  });
}

// Median ms of the Resize of an upsampled piece into its slice of the materialized Concat.
Result<float> time_resize(CudaRun& run, const IgemmDesc& d, const CudaRun::UpfusePiece& pc) {
  const Image4d in{d.n, pc.channels, d.h / 2, d.w / 2}, out{d.n, pc.channels, d.h, d.w};
  const size_t m = static_cast<size_t>(d.n) * d.h * d.w;
  DeviceScratch s;
  FUNGEN_RETURN_IF_ERROR(s.reserve({m / 4 * pc.channels * 2, m * d.cin * 2}, run.ctx().stream));
  return median_launch_ms(run.ctx().stream, [&](cudaStream_t st) {
    launch_resize_nearest(Elem::kF16, s.ptr(0), static_cast<std::byte*>(s.ptr(1)) + pc.c0 * 2, in,
                          out, true, st, d.cin);
    return cudaGetLastError();
  });
}

// Virtual read vs Resize + Concat + the best kernel on the materialized input (see the top).
}  // namespace

Result<UpfuseDecision> measure_upfuse(CudaRun& run, const Node& conv, IgemmDesc d,
                                      const IgemmPieces& ps, const CudaRun::Upfuse& u, bool bias,
                                      bool residual, bool into_slice, PersistMode pmode) {
  count_conv_autotune_timing();
  UpfuseDecision best;
  float virt = 0, mat = 0;
  bool has_mat = false;
  std::string tried;
  IgemmDesc dm = d;  // the materialized input: every tile the conv's own timing tries
  for (const auto& [tm, tn] : igemm_tile_candidates(d)) {
    for (int pers = 0; pers < 2; ++pers) {
      if (pers == 0 && pmode == PersistMode::kOnly) continue;  // as lower_conv_igemm's timing
      if (pers == 1 && pmode == PersistMode::kOff) continue;
      IgemmDesc t = d;
      t.tile_m = tm;
      t.tile_n = tn;
      if (pers && !igemm_1x1_persist_supports(t, run.ctx().device)) continue;
      if (igemm_pieces_supports(t, ps)) {
        FUNGEN_ASSIGN_OR_RETURN(float ms, time_kernel(run, d, &ps, tm, tn, bias, residual, pers));
        tried += std::string(tried.empty() ? "" : ", ") + (pers ? "p" : "") + std::to_string(tm) +
                 "x" + std::to_string(tn) + " " + ms_str(ms);
        if (best.algo == kUpfuseMaterialized || ms < virt) {
          virt = ms;
          best = {pers ? kUpfusePersist : kUpfuseIgemm, tm, tn, ""};
        }
      }
      FUNGEN_ASSIGN_OR_RETURN(float ms,
                              time_kernel(run, dm, nullptr, tm, tn, bias, residual, pers));
      mat = has_mat ? std::min(mat, ms) : ms;
      has_mat = true;
    }
  }
  if (best.algo == kUpfuseMaterialized) return best;
  const CudnnTimedOutput out = d.nchw_out   ? CudnnTimedOutput::kNchw
                               : into_slice ? CudnnTimedOutput::kSlice
                                            : CudnnTimedOutput::kPacked;
  FUNGEN_ASSIGN_OR_RETURN(float cu, time_cudnn_conv(run, conv, out, d.out_ld));
  mat = has_mat ? std::min(mat, cu) : cu;
  float resize = 0;
  for (const CudaRun::UpfusePiece& pc : u.pieces) {
    if (pc.shift == 0) continue;
    FUNGEN_ASSIGN_OR_RETURN(float ms, time_resize(run, d, pc));
    resize += ms;
  }
  const float base = mat + resize;
  const bool take = candidate_wins(virt, base);
  best.note = ", chosen: " + ms_str(virt) + " vs " + ms_str(mat) + " + resize " + ms_str(resize) +
              " ms (tiles " + tried + ")";
  if (!take) {
    best.algo = kUpfuseMaterialized;
    best.note = "; materialized: " + ms_str(mat) + " + resize " + ms_str(resize) + " vs " +
                ms_str(virt) + " ms reading the pieces (tiles " + tried + ")";
  }
  return best;
}

}  // namespace fungen::cuda
