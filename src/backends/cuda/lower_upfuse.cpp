// Upsampled Concats read by their consumer (CudaRun::upfuse_of, cuda_run.h). YOLO's neck
// upsamples a map 2x (Resize, nearest) into a channel slice of a Concat whose only reader is a
// 1x1 convolution: at batch 128 /model.14/Resize writes 210 MB that /model.16/cv1 reads back at
// once. Here the Concat is never materialized: the igemm or persistent 1x1 kernel reads channel
// range [c0, c1) of its input from the piece's own buffer, pixel (y, x) of an upsampled piece
// at source pixel (y / 2, x / 2) (igemm_pieces.h), and the Resizes and the Concat do nothing.
// Found at the start of lowering (before the Resize is lowered), and taken where it measures at
// least 3% faster than Resize + Concat + the best of cuDNN and the own kernels on the
// materialized input (the Resize timed on its real shapes; the second store of a piece that its
// producer writes into the Concat besides its own buffer is not counted: that favours the
// materialized input). The choice is a tuning entry "upfuse " + the conv's igemm key + the
// pieces: algorithm 0 (materialized), 1 (igemm) or 2 (persistent), tile in math_type/workspace.
// FUNGEN_CUDA_UPFUSE=0 off, =1 taken without measuring wherever it applies (so does
// FUNGEN_CUDA_IGEMM=1 or 1x1; the igemm kernel, the persistent one with FUNGEN_CUDA_PERSIST=1);
// FUNGEN_CUDA_IGEMM=0 (or 3x3) leaves it off.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "backends/cuda/conv_autotune.h"
#include "backends/cuda/conv_igemm.cuh"
#include "backends/cuda/conv_igemm_1x1.cuh"
#include "backends/cuda/copy_rows.cuh"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cuda_run.h"
#include "backends/cuda/lower_upfuse.h"
#include "backends/cuda/pool_resize.cuh"
#include "fungen/log.h"

