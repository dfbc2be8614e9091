// 3x3 depthwise convolutions computed by the 1x1 convolution reading them (CudaRun::dwfuse_of,
// cuda_run.h). YOLO's detect head runs [depthwise 3x3 + SiLU -> 1x1 + SiLU] x 2 per level in its
// class branch: at batch 128 the depthwise convs take ~0.9 ms, writing maps (131 MB for 80 ch
// @80x80) that their 1x1 reads back at once. Here the depthwise output never exists: the igemm
// kernel's A loader computes each 16-byte chunk of it from the depthwise input
// (launch_conv_igemm_dw, igemm_dw.h; the depthwise kernels' arithmetic, so the same bits) and the
// depthwise node lowers to nothing. Found at the start of lowering (before the depthwise conv is
// lowered), and taken where it measures at least 3% faster than the depthwise step + the best
// of cuDNN, igemm and the persistent 1x1 kernel on its output (conv_dwfuse_autotune.cpp). The
// choice is a tuning entry "dwfuse " + the 1x1's igemm key + " dw[ silu][ bias]": algorithm 0
// (separate) or 1 (fused), tile in math_type/workspace. FUNGEN_CUDA_DWFUSE=0 off, =1 taken
// without measuring wherever it applies (so does FUNGEN_CUDA_IGEMM=1 or 1x1); FUNGEN_CUDA_IGEMM=0
// (or 3x3) leaves it off. fp16 NHWC runs only (the igemm kernel's).
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "backends/cuda/conv_igemm.cuh"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cuda_run.h"
#include "backends/cuda/lower_dwfuse.h"
#include "fungen/log.h"

