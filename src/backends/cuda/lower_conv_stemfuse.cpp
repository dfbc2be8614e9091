// The stem fused into the convolution that reads it (conv_stemfuse.cuh), fp16 NHWC runs: when
// the stem A takes the band kernel (lower_conv_direct.cpp) and its output's only reader is a
// Conv B (3x3 stride 2 pads 1, C_in = A's C_out, bias / SiLU, no residual) that tile3 takes,
// both become one step and B is absorbed. A's output never exists; B's goes where igemm would put
// it (packed NHWC, its Concat slice, the dual store).
// Two fused variants: "exact" (the stem with the band kernel's fp32 FMAs: bit for bit the unfused
// pair) and "mma" (the stem as an implicit GEMM on tensor cores, fp16 operands: close to it).
// FUNGEN_CUDA_STEMFUSE: unset / "auto" timed when the plan is built (both variants' tiles
// against the band kernel + tile3 with choose_tile3_tile's tile, the fastest fused one taken when
// 3% faster) and recorded in the tuning cache under "stemfuse " + the geometry (algorithm 1
// exact, 2 mma, math_type / workspace its tile, 0 not fused); "1" or "exact": the exact variant
// always where it applies; "mma": the mma variant always; "0" never.
// Label "A (stem fused into B: stemfuse 3->16->32 @160x160 tile 128x32, mma stem, ...)".
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "backends/cuda/conv_autotune.cuh"
#include "backends/cuda/conv_autotune.h"
#include "backends/cuda/conv_stem.cuh"
#include "backends/cuda/conv_stemfuse.cuh"
#include "backends/cuda/conv_stemfuse_geom.h"
#include "backends/cuda/conv_tile3.cuh"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cuda_run.h"
#include "fungen/log.h"