namespace fungen::cuda {
namespace {

std::atomic<int> g_reads{0}, g_materialized{0};

bool env_on(const char* name) {
  const char* v = std::getenv(name);
  return v && *v && std::strcmp(v, "0") != 0;
}

// The own kernels' switches as lower_conv_igemm.cpp reads them for a 1x1 convolution:
// FUNGEN_CUDA_IGEMM unset/auto (measured; off while GEMM1X1 or FUSED is on), 1 / 1x1 forced,
// else off; FUNGEN_CUDA_PERSIST unset/auto both kernels, 1 the persistent one only, 0 igemm only.
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

// The pieces' geometry with null bases (support checks and timings fill them).
IgemmPieces pieces_of(const CudaRun::Upfuse& u) {
  IgemmPieces ps;
  ps.count = static_cast<int>(u.pieces.size());
  for (size_t i = 0; i < u.pieces.size(); ++i) {
    ps.p[i].c0 = static_cast<int>(u.pieces[i].c0);
    ps.p[i].ld = u.pieces[i].channels;
    ps.p[i].shift = u.pieces[i].shift;
  }
  return ps;
}

}  // namespace

int upfuse_reads_lowered() {
  return g_reads.load();
}
void count_upfuse_read() {
  ++g_reads;
}
int upfuse_materialized() {
  return g_materialized.load();
}

Status CudaRun::find_upfuse(const NodeRun& run) {
  upfuse_at_.assign(graph_.values.size(), -1);
  upfuse_.clear();
  const Mode mode = igemm_1x1_mode();
  if (ctx_.upfuse == 0 || !ctx_.nhwc || elem() != Elem::kF16 || mode == Mode::kOff) return Status();
  std::vector<bool> run_output(graph_.values.size(), false);
  for (int v : run.outputs) run_output[static_cast<size_t>(v)] = true;
  auto in_run = [&](int k) {
    return k >= static_cast<int>(run.first) && k <= static_cast<int>(run.last) &&
           !absorbed_[static_cast<size_t>(k)];
  };
  auto ints = [](const Node& n, const char* name, std::vector<int64_t> def) {
    return n.attr_ints(name, std::move(def));
  };
  int sms = 0;
  for (size_t k = run.first; k <= run.last; ++k) {
    const Node& cat = graph_.nodes[k];
    if (absorbed_[k] || cat.op_type != "Concat" || cat.outputs.size() != 1) continue;
    const int cv = cat.outputs[0];
    const Shape& cs = shape(cv);
    const int64_t axis = cat.attr_int("axis", 1);
    if (cs.size() != 4 || (axis != 1 && axis != -3) || run_output[static_cast<size_t>(cv)])
      continue;
    const int ck = only_reader(cv);
    if (ck < 0 || !in_run(ck)) continue;
    const Node& conv = graph_.nodes[static_cast<size_t>(ck)];
    if ((conv.op_type != "Conv" && conv.op_type != "FusedConv") || conv.inputs[0] != cv ||
        conv.inputs.size() < 2 || conv.outputs.size() != 1)
      continue;
    const int w = conv.inputs[1], b = conv.inputs.size() > 2 ? conv.inputs[2] : -1;
    const int z = conv.inputs.size() > 3 ? conv.inputs[3] : -1, y = conv.outputs[0];
    const Shape& ws = shape(w);
    const Shape& ys = shape(y);
    if (!is_constant(w) || constant(w).dtype() != DType::kFloat32 || ws.size() != 4 ||
        ws[1] != cs[1] || ws[2] != 1 || ws[3] != 1 || ys.size() != 4 || ys[0] != cs[0] ||
        ys[2] != cs[2] || ys[3] != cs[3] || conv.attr_int("group", 1) != 1 ||
        ints(conv, "strides", {1, 1}) != std::vector<int64_t>{1, 1} ||
        ints(conv, "dilations", {1, 1}) != std::vector<int64_t>{1, 1} ||
        ints(conv, "pads", {0, 0, 0, 0}) != std::vector<int64_t>{0, 0, 0, 0} ||
        (b >= 0 && (!is_constant(b) || constant(b).dtype() != DType::kFloat32)) ||
        (z >= 0 && shape(z) != ys))
      continue;
    Upfuse u;
    u.concat = cv;
    u.conv_node = ck;
    bool ok = cat.inputs.size() <= static_cast<size_t>(kIgemmMaxPieces), upsampled = false;
    std::string names;
    int64_t c0 = 0;
    for (int v : cat.inputs) {
      if (!ok) break;
      const Shape& vs = shape(v);
      ok = vs.size() == 4 && vs[1] % 8 == 0 && !is_constant(v);
      if (!ok) break;
      UpfusePiece pc{v, v, 0, c0, vs[1]};
      const int rp = graph_.values[static_cast<size_t>(v)].producer;
      const Node* rz = in_run(rp) ? &graph_.nodes[static_cast<size_t>(rp)] : nullptr;
      if (rz && rz->op_type == "Resize" && uses_[static_cast<size_t>(v)] == 1 &&
          !run_output[static_cast<size_t>(v)] && check_resize(*rz, graph_) &&
          !is_constant(rz->inputs[0])) {
        const Shape& xs = shape(rz->inputs[0]);
        if (xs[0] == vs[0] && xs[1] == vs[1] && 2 * xs[2] == vs[2] && 2 * xs[3] == vs[3]) {
          pc.source = rz->inputs[0];
          pc.shift = 1;
          upsampled = true;
          names += (names.empty() ? "" : ", ") + rz->name;
        }
      }
      u.pieces.push_back(pc);
      c0 += vs[1];
    }
    if (!ok || !upsampled) continue;
    // The convolution as lower_conv_igemm.cpp builds it, its output where that puts it.
    IgemmDesc d;
    d.n = static_cast<int>(cs[0]);
    d.cin = static_cast<int>(cs[1]);
    d.h = d.oh = static_cast<int>(cs[2]);
    d.w = d.ow = static_cast<int>(cs[3]);
    d.cout = static_cast<int>(ys[1]);
    d.silu = conv.attr_string("activation", "") == "silu";
    d.nchw_out = z < 0 && read_by_views_only(graph_, y);
    d.out_ld = d.cout;
    const SliceShape into = d.nchw_out ? SliceShape{} : placement_shape(y);
    if (into.ok && (into.ld % 8 != 0 || into.offset % 8 != 0)) continue;
    if (into.ok) d.out_ld = into.ld;
    const IgemmPieces ps = pieces_of(u);
    if (sms == 0)
      CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, ctx_.device));
    choose_igemm_tile(d, sms);
    if (!igemm_pieces_supports(d, ps)) continue;
    const PersistMode pmode = persist_env();
    UpfuseDecision dec{kUpfuseIgemm, d.tile_m, d.tile_n, ""};
    if (pmode == PersistMode::kOnly && igemm_1x1_persist_supports(d, ctx_.device))
      dec.algo = kUpfusePersist;
    const std::string key = "upfuse " + igemm_tuning_key(d, b >= 0, z >= 0) + " pieces=" + [&] {
      std::string p;
      for (const UpfusePiece& pc : u.pieces)
        p += std::to_string(pc.channels) + (pc.shift ? "u" : "") + ",";
      return p;
    }();
    const bool forced = ctx_.upfuse == 1 || mode == Mode::kForced;
    std::optional<TunedAlgorithm> hit;
    if (!forced && ctx_.tuning) hit = ctx_.tuning->find(key);
    if (hit) {
      dec = {hit->algorithm, hit->math_type, static_cast<int>(hit->workspace), " (plan)"};
      IgemmDesc t = d;
      t.tile_m = dec.tile_m;
      t.tile_n = dec.tile_n;
      const bool fits =
          igemm_tile_fits(t) && igemm_pieces_supports(t, ps) &&
          (dec.algo != kUpfusePersist ||
           (pmode != PersistMode::kOff && igemm_1x1_persist_supports(t, ctx_.device)));
      const bool known =
          dec.algo == kUpfuseMaterialized || dec.algo == kUpfuseIgemm || dec.algo == kUpfusePersist;
      if (!known || (dec.algo != kUpfuseMaterialized && !fits)) hit.reset();  // measured again
    }
    if (!forced && !hit) {
      Result<UpfuseDecision> m =
          measure_upfuse(*this, conv, d, ps, u, b >= 0, z >= 0, into.ok, pmode);
      if (!m.ok()) {  // no memory for the scratch or a refused launch: materialized, unrecorded
        cudaGetLastError();
        CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
        log(LogLevel::kWarn, "cuda: {}: reading the Concat's pieces not timed ({}); materialized",
            conv.name, m.status().message());
        continue;
      }
      dec = m.value();
      if (ctx_.tuning)
        ctx_.tuning->store(key, {.algorithm = dec.algo,
                                 .math_type = dec.tile_m,
                                 .workspace = static_cast<uint64_t>(dec.tile_n)});
      log(LogLevel::kInfo, "cuda autotune: {} -> {}{}", conv.name,
          dec.algo == kUpfuseMaterialized ? "materialized Concat" : "reading the Concat's pieces",
          dec.note);
    }
    if (dec.algo == kUpfuseMaterialized) continue;
    u.persist = dec.algo == kUpfusePersist;
    u.tile_m = dec.tile_m;
    u.tile_n = dec.tile_n;
    int64_t up_channels = 0;
    for (const UpfusePiece& pc : u.pieces) up_channels += pc.shift ? pc.channels : 0;
    // "(128 ch)": the channels read at a quarter of their bytes (bench/gpu/conv_floor.py).
    u.note = ", reading " + names + "'s source 2x (" + std::to_string(up_channels) + " ch)" +
             (forced ? ", forced" : dec.note);
    // Nothing is written into this Concat now: its pieces keep their own buffers.
    for (Candidate& c : candidates_) {
      if (c.concat == cv) c = Candidate{};
    }
    const int idx = static_cast<int>(upfuse_.size());
    upfuse_at_[static_cast<size_t>(cv)] = idx;
    for (const UpfusePiece& pc : u.pieces) {
      if (pc.shift) upfuse_at_[static_cast<size_t>(pc.value)] = idx;
    }
    upfuse_.push_back(std::move(u));
  }
  return Status();
}

