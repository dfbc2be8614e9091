// Convolutions through the backend's own implicit-GEMM tensor-core kernel (conv_igemm.cuh)
// instead of cuDNN + a separate epilogue pass: NHWC fp16 only, group 1, no dilation, 1x1 and 3x3
// kernels (any stride and padding), C_in and C_out multiples of 8. Bias, SiLU and the residual
// are folded in; the output goes where lower_conv's epilogue would put it: packed NHWC, its
// Concat slice (CudaRun::placement; row length and offset multiples of 8), the detect head's
// anchor-major input (CudaRun::anchor_placement, head_rows.h), or NCHW when only Reshape/Flatten
// read it. Its input and residual may be read in place from a Concat slice (a
// Split piece, CudaRun::view_of). Anything else stays on cuDNN (lower_conv).
// FUNGEN_CUDA_IGEMM: auto (default) the faster of the two per convolution, measured when the
// plan is built (conv_autotune.h); 1 every convolution the kernel takes; 0 none. The step label
// says "igemm" (or "igemm persistent": conv_igemm_1x1.cuh, FUNGEN_CUDA_PERSIST), the geometry,
// the tile and, under auto, the times measured.
// 3x3 convolutions (pad 1, stride 1 or 2) may instead take the halo kernel (conv_tile3.cuh):
// FUNGEN_CUDA_TILE3 auto (default) makes it one more candidate of IGEMM=auto's timing; 1 takes it
// for every convolution it supports (whatever FUNGEN_CUDA_IGEMM says); 0 never. Label "tile3".
// It reads strided input / residual and writes the dual store as igemm does.
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "backends/cuda/conv_autotune.h"
#include "backends/cuda/conv_igemm.cuh"
#include "backends/cuda/conv_igemm_1x1.cuh"
#include "backends/cuda/conv_tile3.cuh"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cuda_run.h"
#include "backends/cuda/lower_upfuse.h"