namespace fungen::cuda {
namespace {

enum class FuseMode { kOff, kExact, kMma, kAuto };

FuseMode fuse_mode() {
  const char* v = std::getenv("FUNGEN_CUDA_STEMFUSE");
  if (!v || !*v || std::strcmp(v, "auto") == 0) return FuseMode::kAuto;
  if (std::strcmp(v, "1") == 0 || std::strcmp(v, "exact") == 0) return FuseMode::kExact;
  return std::strcmp(v, "mma") == 0 ? FuseMode::kMma : FuseMode::kOff;
}

// B's geometry when `node` is a convolution the fused kernel takes after stem a; ok false else.
struct Second {
  bool ok = false;
  IgemmDesc d;
  int bias = -1;
};
Second second_conv(const CudaRun& run, const Node& node, const DirectConvDesc& a, int a_out) {
  Second s;
  if ((node.op_type != "Conv" && node.op_type != "FusedConv") || node.inputs.size() < 2 ||
      node.inputs.size() > 3 || node.inputs[0] != a_out || !run.is_constant(node.inputs[1]))
    return s;
  const int w = node.inputs[1], y = node.outputs[0];
  s.bias = node.inputs.size() > 2 ? node.inputs[2] : -1;
  const Shape& ws = run.shape(w);
  const Shape& ys = run.shape(y);
  if (ws.size() != 4 || ys.size() != 4 || ws[2] != 3 || ws[3] != 3 || ws[1] != a.cout ||
      ws[0] != ys[1] || ys[0] != a.n || node.attr_int("group", 1) != 1 ||
      node.attr_string("auto_pad", "NOTSET") != "NOTSET" ||
      run.constant(w).dtype() != DType::kFloat32)
    return s;
  if (s.bias >= 0 && (!run.is_constant(s.bias) || run.constant(s.bias).dtype() != DType::kFloat32 ||
                      run.constant(s.bias).numel() != ys[1]))
    return s;
  for (int64_t dl : node.attr_ints("dilations", {1, 1})) {
    if (dl != 1) return s;
  }
  const std::vector<int64_t> pads = node.attr_ints("pads", {0, 0, 0, 0});
  const std::vector<int64_t> strides = node.attr_ints("strides", {1, 1});
  if (pads != std::vector<int64_t>{1, 1, 1, 1} || strides != std::vector<int64_t>{2, 2}) return s;
  if (ys[1] > (int64_t{1} << 20) || ys[2] > (int64_t{1} << 30) || ys[3] > (int64_t{1} << 30))
    return s;
  IgemmDesc& d = s.d;
  d.n = static_cast<int>(a.n);
  d.cin = static_cast<int>(a.cout);
  d.h = static_cast<int>(a.oh);
  d.w = static_cast<int>(a.ow);
  d.cout = static_cast<int>(ys[1]);
  d.oh = static_cast<int>(ys[2]);
  d.ow = static_cast<int>(ys[3]);
  d.kh = d.kw = 3;
  d.sh = d.sw = 2;
  d.ph = d.pw = 1;
  d.silu = node.attr_string("activation", "") == "silu";
  d.out_ld = d.cout;
  s.ok = true;
  return s;
}

std::string tuning_key(const DirectConvDesc& a, const IgemmDesc& b, bool bias, Elem in) {
  auto str = [](int64_t v) { return std::to_string(v); };
  return "stemfuse x=" + str(a.n) + ",3," + str(a.h) + "," + str(a.w) + " a=" + str(a.cout) +
         (a.silu ? " silu" : "") + " b=" + str(b.cout) + "," + str(b.oh) + "," + str(b.ow) +
         (b.silu ? " silu" : "") + (bias ? " bias" : "") + " ld=" + str(b.out_ld) +
         (b.out2_ld > 0 ? " ld2=" + str(b.out2_ld) : "") + (in == Elem::kF32 ? " f32in" : "");
}

// (tile_m, tile_n) candidates: tile3's pick, the other tile_m, and 32 beside 64.
std::vector<std::pair<int, int>> candidates(IgemmDesc d, int sms) {
  choose_tile3_tile(d, sms);
  std::vector<std::pair<int, int>> c = {{d.tile_m, d.tile_n},
                                        {d.tile_m == 128 ? 64 : 128, d.tile_n}};
  if (d.tile_n == 64) c.emplace_back(d.tile_m, 32);
  return c;
}

struct Choice {
  bool fuse = false;
  int tile_m = 0, tile_n = 0;
  std::string note;
  bool mma = false;  // the tensor-core stem (algorithm 2)
};

// Times the fused kernel's tiles, both variants, against the band kernel + tile3 (its own pick)
// on scratch buffers, or replays the cache's entry.
Result<Choice> choose(CudaRun& run, const Node& node, const DirectConvDesc& a,
                      const StemWeights& wa, IgemmDesc b, bool bias, Elem in, int sms) {
  Choice c;
  const std::string key = tuning_key(a, b, bias, in);
  TuningCache* cache = run.ctx().tuning;
  if (cache) {
    if (auto hit = cache->find(key)) {
      b.tile_m = hit->math_type;
      b.tile_n = static_cast<int>(hit->workspace);
      if (hit->algorithm == 0) {
        c.note = ", not fused (plan)";
        return c;
      }
      if ((hit->algorithm == 1 || hit->algorithm == 2) && tile3_tile_fits(b)) {
        c = {true, b.tile_m, b.tile_n, ", chosen (plan)", hit->algorithm == 2};
        return c;
      }
    }
  }
  count_conv_autotune_timing();
  const size_t in_bytes = static_cast<size_t>(a.n * 3 * a.h * a.w) * elem_size(in);
  const size_t mid_bytes = static_cast<size_t>(a.n * a.oh * a.ow * a.cout) * 2;
  const size_t m = static_cast<size_t>(b.n) * b.oh * b.ow;
  DeviceScratch s;
  Status st =
      s.reserve({in_bytes, tile3_weight_elems(b) * 2, static_cast<size_t>(b.cout) * sizeof(float),
                 mid_bytes, m * static_cast<size_t>(b.out_ld) * 2,
                 b.out2_ld > 0 ? m * static_cast<size_t>(b.out2_ld) * 2 : 0,
                 static_cast<size_t>(a.cout / 16) * stemfuse::kMmaChunkWords * 4},
                run.ctx().stream);
  auto fallback = [&](const Status& why) -> Result<Choice> {
    cudaGetLastError();
    CUDA_CHECK(cudaStreamSynchronize(run.ctx().stream));
    log(LogLevel::kWarn, "cuda: {}: stem fusion not timed ({}); not fused", node.name,
        why.message());
    Choice none;
    none.note = ", not fused (not timed)";
    return none;
  };
  if (!st.ok()) return fallback(st);
  const float* bp = bias ? static_cast<const float*>(s.ptr(2)) : nullptr;
  float best = 0;
  std::string tried;
  // The mma variant's weights: their values do not change its time (scratch left as it is).
  for (const bool mma : {false, true}) {
    tried += mma ? "; mma " : "exact ";
    for (const auto& [tm, tn] : candidates(b, sms)) {
      IgemmDesc t = b;
      t.tile_m = tm;
      t.tile_n = tn;
      Result<float> ms = median_launch_ms(run.ctx().stream, [&](cudaStream_t cs) {
        return launch_conv_stemfuse(in, a, wa, t, s.ptr(0), s.ptr(1), bp, s.ptr(4), s.ptr(5), cs,
                                    mma ? s.ptr(6) : nullptr);
      });
      if (!ms.ok()) return fallback(ms.status());
      tried += (tried.back() == ' ' ? "" : ", ") + std::to_string(tm) + "x" + std::to_string(tn) +
               " " + ms_str(ms.value());
      if (c.tile_m == 0 || ms.value() < best) {
        best = ms.value();
        c.tile_m = tm;
        c.tile_n = tn;
        c.mma = mma;
      }
    }
  }
  IgemmDesc t = b;
  choose_tile3_tile(t, sms);
  DirectConvDesc packed = a;
  packed.out_ld = a.cout;
  Result<float> pair = median_launch_ms(run.ctx().stream, [&](cudaStream_t cs) {
    if (!launch_stem_band(in, Elem::kF16, s.ptr(0), wa, s.ptr(3), packed, cs))
      return cudaErrorInvalidValue;
    return launch_conv_tile3(t, s.ptr(3), s.ptr(1), bp, nullptr, s.ptr(4), cs, 0, s.ptr(5));
  });
  if (!pair.ok()) return fallback(pair.status());
  c.fuse = candidate_wins(best, pair.value());
  c.note = (c.fuse ? ", chosen: " : ", not chosen: ") + std::string(c.mma ? "mma " : "exact ") +
           ms_str(best) + " vs stem + tile3 " + ms_str(pair.value()) + " ms (tiles " + tried + ")";
  log(LogLevel::kInfo, "cuda autotune: {} -> {}{}", node.name,
      c.fuse ? (c.mma ? "stemfuse mma" : "stemfuse exact") : "unfused", c.note);
  if (cache) {
    cache->store(key, {.algorithm = c.fuse ? (c.mma ? 2 : 1) : 0,
                       .math_type = c.tile_m,
                       .workspace = static_cast<uint64_t>(c.tile_n)});
  }
  return c;
}

}  // namespace

// True when stem `node` (a: its geometry, the band kernel's case) and its only reader were
// lowered as one fused step; false leaves `node` to the band kernel (nothing defined or marked).
Result<bool> lower_stem_fused(CudaRun& run, const Node& node, const DirectConvDesc& a,
                              std::shared_ptr<StemWeights> wa) {
  const FuseMode mode = fuse_mode();
  if (mode == FuseMode::kOff || run.elem() != Elem::kF16 || !run.ctx().nhwc) return false;
  const int x = node.inputs[0], y = node.outputs[0];
  const int bi = run.only_reader(y);
  if (bi < 0) return false;
  const Node& bn = run.graph().nodes[static_cast<size_t>(bi)];
  Second sec = second_conv(run, bn, a, y);
  if (!sec.ok) return false;
  IgemmDesc& d = sec.d;
  const int yb = bn.outputs[0];
  if (read_by_views_only(run.graph(), yb)) return false;  // NCHW output: left to tile3 / igemm
  const CudaRun::SliceShape into = run.placement_shape(yb);
  if (into.ok && (into.ld % 8 != 0 || into.offset % 8 != 0)) return false;
  if (into.ok) d.out_ld = into.ld;
  const CudaRun::SliceShape dual_shape =
      into.ok ? CudaRun::SliceShape{} : run.dual_placement_shape(yb);
  const bool dual_ok = dual_shape.ok && dual_shape.ld % 8 == 0 && dual_shape.offset % 8 == 0;
  if (dual_ok) d.out2_ld = dual_shape.ld;
  if (!stemfuse_supports(a, d)) return false;
  const int staging = run.input_staging(x);  // fp32 model input, read under run()
  const Elem timed_in = staging >= 0 ? Elem::kF32 : Elem::kF16;
  int sms = 0;
  CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, run.ctx().device));
  Choice c;
  if (mode == FuseMode::kExact || mode == FuseMode::kMma) {
    IgemmDesc t = d;
    choose_tile3_tile(t, sms);
    c = {true, t.tile_m, t.tile_n, "", mode == FuseMode::kMma};
  } else {
    FUNGEN_ASSIGN_OR_RETURN(c, choose(run, node, a, *wa, d, sec.bias >= 0, timed_in, sms));
    if (!c.fuse) return false;
  }
  d.tile_m = c.tile_m;
  d.tile_n = c.tile_n;

  // From here on the pair is lowered: B absorbed, its output placed.
  const CudaRun::Slice slice = run.placement(yb);
  if (slice.buf >= 0 && (slice.ld != d.out_ld || slice.offset % 8 != 0))
    return internal_error("cuda stemfuse: placement of '" + bn.name + "' changed");
  if (slice.buf < 0) d.out_ld = d.cout;
  const CudaRun::Slice dual = dual_ok ? run.dual_placement(yb) : CudaRun::Slice{};
  d.out2_ld = dual.buf >= 0 ? dual.ld : 0;
  const std::vector<uint16_t> packed =
      pack_tile3_weights(run.constant(bn.inputs[1]).data<float>(), d);
  const int wbuf = run.persistent(packed.size() * sizeof(uint16_t));
  if (!run.ptr(wbuf)) return out_of_memory("cuda: cannot allocate convolution weights");
  FUNGEN_RETURN_IF_ERROR(
      run.upload(run.ptr(wbuf), packed.data(), packed.size() * sizeof(uint16_t)));
  int bbuf = -1;
  if (sec.bias >= 0) {
    const Tensor& bt = run.constant(sec.bias);
    bbuf = run.persistent(static_cast<size_t>(bt.numel()) * sizeof(float));
    if (!run.ptr(bbuf)) return out_of_memory("cuda: cannot allocate convolution bias");
    FUNGEN_RETURN_IF_ERROR(run.upload(run.ptr(bbuf), bt.data<float>(),
                                      static_cast<size_t>(bt.numel()) * sizeof(float)));
  }
  int mbuf = -1;  // the mma variant's stem weights
  if (c.mma) {
    const std::vector<uint32_t> mw = pack_stemfuse_mma_weights(*wa, static_cast<int>(a.cout));
    mbuf = run.persistent(mw.size() * sizeof(uint32_t));
    if (!run.ptr(mbuf)) return out_of_memory("cuda: cannot allocate stem weights");
    FUNGEN_RETURN_IF_ERROR(run.upload(run.ptr(mbuf), mw.data(), mw.size() * sizeof(uint32_t)));
  }
  FUNGEN_ASSIGN_OR_RETURN(int xb, run.get(x, Layout::kPlain));
  if (staging >= 0) run.read_from_staging(x);
  int outb = slice.buf;
  int64_t offset = slice.offset;
  if (outb < 0) {
    outb = run.define(yb, Layout::kNhwc);
    offset = 0;
  }
  run.absorb(bi);
  count_stemfuse_conv();
  auto str = [](int64_t v) { return std::to_string(v); };
  const std::string label = node.name + " (stem fused into " + bn.name + ": stemfuse 3->" +
                            str(a.cout) + "->" + str(d.cout) + " @" + str(d.oh) + "x" + str(d.ow) +
                            " tile " + str(d.tile_m) + "x" + str(d.tile_n) +
                            (c.mma ? ", mma stem" : "") + (staging >= 0 ? ", fp32 input" : "") +
                            (slice.buf >= 0 ? ", into concat" : "") +
                            (dual.buf >= 0 ? ", and into concat" : "") + c.note + ")";
  CudaRun* r = &run;
  const DirectConvDesc ad = a;
  run.add_step(label, {xb, staging, wbuf, bbuf, outb, dual.buf, mbuf}, [=](cudaStream_t st) {
    const bool staged = staging >= 0 && r->from_staging();
    const float* bp = bbuf >= 0 ? static_cast<const float*>(r->ptr(bbuf)) : nullptr;
    void* out = static_cast<std::byte*>(r->ptr(outb)) + offset * 2;  // fp16 elements
    void* out2 =
        dual.buf >= 0 ? static_cast<std::byte*>(r->ptr(dual.buf)) + dual.offset * 2 : nullptr;
    CUDA_CHECK(launch_conv_stemfuse(staged ? Elem::kF32 : Elem::kF16, ad, *wa, d,
                                    r->ptr(staged ? staging : xb), r->ptr(wbuf), bp, out, out2, st,
                                    mbuf >= 0 ? r->ptr(mbuf) : nullptr));
    return Status();
  });
  return true;
}

}  // namespace fungen::cuda