Result<UpfuseSources> upfuse_sources(CudaRun& run, const CudaRun::Upfuse& u) {
  UpfuseSources s;
  s.geometry = pieces_of(u);
  for (size_t i = 0; i < u.pieces.size(); ++i) {
    const CudaRun::UpfusePiece& pc = u.pieces[i];
    const CudaRun::Slice v = run.view_of(pc.source);
    if (v.buf >= 0 && v.ld % 8 == 0 && v.offset % 8 == 0) {
      s.buf[i] = v.buf;
      s.offset[i] = v.offset;
      s.geometry.p[i].ld = v.ld;
    } else {
      FUNGEN_ASSIGN_OR_RETURN(s.buf[i], run.get(pc.source, Layout::kNhwc));
    }
  }
  return s;
}

// The fallback: the Concat (or one upsampled piece) as lower_concat / lower_resize would have
// made it, for a reader other than the kernels reading the pieces.
Status CudaRun::materialize_upfuse(int value) {
  const Upfuse& u = *upfuse_of(value);
  ++g_materialized;
  const int to = define(value, Layout::kNhwc);
  const int64_t ld = value == u.concat ? shape(value)[1] : 0;
  const Elem e = elem();
  for (const UpfusePiece& pc : u.pieces) {
    if (value != u.concat && pc.value != value) continue;
    FUNGEN_ASSIGN_OR_RETURN(int from, get(pc.source, Layout::kNhwc));
    const Shape& ss = shape(pc.source);
    const Shape& ps = shape(pc.value);
    const int64_t off = value == u.concat ? pc.c0 : 0;
    const std::string label = graph_.values[static_cast<size_t>(pc.value)].name + " (materialized)";
    add_step(label, {from, to}, [this, pc, from, to, off, ld, e, ss, ps](cudaStream_t st) {
      void* dst = static_cast<std::byte*>(ptr(to)) + off * elem_size(e);
      if (pc.shift) {
        launch_resize_nearest(e, ptr(from), dst, {ss[0], ss[1], ss[2], ss[3]},
                              {ps[0], ps[1], ps[2], ps[3]}, true, st, ld);
      } else {
        launch_copy_rows(e, ptr(from), pc.channels, dst, ld, ps[0] * ps[2] * ps[3], pc.channels,
                         st);
      }
      return Status();
    });
  }
  return Status();
}

}  // namespace fungen::cuda
