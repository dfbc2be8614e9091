// FUNGEN_CUDA_IGEMM=auto: the fastest of cuDNN, the implicit-GEMM kernel, (1x1 convolutions,
// FUNGEN_CUDA_PERSIST) the persistent kernel and (3x3 convolutions, FUNGEN_CUDA_TILE3=auto) the
// halo kernel per convolution, measured once per problem and recorded in the plan's tuning cache
// (conv_autotune.h).
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "backends/cuda/conv_autotune.cuh"
#include "backends/cuda/conv_autotune.h"
#include "backends/cuda/conv_igemm_1x1.cuh"
#include "backends/cuda/conv_tile3.cuh"
#include "backends/cuda/cuda_check.h"
#include "fungen/log.h"

namespace fungen::cuda {
namespace {

constexpr int32_t kChoseCudnn = 0, kChoseIgemm = 1, kChosePersist = 2, kChoseTile3 = 3;
// The tile3 branch's plans, written before the persistent kernel took 2: tile3 on " tile3" keys.
constexpr int32_t kChoseTile3Before = 2;

// Elements of the output the kernels write for d (m pixels): NCHW, NHWC rows of out_ld, or
// images out_img_ld apart (the anchor-major head input).
size_t out_elems_of(const IgemmDesc& d, size_t m) {
  if (d.nchw_out) return m * static_cast<size_t>(d.cout);
  if (d.out_img_ld > 0) return static_cast<size_t>(d.n) * static_cast<size_t>(d.out_img_ld);
  return m * static_cast<size_t>(d.out_ld);
}

bool valid_tile(IgemmDesc d, int tm, int tn) {
  d.tile_m = tm;
  d.tile_n = tn;
  return igemm_tile_fits(d);
}

// d's tile (choose_igemm_tile), the other tile_m, and, when C_out is not a multiple of tile_n
// (80 on a 128-wide tile wastes 3/8 of it), the widest smaller tile_n that divides C_out
// (80 -> 80, 96 -> 96, 48 -> 48, 144 -> 48, 24 -> none).
std::vector<std::pair<int, int>> tile_candidates(const IgemmDesc& d) {
  std::vector<std::pair<int, int>> c = {{d.tile_m, d.tile_n}};
  c.emplace_back(d.tile_m == 128 ? 64 : 128, d.tile_n);
  if (d.cout % d.tile_n != 0) {
    for (int tn : {96, 80, 64, 48, 32, 16}) {
      if (tn < d.tile_n && d.cout % tn == 0) {
        c.emplace_back(d.tile_m, tn);
        break;
      }
    }
  }
  return c;
}

// Whether the persistent 1x1 kernel takes d with tile (tm, tn) on the run's device.
bool persist_fits(CudaRun& run, IgemmDesc d, int tm, int tn) {
  d.tile_m = tm;
  d.tile_n = tn;
  return igemm_1x1_persist_supports(d, run.ctx().device);
}

// Median ms of the kernel (persist: the persistent 1x1 one) with tile (tm, tn) on scratch
// buffers of d's shapes.
Result<float> time_igemm(CudaRun& run, IgemmDesc d, int tm, int tn, bool bias, bool residual,
                         bool persist) {
  d.tile_m = tm;
  d.tile_n = tn;
  const size_t m = static_cast<size_t>(d.n) * d.oh * d.ow;
  const size_t out_elems = out_elems_of(d, m);
  DeviceScratch s;
  FUNGEN_RETURN_IF_ERROR(s.reserve({static_cast<size_t>(d.n) * d.h * d.w * igemm_x_ld(d) * 2,
                                    static_cast<size_t>(igemm_cout_pad(d)) * igemm_k_pad(d) * 2,
                                    bias ? static_cast<size_t>(d.cout) * sizeof(float) : 0,
                                    residual ? m * igemm_z_ld(d) * 2 : 0, out_elems * 2},
                                   run.ctx().stream));
  const float* b = bias ? static_cast<const float*>(s.ptr(2)) : nullptr;
  return median_launch_ms(run.ctx().stream, [&](cudaStream_t st) {
    return persist ? launch_conv_igemm_1x1_persist(d, s.ptr(0), s.ptr(1), b, s.ptr(3), s.ptr(4), st)
                   : launch_conv_igemm(d, s.ptr(0), s.ptr(1), b, s.ptr(3), s.ptr(4), st);
  });
}

bool valid_tile3(IgemmDesc d, int tm, int tn) {
  d.tile_m = tm;
  d.tile_n = tn;
  return tile3_tile_fits(d);
}

// tile3: choose_tile3_tile's tile, the other tile_m, and a narrower tile_n: the widest smaller
// one dividing C_out when tile_n does not (48 -> 16 beside 64), else 32 beside 64 (half the
// weights per stage: more CTAs per SM for the compute-bound 64+ channel convs).
std::vector<std::pair<int, int>> tile3_candidates(IgemmDesc d, int sms) {
  choose_tile3_tile(d, sms);
  std::vector<std::pair<int, int>> c = {{d.tile_m, d.tile_n},
                                        {d.tile_m == 128 ? 64 : 128, d.tile_n}};
  if (d.cout % d.tile_n != 0) {
    for (int tn : {32, 16}) {
      if (tn < d.tile_n && d.cout % tn == 0) {
        c.emplace_back(d.tile_m, tn);
        break;
      }
    }
  } else if (d.tile_n == 64) {
    c.emplace_back(d.tile_m, 32);
  }
  return c;
}

// Median ms of the halo kernel with tile (tm, tn) on scratch buffers of d's shapes (strided
// input / residual as d says, like time_igemm).
Result<float> time_tile3(CudaRun& run, IgemmDesc d, int tm, int tn, bool bias, bool residual) {
  d.tile_m = tm;
  d.tile_n = tn;
  const size_t m = static_cast<size_t>(d.n) * d.oh * d.ow;
  const size_t out_elems = out_elems_of(d, m);
  DeviceScratch s;
  FUNGEN_RETURN_IF_ERROR(
      s.reserve({static_cast<size_t>(d.n) * d.h * d.w * igemm_x_ld(d) * 2,
                 tile3_weight_elems(d) * 2, bias ? static_cast<size_t>(d.cout) * sizeof(float) : 0,
                 residual ? m * igemm_z_ld(d) * 2 : 0, out_elems * 2},
                run.ctx().stream));
  const float* b = bias ? static_cast<const float*>(s.ptr(2)) : nullptr;
  return median_launch_ms(run.ctx().stream, [&](cudaStream_t st) {
    return launch_conv_tile3(d, s.ptr(0), s.ptr(1), b, s.ptr(3), s.ptr(4), st);
  });
}

}  // namespace

std::vector<std::pair<int, int>> igemm_tile_candidates(const IgemmDesc& d) {
  return tile_candidates(d);
}

std::string igemm_tuning_key(const IgemmDesc& d, bool bias, bool residual, bool tile3) {
  auto str = [](int64_t v) { return std::to_string(v); };
  return "igemm x=" + str(d.n) + "," + str(d.cin) + "," + str(d.h) + "," + str(d.w) +
         " y=" + str(d.cout) + "," + str(d.oh) + "," + str(d.ow) + " k=" + str(d.kh) + "," +
         str(d.kw) + " str=" + str(d.sh) + "," + str(d.sw) + " pad=" + str(d.ph) + "," + str(d.pw) +
         (d.silu ? " silu" : "") + (bias ? " bias" : "") + (residual ? " residual" : "") +
         (d.nchw_out ? std::string(" nchw") : " ld=" + str(d.out_ld)) +
         (d.out_img_ld > 0 ? " imgld=" + str(d.out_img_ld) : "") +
         (d.x_ld > 0 ? " xld=" + str(d.x_ld) : "") + (d.z_ld > 0 ? " zld=" + str(d.z_ld) : "") +
         (tile3 ? " tile3" : "");
}

Result<IgemmChoice> choose_igemm_or_cudnn(CudaRun& run, const Node& node, const IgemmDesc& d,
                                          bool bias, bool residual, bool into_slice,
                                          bool fixed_tile, PersistMode persist, bool tile3) {
  const std::string key = igemm_tuning_key(d, bias, residual, tile3);
  TuningCache* cache = run.ctx().tuning;
  IgemmChoice choice;
  if (cache) {
    if (auto hit = cache->find(key)) {
      const int tm = hit->math_type, tn = static_cast<int>(hit->workspace);
      if (hit->algorithm == kChoseCudnn) {
        choice.note = ", cudnn chosen (plan)";
        return choice;
      }
      if (hit->algorithm == kChoseIgemm && valid_tile(d, tm, tn)) {
        choice = {ConvKernel::kIgemm, tm, tn, ", chosen (plan)"};
        return choice;
      }
      if (hit->algorithm == kChosePersist && !tile3 && persist != PersistMode::kOff &&
          persist_fits(run, d, tm, tn)) {
        choice = {ConvKernel::kPersist, tm, tn, ", persistent chosen (plan)"};
        return choice;
      }
      if (tile3 && (hit->algorithm == kChoseTile3 || hit->algorithm == kChoseTile3Before) &&
          valid_tile3(d, tm, tn)) {
        choice = {ConvKernel::kTile3, tm, tn, ", chosen (plan)"};
        return choice;
      }
    }
  }
  count_conv_autotune_timing();
  // Candidates first, cuDNN last: a scratch shortage then shows before cuDNN's larger one.
  float best = 0;
  int best_m = 0, best_n = 0;
  std::string tried;
  const auto tiles =
      fixed_tile ? std::vector<std::pair<int, int>>{{d.tile_m, d.tile_n}} : tile_candidates(d);
  // A timing that failed without breaking the context (no memory for the scratch, a launch
  // refused) leaves the node on cuDNN, unrecorded; a sticky CUDA error is returned.
  auto fallback = [&](const Status& s, const std::string& what) -> Result<IgemmChoice> {
    cudaGetLastError();
    CUDA_CHECK(cudaStreamSynchronize(run.ctx().stream));
    log(LogLevel::kWarn, "cuda: {}: {} not timed ({}); cuDNN keeps it", node.name, what,
        s.message());
    IgemmChoice c;
    c.note = ", cudnn (" + what + " not timed)";
    return c;
  };
  bool best_persist = false;
  // Persistent 1x1 candidates: each tile it takes, after (kAuto) or instead of (kOnly) igemm's.
  std::vector<std::pair<int, int>> persist_tiles;
  if (persist != PersistMode::kOff) {
    for (const auto& [tm, tn] : tiles) {
      if (persist_fits(run, d, tm, tn)) persist_tiles.emplace_back(tm, tn);
    }
  }
  const bool igemm_too = persist != PersistMode::kOnly || persist_tiles.empty();
  for (int pass = igemm_too ? 0 : 1; pass < 2; ++pass) {
    const bool pers = pass == 1;
    for (const auto& [tm, tn] : pers ? persist_tiles : tiles) {
      std::string name = pers ? "p" : "";  // appended piecewise: GCC 12's -Wrestrict misfires
      name += std::to_string(tm) + "x" + std::to_string(tn);
      Result<float> ms = time_igemm(run, d, tm, tn, bias, residual, pers);
      if (!ms.ok()) return fallback(ms.status(), "igemm tile " + name);
      tried += (tried.empty() ? "" : ", ") + name + " " + ms_str(ms.value());
      if (best_m == 0 || ms.value() < best) {
        best = ms.value();
        best_m = tm;
        best_n = tn;
        best_persist = pers;
      }
    }
  }
  float best3 = 0;
  int best3_m = 0, best3_n = 0;
  std::string tried3;
  if (tile3) {
    int sms = 0;
    CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, run.ctx().device));
    for (const auto& [tm, tn] : tile3_candidates(d, sms)) {
      Result<float> ms = time_tile3(run, d, tm, tn, bias, residual);
      if (!ms.ok()) {
        return fallback(ms.status(), "tile3 tile " + std::to_string(tm) + "x" + std::to_string(tn));
      }
      tried3 += (tried3.empty() ? "" : ", ") + std::to_string(tm) + "x" + std::to_string(tn) + " " +
                ms_str(ms.value());
      if (best3_m == 0 || ms.value() < best3) {
        best3 = ms.value();
        best3_m = tm;
        best3_n = tn;
      }
    }
  }
  const CudnnTimedOutput out = d.nchw_out   ? CudnnTimedOutput::kNchw
                               : into_slice ? CudnnTimedOutput::kSlice
                                            : CudnnTimedOutput::kPacked;
  // Like with like: an input or residual igemm reads in place costs cuDNN the packed copy.
  Result<float> cudnn_ms = time_cudnn_conv(run, node, out, d.out_ld, d.x_ld, d.z_ld);
  if (!cudnn_ms.ok()) return fallback(cudnn_ms.status(), "cudnn");
  const float cu = cudnn_ms.value();
  // The fastest own kernel, then the margin against cuDNN.
  const bool t3 = best3_m != 0 && (best_m == 0 || best3 < best);
  const float own = t3 ? best3 : best;
  const bool take = candidate_wins(own, cu);
  const std::string kname = t3 ? "tile3" : best_persist ? "igemm persistent" : "igemm";
  if (take) {
    choice.kernel = t3             ? ConvKernel::kTile3
                    : best_persist ? ConvKernel::kPersist
                                   : ConvKernel::kIgemm;
    choice.tile_m = t3 ? best3_m : best_m;
    choice.tile_n = t3 ? best3_n : best_n;
    choice.note = std::string(choice.kernel == ConvKernel::kPersist ? ", persistent" : "") +
                  ", chosen: " + ms_str(own) + " vs cudnn " + ms_str(cu) + " ms";
  } else {
    choice.note = "; cudnn chosen: " + ms_str(cu) + " vs " + kname + " " + ms_str(own) + " ms";
  }
  if (tiles.size() + persist_tiles.size() > 1 || tile3) choice.note += " (tiles " + tried + ")";
  if (tile3) choice.note += " (tile3 " + tried3 + ")";
  // "-> igemm, persistent, chosen: ..." for the persistent kernel (as bench/gpu/fungen.d/c1.sh
  // greps).
  log(LogLevel::kInfo, "cuda autotune: {} -> {}{}", node.name,
      !take ? "cudnn"
      : t3  ? "tile3"
            : "igemm",
      choice.note);
  if (cache) {
    const int32_t algo = choice.kernel == ConvKernel::kTile3     ? kChoseTile3
                         : choice.kernel == ConvKernel::kPersist ? kChosePersist
                         : choice.kernel == ConvKernel::kIgemm   ? kChoseIgemm
                                                                 : kChoseCudnn;
    cache->store(key, {.algorithm = algo,
                       .math_type = choice.tile_m,
                       .workspace = static_cast<uint64_t>(choice.tile_n)});
  }
  return choice;
}

std::string ms_str(float ms) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f", static_cast<double>(ms));
  return buf;
}

}  // namespace fungen::cuda