namespace fungen::cuda {
namespace {

std::atomic<int> g_reads{0}, g_materialized{0};

bool env_on(const char* name) {
  const char* v = std::getenv(name);
  return v && *v && std::strcmp(v, "0") != 0;
}

// FUNGEN_CUDA_IGEMM as lower_conv_igemm.cpp reads it for a 1x1 convolution (as lower_upfuse.cpp).
enum class Mode { kOff, kForced, kAuto };
Mode igemm_1x1_mode() {
  const char* v = std::getenv("FUNGEN_CUDA_IGEMM");
  if (!v || !*v || std::strcmp(v, "auto") == 0)
    return env_on("FUNGEN_CUDA_GEMM1X1") || env_on("FUNGEN_CUDA_FUSED") ? Mode::kOff : Mode::kAuto;
  return std::strcmp(v, "1") == 0 || std::strcmp(v, "1x1") == 0 ? Mode::kForced : Mode::kOff;
}
PersistMode persist_env() {
  const char* v = std::getenv("FUNGEN_CUDA_PERSIST");
  if (!v || !*v || std::strcmp(v, "auto") == 0) return PersistMode::kAuto;
  return std::strcmp(v, "1") == 0 ? PersistMode::kOnly : PersistMode::kOff;
}

}  // namespace

int dwfuse_reads_lowered() {
  return g_reads.load();
}
void count_dwfuse_read() {
  ++g_reads;
}
int dwfuse_materialized() {
  return g_materialized.load();
}

Status CudaRun::find_dwfuse(const NodeRun& run) {
  dwfuse_at_.assign(graph_.values.size(), -1);
  dwfuse_.clear();
  const Mode mode = igemm_1x1_mode();
  if (ctx_.dwfuse == 0 || !ctx_.nhwc || elem() != Elem::kF16 || mode == Mode::kOff) return Status();
  std::vector<bool> run_output(graph_.values.size(), false);
  for (int v : run.outputs) run_output[static_cast<size_t>(v)] = true;
  auto in_run = [&](int k) {
    return k >= static_cast<int>(run.first) && k <= static_cast<int>(run.last) &&
           !absorbed_[static_cast<size_t>(k)];
  };
  auto ints = [](const Node& n, const char* name, std::vector<int64_t> def) {
    return n.attr_ints(name, std::move(def));
  };
  auto f32_const = [&](int v) { return is_constant(v) && constant(v).dtype() == DType::kFloat32; };
  int sms = 0;
  for (size_t k = run.first; k <= run.last; ++k) {
    const Node& dw = graph_.nodes[k];
    if (absorbed_[k] || (dw.op_type != "Conv" && dw.op_type != "FusedConv") ||
        dw.inputs.size() < 2 || dw.inputs.size() > 3 || dw.outputs.size() != 1)
      continue;
    const int dx = dw.inputs[0], dwv = dw.inputs[1], dy = dw.outputs[0];
    const int db = dw.inputs.size() > 2 ? dw.inputs[2] : -1;
    const Shape& xs = shape(dx);
    const Shape& dws = shape(dwv);
    const Shape& dys = shape(dy);
    if (xs.size() != 4 || dys != xs || dws.size() != 4 || is_constant(dx)) continue;
    const int64_t c = xs[1];
    const std::string act = dw.attr_string("activation", "");
    if (c % 8 != 0 || dw.attr_int("group", 1) != c || dws != Shape{c, 1, 3, 3} || !f32_const(dwv) ||
        (db >= 0 && (!f32_const(db) || constant(db).numel() != c)) ||
        (!act.empty() && act != "silu") ||
        ints(dw, "strides", {1, 1}) != std::vector<int64_t>{1, 1} ||
        ints(dw, "dilations", {1, 1}) != std::vector<int64_t>{1, 1} ||
        ints(dw, "pads", {0, 0, 0, 0}) != std::vector<int64_t>{1, 1, 1, 1} ||
        run_output[static_cast<size_t>(dy)] || uses_[static_cast<size_t>(dy)] != 1)
      continue;
    const int ck = only_reader(dy);
    if (ck < 0 || !in_run(ck)) continue;
    const Node& conv = graph_.nodes[static_cast<size_t>(ck)];
    if ((conv.op_type != "Conv" && conv.op_type != "FusedConv") || conv.inputs[0] != dy ||
        conv.inputs.size() < 2 || conv.outputs.size() != 1)
      continue;
    const int w = conv.inputs[1], b = conv.inputs.size() > 2 ? conv.inputs[2] : -1;
    const int z = conv.inputs.size() > 3 ? conv.inputs[3] : -1, y = conv.outputs[0];
    const Shape& ws = shape(w);
    const Shape& ys = shape(y);
    if (!f32_const(w) || ws.size() != 4 || ws[1] != c || ws[2] != 1 || ws[3] != 1 ||
        ys.size() != 4 || ys[0] != xs[0] || ys[1] != ws[0] || ys[2] != xs[2] || ys[3] != xs[3] ||
        conv.attr_int("group", 1) != 1 ||
        ints(conv, "strides", {1, 1}) != std::vector<int64_t>{1, 1} ||
        ints(conv, "dilations", {1, 1}) != std::vector<int64_t>{1, 1} ||
        ints(conv, "pads", {0, 0, 0, 0}) != std::vector<int64_t>{0, 0, 0, 0} ||
        (b >= 0 && !f32_const(b)) || (z >= 0 && (shape(z) != ys || z == dy)))
      continue;
    bool small = true;
    for (int64_t v : {xs[0], xs[1], xs[2], xs[3], ys[1]}) small = small && v > 0 && v < (1 << 30);
    if (!small) continue;
    // The 1x1 convolution as lower_conv_igemm.cpp builds it, its output where that puts it.
    IgemmDesc d;
    d.n = static_cast<int>(xs[0]);
    d.cin = static_cast<int>(c);
    d.h = d.oh = static_cast<int>(xs[2]);
    d.w = d.ow = static_cast<int>(xs[3]);
    d.cout = static_cast<int>(ys[1]);
    d.silu = conv.attr_string("activation", "") == "silu";
    d.out_ld = d.cout;
    bool into_slice = false;
    const AnchorSlice rows = z < 0 ? anchor_slice_shape(y) : AnchorSlice{};
    if (rows.buf >= 0) {
      if (rows.ld % 8 != 0 || rows.offset % 8 != 0 || rows.batch_ld % 8 != 0) continue;
      d.out_ld = rows.ld;
      d.out_img_ld = rows.batch_ld;
      into_slice = true;
    } else {
      d.nchw_out = z < 0 && read_by_views_only(graph_, y);
      const SliceShape into = d.nchw_out ? SliceShape{} : placement_shape(y);
      if (into.ok && (into.ld % 8 != 0 || into.offset % 8 != 0)) continue;
      if (into.ok) d.out_ld = into.ld;
      into_slice = into.ok;
    }
    if (sms == 0)
      CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, ctx_.device));
    choose_igemm_tile(d, sms);
    if (d.tile_n < 64) d.tile_n = 64;  // the narrowest tile the fused kernel has (any C_out)
    if (!igemm_dw_supports(d)) continue;
    DwfuseDecision dec{kDwfuseFused, d.tile_m, d.tile_n, ""};
    const std::string key = "dwfuse " + igemm_tuning_key(d, b >= 0, z >= 0) + " dw" +
                            (act == "silu" ? " silu" : "") + (db >= 0 ? " bias" : "");
    const bool forced = ctx_.dwfuse == 1 || mode == Mode::kForced;
    std::optional<TunedAlgorithm> hit;
    if (!forced && ctx_.tuning) hit = ctx_.tuning->find(key);
    if (hit) {
      dec = {hit->algorithm, hit->math_type, static_cast<int>(hit->workspace), " (plan)"};
      IgemmDesc t = d;
      t.tile_m = dec.tile_m;
      t.tile_n = dec.tile_n;
      const bool known = dec.algo == kDwfuseSeparate || dec.algo == kDwfuseFused;
      if (!known || (dec.algo == kDwfuseFused && !igemm_dw_supports(t))) hit.reset();
    }
    if (!forced && !hit) {
      Result<DwfuseDecision> m =
          measure_dwfuse(*this, conv, d, db >= 0, b >= 0, z >= 0, into_slice, persist_env());
      if (!m.ok()) {  // no memory for the scratch or a refused launch: separate, unrecorded
        cudaGetLastError();
        CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
        log(LogLevel::kWarn, "cuda: {}: the fused depthwise read not timed ({}); separate",
            conv.name, m.status().message());
        continue;
      }
      dec = m.value();
      if (ctx_.tuning)
        ctx_.tuning->store(key, {.algorithm = dec.algo,
                                 .math_type = dec.tile_m,
                                 .workspace = static_cast<uint64_t>(dec.tile_n)});
      log(LogLevel::kInfo, "cuda autotune: {} -> {}{}", conv.name,
          dec.algo == kDwfuseFused ? "computing " + dw.name + "'s depthwise output (dw 3x3 fused)"
                                   : "reading " + dw.name + "'s depthwise output (separate)",
          dec.note);
    }
    if (dec.algo != kDwfuseFused) continue;
    Dwfuse f;
    f.dw_node = static_cast<int>(k);
    f.conv_node = ck;
    f.tile_m = dec.tile_m;
    f.tile_n = dec.tile_n;
    f.note = ", reading " + dw.name + "'s depthwise input (dw 3x3 fused)" +
             (forced ? std::string(", forced") : dec.note);
    dwfuse_at_[static_cast<size_t>(dy)] = static_cast<int>(dwfuse_.size());
    dwfuse_.push_back(std::move(f));
  }
  return Status();
}