namespace fungen::cuda {

namespace {

enum class IgemmMode { kOff, kAll, kAuto };

bool env_on(const char* name) {
  const char* v = std::getenv(name);
  return v && *v && std::strcmp(v, "0") != 0;
}

// FUNGEN_CUDA_IGEMM: unset, "" or "auto": measured per convolution; "1" every convolution the
// kernel takes, "1x1" or "3x3" only those (for A/B runs per kind); anything else ("0") none.
// Auto leaves everything to cuDNN's path while one of its A/B switches (FUNGEN_CUDA_GEMM1X1,
// FUNGEN_CUDA_FUSED) is on: auto times the plain cuDNN convolution, not those variants.
IgemmMode igemm_mode(int64_t kh, int64_t kw) {
  const char* v = std::getenv("FUNGEN_CUDA_IGEMM");
  if (!v || !*v || std::strcmp(v, "auto") == 0) {
    return env_on("FUNGEN_CUDA_GEMM1X1") || env_on("FUNGEN_CUDA_FUSED") ? IgemmMode::kOff
                                                                        : IgemmMode::kAuto;
  }
  if (std::strcmp(v, "1") == 0) return IgemmMode::kAll;
  if (std::strcmp(v, "1x1") == 0) return kh == 1 && kw == 1 ? IgemmMode::kAll : IgemmMode::kOff;
  if (std::strcmp(v, "3x3") == 0) return kh == 3 && kw == 3 ? IgemmMode::kAll : IgemmMode::kOff;
  return IgemmMode::kOff;
}

// FUNGEN_CUDA_TILE3: unset, "" or "auto": a candidate where FUNGEN_CUDA_IGEMM=auto times; "1"
// every 3x3 convolution the kernel takes; anything else ("0") none.
IgemmMode tile3_mode() {
  const char* v = std::getenv("FUNGEN_CUDA_TILE3");
  if (!v || !*v || std::strcmp(v, "auto") == 0) return IgemmMode::kAuto;
  return std::strcmp(v, "1") == 0 ? IgemmMode::kAll : IgemmMode::kOff;
}

// FUNGEN_CUDA_PERSIST: the persistent 1x1 kernel (conv_igemm_1x1.cuh) for the 1x1 convs it
// takes: unset / "auto" timed beside the igemm tiles (FUNGEN_CUDA_IGEMM=auto; with =1 the plain
// kernel), "1" instead of the plain kernel (auto times only its tiles against cuDNN), "0" never.
PersistMode persist_mode() {
  const char* v = std::getenv("FUNGEN_CUDA_PERSIST");
  if (!v || !*v || std::strcmp(v, "auto") == 0) return PersistMode::kAuto;
  return std::strcmp(v, "1") == 0 ? PersistMode::kOnly : PersistMode::kOff;
}

// FUNGEN_CUDA_IGEMM_TILE=MxN (M 64 or 128, N 16, 32, 64 or 128): that CTA tile for every igemm
// conv instead of choose_igemm_tile's pick (under auto: the only tile timed), for tuning runs on
// the device. Other values: ignored. True when it applied.
bool override_tile(IgemmDesc& d) {
  const char* v = std::getenv("FUNGEN_CUDA_IGEMM_TILE");
  int tm = 0, tn = 0;
  if (!v || std::sscanf(v, "%dx%d", &tm, &tn) != 2) return false;
  if ((tm == 64 || tm == 128) && (tn == 16 || tn == 32 || tn == 64 || tn == 128)) {
    d.tile_m = tm;
    d.tile_n = tn;
    return true;
  }
  return false;
}

}  // namespace

// True when the node was lowered here; false leaves it to cuDNN (lower_conv), with `note` saying
// what auto measured (appended to cuDNN's step label).
Result<bool> lower_conv_igemm(CudaRun& run, const Node& node, std::string& note) {
  if (!run.ctx().nhwc || run.elem() != Elem::kF16) return false;
  const int x = node.inputs[0], w = node.inputs[1], y = node.outputs[0];
  const int b = node.inputs.size() > 2 ? node.inputs[2] : -1;
  const int z = node.inputs.size() > 3 ? node.inputs[3] : -1;
  const Shape& xs = run.shape(x);
  const Shape& ws = run.shape(w);
  const Shape& ys = run.shape(y);
  if (xs.size() != 4 || ws.size() != 4 || ys.size() != 4) return false;
  if (node.attr_int("group", 1) != 1 || ws[1] != xs[1] || ws[0] != ys[1] || xs[0] != ys[0])
    return false;
  for (int64_t dl : node.attr_ints("dilations", {1, 1})) {
    if (dl != 1) return false;
  }
  if (!((ws[2] == 1 && ws[3] == 1) || (ws[2] == 3 && ws[3] == 3))) return false;
  const IgemmMode mode = igemm_mode(ws[2], ws[3]);
  const IgemmMode mode3 = ws[2] == 3 ? tile3_mode() : IgemmMode::kOff;
  if (mode == IgemmMode::kOff && mode3 != IgemmMode::kAll) return false;
  if (run.constant(w).dtype() != DType::kFloat32) return false;
  if (b >= 0 && run.constant(b).dtype() != DType::kFloat32) return false;
  if (z >= 0 && run.shape(z) != ys) return false;
  const std::vector<int64_t> pads = node.attr_ints("pads", {0, 0, 0, 0});
  const std::vector<int64_t> strides = node.attr_ints("strides", {1, 1});
  if (pads.size() != 4 || strides.size() != 2) return false;
  for (int64_t v : {xs[0], xs[1], xs[2], xs[3], ys[1], ys[2], ys[3]}) {
    if (v <= 0 || v > (int64_t{1} << 30)) return false;
  }
  auto i32 = [](int64_t v) { return static_cast<int>(v); };
  IgemmDesc d;
  d.n = i32(xs[0]);
  d.cin = i32(xs[1]);
  d.h = i32(xs[2]);
  d.w = i32(xs[3]);
  d.cout = i32(ys[1]);
  d.oh = i32(ys[2]);
  d.ow = i32(ys[3]);
  d.kh = i32(ws[2]);
  d.kw = i32(ws[3]);
  d.sh = i32(strides[0]);
  d.sw = i32(strides[1]);
  d.ph = i32(pads[0]);
  d.pw = i32(pads[1]);
  d.silu = node.attr_string("activation", "") == "silu";
  // The output shape must be the convolution's (no ceil modes or asymmetric pads here).
  if (d.sh <= 0 || d.sw <= 0 || (d.h + 2 * d.ph - d.kh) / d.sh + 1 != d.oh ||
      (d.w + 2 * d.pw - d.kw) / d.sw + 1 != d.ow) {
    return false;
  }

  // Where the output goes: a Concat slice this kernel cannot write (row length or offset not a
  // multiple of 8) keeps the node on cuDNN; asked before placement(), which marks y as placed.
  // The detect head's anchor-major input (head_rows.h): NHWC rows of its ld, images batch_ld
  // apart; one this kernel cannot write (offsets not multiples of 8) stays on cuDNN.
  const CudaRun::AnchorSlice rows_shape =
      z < 0 ? run.anchor_slice_shape(y) : CudaRun::AnchorSlice{};
  const bool to_rows = rows_shape.buf >= 0;
  if (to_rows &&
      (rows_shape.ld % 8 != 0 || rows_shape.offset % 8 != 0 || rows_shape.batch_ld % 8 != 0))
    return false;
  const bool nchw_out = !to_rows && z < 0 && read_by_views_only(run.graph(), y);
  d.nchw_out = nchw_out;
  d.out_ld = d.cout;
  bool into_slice = false;
  if (to_rows) {
    d.out_ld = rows_shape.ld;
    d.out_img_ld = rows_shape.batch_ld;
    into_slice = true;
  } else if (!nchw_out) {
    const CudaRun::SliceShape into = run.placement_shape(y);
    if (into.ok && (into.ld % 8 != 0 || into.offset % 8 != 0)) return false;
    if (into.ok) d.out_ld = into.ld;
    into_slice = into.ok;
  }
  // Input / residual lying in a Concat slice (a Split piece not copied out, CudaRun::view_of):
  // read there with the Concat's row as the pixel stride, when the row and offset allow 16-byte
  // loads. cuDNN would need the packed copy (get() makes it): auto times cuDNN with that copy.
  auto in_place = [&](int v) {
    const CudaRun::Slice s = v >= 0 ? run.view_of(v) : CudaRun::Slice{};
    return s.buf >= 0 && s.ld % 8 == 0 && s.offset % 8 == 0 ? s : CudaRun::Slice{};
  };
  // An upsampled Concat never materialized (lower_upfuse.cpp): the kernel reads its pieces.
  const CudaRun::Upfuse* up = run.is_defined(x) ? nullptr : run.upfuse_of(x);
  const CudaRun::Slice x_view = in_place(x);
  const CudaRun::Slice z_view = in_place(z);
  if (x_view.buf >= 0) d.x_ld = x_view.ld;
  if (z_view.buf >= 0) d.z_ld = z_view.ld;
  if (!igemm_supports(d)) return false;
  const bool tile3_ok = mode3 != IgemmMode::kOff && tile3_supports(d);
  int sms = 0;
  CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, run.ctx().device));
  ConvKernel kernel = ConvKernel::kIgemm;
  std::string chosen;  // auto: ", chosen: 0.41 vs cudnn 0.56 ms" for the label
  if (up) {            // kernel and tile chosen with the pattern (FUNGEN_CUDA_UPFUSE)
    kernel = up->persist ? ConvKernel::kPersist : ConvKernel::kIgemm;
    d.tile_m = up->tile_m;
    d.tile_n = up->tile_n;
    chosen = up->note;
  } else if (tile3_ok && mode3 == IgemmMode::kAll) {
    kernel = ConvKernel::kTile3;
    choose_tile3_tile(d, sms);
  } else if (mode == IgemmMode::kOff) {
    return false;
  } else {
    choose_igemm_tile(d, sms);
    const bool fixed_tile = override_tile(d);
    const PersistMode pmode = persist_mode();
    if (pmode == PersistMode::kOnly && igemm_1x1_persist_supports(d, run.ctx().device))
      kernel = ConvKernel::kPersist;
    if (mode == IgemmMode::kAuto) {
      // Decided before placement(), which would mark y as written into its Concat slice.
      FUNGEN_ASSIGN_OR_RETURN(
          IgemmChoice c, choose_igemm_or_cudnn(run, node, d, b >= 0, z >= 0, into_slice, fixed_tile,
                                               pmode, tile3_ok));
      if (c.kernel == ConvKernel::kCudnn) {
        note = c.note;
        return false;
      }
      kernel = c.kernel;
      d.tile_m = c.tile_m;
      d.tile_n = c.tile_n;
      chosen = c.note;
    }
  }
  const bool tile3 = kernel == ConvKernel::kTile3, persist = kernel == ConvKernel::kPersist;
  const CudaRun::Slice slice = nchw_out || to_rows ? CudaRun::Slice{} : run.placement(y);
  const CudaRun::AnchorSlice rows_to = to_rows ? run.anchor_placement(y) : CudaRun::AnchorSlice{};
  if (to_rows && (rows_to.buf != rows_shape.buf || rows_to.offset != rows_shape.offset))
    return internal_error("cuda igemm: anchor-major placement of '" + node.name + "' changed");
  // NCHW: into a Concat on the last axis behind the Reshape when it is a candidate.
  const CudaRun::NchwSlice into = nchw_out ? run.placement_nchw(y) : CudaRun::NchwSlice{};
  d.nchw_ch_ld = into.buf >= 0 ? into.ch_ld : 0;
  d.nchw_batch_ld = into.buf >= 0 ? into.batch_ld : 0;
  if (slice.buf >= 0 && (slice.ld != d.out_ld || slice.offset % 8 != 0))
    return internal_error("cuda igemm: placement of '" + node.name + "' changed");
  if (slice.buf < 0 && !to_rows) d.out_ld = d.cout;  // placement_shape's concat was not NHWC
  // Read by a Concat and by other nodes: the epilogue writes y and its slice (dual store) when
  // the slice's row length and offset are multiples of 8; else the Concat copies it.
  // (tile3 writes it too; not the persistent kernel: no second output is passed to it.)
  const CudaRun::SliceShape dual_shape = nchw_out || to_rows || slice.buf >= 0 || persist
                                             ? CudaRun::SliceShape{}
                                             : run.dual_placement_shape(y);
  const CudaRun::Slice dual = dual_shape.ok && dual_shape.ld % 8 == 0 && dual_shape.offset % 8 == 0
                                  ? run.dual_placement(y)
                                  : CudaRun::Slice{};
  d.out2_ld = dual.buf >= 0 ? dual.ld : 0;

  // Weights packed once: igemm fp16 [cout_pad][k_pad], K = (r, s, c); tile3 [chunk][tap][cout][16].
  const Tensor& wt = run.constant(w);
  const std::vector<uint16_t> packed =
      tile3 ? pack_tile3_weights(wt.data<float>(), d) : pack_igemm_weights(wt.data<float>(), d);
  const int wbuf = run.persistent(packed.size() * sizeof(uint16_t));
  FUNGEN_RETURN_IF_ERROR(
      run.upload(run.ptr(wbuf), packed.data(), packed.size() * sizeof(uint16_t)));
  int bbuf = -1;
  if (b >= 0) {
    const Tensor& bt = run.constant(b);
    if (bt.numel() != ys[1]) return internal_error("cuda igemm: bias size of '" + node.name + "'");
    bbuf = run.persistent(static_cast<size_t>(bt.numel()) * sizeof(float));
    FUNGEN_RETURN_IF_ERROR(run.upload(run.ptr(bbuf), bt.data<float>(),
                                      static_cast<size_t>(bt.numel()) * sizeof(float)));
  }

  int xb = x_view.buf, zb = z_view.buf;
  const int64_t x_off = x_view.buf >= 0 ? x_view.offset : 0;
  const int64_t z_off = z_view.buf >= 0 ? z_view.offset : 0;
  UpfuseSources pieces;
  if (up) {
    FUNGEN_ASSIGN_OR_RETURN(pieces, upfuse_sources(run, *up));
    count_upfuse_read();
  } else if (xb < 0) {
    FUNGEN_ASSIGN_OR_RETURN(xb, run.get(x, Layout::kNhwc));
  }
  if (z >= 0 && zb < 0) {
    FUNGEN_ASSIGN_OR_RETURN(zb, run.get(z, Layout::kNhwc));
  }
  int outb = rows_to.buf >= 0 ? rows_to.buf : into.buf >= 0 ? into.buf : slice.buf;
  int64_t offset = rows_to.buf >= 0 ? rows_to.offset : into.buf >= 0 ? into.offset : slice.offset;
  if (outb < 0) {
    outb = run.define(y, nchw_out ? Layout::kPlain : Layout::kNhwc);
    offset = 0;
  }
  if (tile3) {
    count_tile3_conv();
  } else {
    count_igemm_conv();
    if (persist) count_igemm_1x1_persist_conv();
  }
  CudaRun* r = &run;
  // "name (igemm|tile3 3x3s2 64->128 @80x80 tile 128x128[, residual][, into concat][, NCHW out])":
  // the node name first, as in cuDNN's step label, so profiles of both paths join per node.
  auto str = [](int64_t v) { return std::to_string(v); };
  const std::string label =
      node.name +
      (tile3     ? " (tile3 "
       : persist ? " (igemm persistent "
                 : " (igemm ") +
      str(d.kh) + "x" + str(d.kw) + "s" + str(d.sh) + " " + str(d.cin) + "->" + str(d.cout) + " @" +
      str(d.oh) + "x" + str(d.ow) + " tile " + str(d.tile_m) + "x" + str(d.tile_n) +
      (zb >= 0 ? ", residual" : "") + (d.x_ld > 0 ? ", strided in" : "") +
      (d.z_ld > 0 ? ", strided residual" : "") + (slice.buf >= 0 ? ", into concat" : "") +
      (dual.buf >= 0 ? ", and into concat" : "") + (nchw_out ? ", NCHW out" : "") +
      (into.buf >= 0 ? " into concat" : "") +
      (to_rows ? ", into the head's anchor-major input" : "") + chosen + ")";
  std::vector<int> bufs = {xb, zb, wbuf, bbuf, outb, dual.buf};
  bufs.insert(bufs.end(), pieces.buf, pieces.buf + kIgemmMaxPieces);
  run.add_step(label, bufs, [=](cudaStream_t st) {
    const float* bp = bbuf >= 0 ? static_cast<const float*>(r->ptr(bbuf)) : nullptr;
    void* out = static_cast<std::byte*>(r->ptr(outb)) + offset * 2;  // fp16 elements
    const void* xp = xb >= 0 ? static_cast<const std::byte*>(r->ptr(xb)) + x_off * 2 : nullptr;
    const void* zp = zb >= 0 ? static_cast<const std::byte*>(r->ptr(zb)) + z_off * 2 : nullptr;
    void* out2 =
        dual.buf >= 0 ? static_cast<std::byte*>(r->ptr(dual.buf)) + dual.offset * 2 : nullptr;
    const IgemmPieces ps = pieces.at(*r);
    if (up && persist) {
      CUDA_CHECK(launch_conv_igemm_1x1_persist(d, nullptr, r->ptr(wbuf), bp, zp, out, st, 0, &ps));
    } else if (up) {
      CUDA_CHECK(launch_conv_igemm_pieces(d, ps, r->ptr(wbuf), bp, zp, out, st, out2));
    } else if (tile3) {
      CUDA_CHECK(launch_conv_tile3(d, xp, r->ptr(wbuf), bp, zp, out, st, 0, out2));
    } else if (persist) {
      CUDA_CHECK(launch_conv_igemm_1x1_persist(d, xp, r->ptr(wbuf), bp, zp, out, st));
    } else {
      CUDA_CHECK(launch_conv_igemm(d, xp, r->ptr(wbuf), bp, zp, out, st, out2));
    }
    return Status();
  });
  if (rows_to.buf >= 0) run.narrow_to_anchor_slice(rows_to, d.n, int64_t{d.oh} * d.ow, d.cout);
  return true;
}

}  // namespace fungen::cuda
