// conv_dwfuse_autotune.cpp — FUNGEN_CUDA_DWFUSE's measurement (lower_dwfuse.cpp): the fused
// igemm kernel computing its input by the 3x3 depthwise conv (the tiles igemm_tile_candidates
// gives that igemm_dw_supports takes) against the depthwise step as lower_conv_direct runs it
// (row-run kernel at its run length, or the first kernel) + the best kernel on its output (cuDNN
// + its epilogue as lower_conv runs it, igemm and persistent tiles), all timed on scratch buffers
// of the real shapes (conv_autotune.cuh). Fused when 3% faster (15% and 2 us when the separate
// pair takes under 0.05 ms), the margins of conv_igemm_autotune.cpp.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "backends/cuda/conv_autotune.cuh"
#include "backends/cuda/conv_autotune.h"
#include "backends/cuda/conv_depthwise.cuh"
#include "backends/cuda/conv_direct.cuh"
#include "backends/cuda/conv_igemm.cuh"
#include "backends/cuda/conv_igemm_1x1.cuh"
#include "backends/cuda/lower_dwfuse.h"

namespace fungen::cuda {
namespace {

constexpr float kMargin = 0.97f, kSmallMs = 0.05f, kSmallMargin = 0.85f;
constexpr float kSmallMinGainMs = 0.002f;

std::string ms_str(float ms) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f", static_cast<double>(ms));
  return buf;
}

// Scratch parts: 0 the depthwise input / the 1x1's input, 1 packed weights, 2 bias, 3 residual,
// 4 output, 5 depthwise weights, 6 depthwise bias, 7 the depthwise output.
Status reserve(DeviceScratch& s, const IgemmDesc& d, bool dw_bias, bool bias, bool residual,
               cudaStream_t st) {
  const size_t m = static_cast<size_t>(d.n) * d.oh * d.ow;
  const size_t out_rows = d.out_img_ld > 0
                              ? static_cast<size_t>(d.n) * d.out_img_ld
                              : m * static_cast<size_t>(d.nchw_out ? d.cout : d.out_ld);
  return s.reserve(
      {m * static_cast<size_t>(d.cin) * 2,
       static_cast<size_t>(igemm_cout_pad(d)) * igemm_k_pad(d) * 2,
       bias ? static_cast<size_t>(d.cout) * sizeof(float) : 0, residual ? m * d.cout * 2 : 0,
       out_rows * 2, static_cast<size_t>(9 * d.cin) * sizeof(float),
       dw_bias ? static_cast<size_t>(d.cin) * sizeof(float) : 0,
       m * static_cast<size_t>(d.cin) * 2},
      st);
}

}  // namespace

Result<DwfuseDecision> measure_dwfuse(CudaRun& run, const Node& conv, const IgemmDesc& d,
                                      bool dw_bias, bool bias, bool residual, bool into_slice,
                                      PersistMode pmode) {
  count_conv_autotune_timing();
  const cudaStream_t stream = run.ctx().stream;
  DeviceScratch s;
  FUNGEN_RETURN_IF_ERROR(reserve(s, d, dw_bias, bias, residual, stream));
  const float* b = bias ? static_cast<const float*>(s.ptr(2)) : nullptr;
  IgemmDw dw;
  dw.x = s.ptr(0);
  dw.w = static_cast<const float*>(s.ptr(5));
  dw.bias = dw_bias ? static_cast<const float*>(s.ptr(6)) : nullptr;
  dw.silu = true;
  DwfuseDecision best;
  float fused = 0, sep = 0;
  bool has_sep = false;
  std::string tried;
  for (const auto& [tm, tn] : igemm_tile_candidates(d)) {
    IgemmDesc t = d;
    t.tile_m = tm;
    t.tile_n = tn;
    if (igemm_dw_supports(t)) {
      FUNGEN_ASSIGN_OR_RETURN(float ms, median_launch_ms(stream, [&](cudaStream_t st) {
                                return launch_conv_igemm_dw(t, dw, s.ptr(1), b, s.ptr(3), s.ptr(4),
                                                            st);
                              }));
      tried += std::string(tried.empty() ? "" : ", ") + std::to_string(tm) + "x" +
               std::to_string(tn) + " " + ms_str(ms);
      if (best.algo == kDwfuseSeparate || ms < fused) {
        fused = ms;
        best = {kDwfuseFused, tm, tn, ""};
      }
    }
    // The 1x1 on the depthwise output (part 7): igemm / persistent as its own timing tries.
    for (int pers = 0; pers < 2; ++pers) {
      if ((pers == 0 && pmode == PersistMode::kOnly) || (pers == 1 && pmode == PersistMode::kOff))
        continue;
      if (pers && !igemm_1x1_persist_supports(t, run.ctx().device)) continue;
      FUNGEN_ASSIGN_OR_RETURN(float ms, median_launch_ms(stream, [&](cudaStream_t st) {
                                return pers ? launch_conv_igemm_1x1_persist(
                                                  t, s.ptr(7), s.ptr(1), b, s.ptr(3), s.ptr(4), st)
                                            : launch_conv_igemm(t, s.ptr(7), s.ptr(1), b, s.ptr(3),
                                                                s.ptr(4), st);
                              }));
      sep = has_sep ? std::min(sep, ms) : ms;
      has_sep = true;
    }
  }
  if (best.algo == kDwfuseSeparate) return best;
  const CudnnTimedOutput out = d.nchw_out   ? CudnnTimedOutput::kNchw
                               : into_slice ? CudnnTimedOutput::kSlice
                                            : CudnnTimedOutput::kPacked;
  FUNGEN_ASSIGN_OR_RETURN(float cu, time_cudnn_conv(run, conv, out, d.out_ld));
  sep = has_sep ? std::min(sep, cu) : cu;
  // The depthwise step as lower_conv_direct lowers it.
  DirectConvDesc dd;
  dd.n = d.n;
  dd.cin = dd.cout = d.cin;
  dd.h = dd.oh = d.h;
  dd.w = dd.ow = d.w;
  dd.kh = dd.kw = 3;
  dd.ph = dd.pw = 1;
  dd.silu = true;
  dd.out_ld = d.cin;
  int sms = 0;
  if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, run.ctx().device) != cudaSuccess)
    return internal_error("cuda: multiprocessor count of the device");
  const int dw_run = depthwise_run_length(dd, Elem::kF16, sms, std::getenv("FUNGEN_CUDA_DW"));
  FUNGEN_ASSIGN_OR_RETURN(
      float dms, median_launch_ms(stream, [&](cudaStream_t st) {
        if (dw_run == 0 || !launch_depthwise_rows(Elem::kF16, dw_run, s.ptr(0), dw.w, dw.bias,
                                                  nullptr, s.ptr(7), dd, st))
          launch_depthwise_conv(Elem::kF16, s.ptr(0), dw.w, dw.bias, nullptr, s.ptr(7), dd, st);
        return cudaGetLastError();
      }));
  const float base = sep + dms;
  const bool take = base < kSmallMs
                        ? fused <= kSmallMargin * base && base - fused >= kSmallMinGainMs
                        : fused <= kMargin * base;
  best.note = ", chosen: " + ms_str(fused) + " vs " + ms_str(sep) + " + dw " + ms_str(dms) +
              " ms (tiles " + tried + ")";
  if (!take) {
    best.algo = kDwfuseSeparate;
    best.note = "; separate: " + ms_str(sep) + " + dw " + ms_str(dms) + " vs " + ms_str(fused) +
                " ms fused (tiles " + tried + ")";
  }
  return best;
}

}  // namespace fungen::cuda