Result<DwfuseSources> dwfuse_sources(CudaRun& run, const CudaRun::Dwfuse& f) {
  const Node& dw = run.graph().nodes[static_cast<size_t>(f.dw_node)];
  DwfuseSources s;
  s.silu = dw.attr_string("activation", "") == "silu";
  FUNGEN_ASSIGN_OR_RETURN(s.x, run.get(dw.inputs[0], Layout::kNhwc));
  // Weights [ky][kx][C] (lower_conv_direct's depthwise layout), bias [C]; fp32.
  const Tensor& wt = run.constant(dw.inputs[1]);
  const int64_t c = run.shape(dw.inputs[0])[1];
  std::vector<float> host(static_cast<size_t>(9 * c));
  for (int64_t o = 0; o < c; ++o)
    for (int64_t r = 0; r < 9; ++r)
      host[static_cast<size_t>(r * c + o)] = wt.data<float>()[o * 9 + r];
  s.w = run.persistent(host.size() * sizeof(float));
  FUNGEN_RETURN_IF_ERROR(run.upload(run.ptr(s.w), host.data(), host.size() * sizeof(float)));
  if (dw.inputs.size() > 2) {
    const Tensor& bt = run.constant(dw.inputs[2]);
    s.bias = run.persistent(static_cast<size_t>(c) * sizeof(float));
    FUNGEN_RETURN_IF_ERROR(
        run.upload(run.ptr(s.bias), bt.data<float>(), static_cast<size_t>(c) * sizeof(float)));
  }
  count_dwfuse_read();
  return s;
}

// The fallback: the depthwise conv lowered as it would have been, for a reader other than the
// fused kernel (its 1x1 left to cuDNN after all).
Status CudaRun::materialize_dwfuse(int value) {
  const Dwfuse f = *dwfuse_of(value);
  ++g_materialized;
  dwfuse_at_[static_cast<size_t>(value)] = -1;
  return lower_conv(*this, graph_.nodes[static_cast<size_t>(f.dw_node)]);
}

}  // namespace fungen::cuda
