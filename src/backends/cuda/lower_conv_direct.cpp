// Convolutions run by the backend's own kernels (conv_direct.cuh) instead of cuDNN, NHWC only:
// depthwise ones (cuDNN's grouped direct kernel was ~12% of YOLO11n's time at batch 128) and
// those with at most kDirectMaxCin input channels (the first layer: reads the plain input, so
// no NCHW -> NHWC pass and no 3-channel cuDNN kernel). Bias, SiLU and the residual are folded
// in; the output goes straight into its Concat slice when CudaRun::placement gives one.
// FUNGEN_CUDA_DIRECT=0 sends every convolution to cuDNN (for comparison).
// The stem (3 -> 16/32, 3x3) runs the band kernel (conv_stem.cuh) where it fits: in fp16 runs it
// reads the model input's fp32 staging under run(), so the input cast is skipped, and the fp16
// input under enqueue(). FUNGEN_CUDA_STEM=old: the first stem kernel (conv_direct.cuh) after the
// cast, as before (for A/B runs). In fp16 runs a stem whose only reader is a 3x3 stride-2 conv
// may run with it as one kernel (lower_conv_stemfuse.cpp, FUNGEN_CUDA_STEMFUSE).
// Depthwise convolutions run the row-run kernel (conv_depthwise.cuh) where it takes the shape;
// FUNGEN_CUDA_DW=old: the first depthwise kernel everywhere (for A/B runs); 8|4|2 forces a run.
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "backends/cuda/conv_depthwise.cuh"
#include "backends/cuda/conv_direct.cuh"
#include "backends/cuda/conv_stem.cuh"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cuda_run.h"

namespace fungen::cuda {

namespace {

bool direct_enabled() {
  const char* v = std::getenv("FUNGEN_CUDA_DIRECT");
  return !(v && std::strcmp(v, "0") == 0);
}

bool old_stem() {
  const char* v = std::getenv("FUNGEN_CUDA_STEM");
  return v && std::strcmp(v, "old") == 0;
}

// Host fp32 weights, uploaded once into a persistent buffer of the run.
Result<int> upload(CudaRun& run, const std::vector<float>& host) {
  int buf = run.persistent(host.size() * sizeof(float));
  if (!run.ptr(buf)) return out_of_memory("cuda: cannot allocate convolution weights");
  FUNGEN_RETURN_IF_ERROR(run.upload(run.ptr(buf), host.data(), host.size() * sizeof(float)));
  return buf;
}

}  // namespace

// lower_conv_stemfuse.cpp: the stem and its only reader as one step (true), else nothing done.
Result<bool> lower_stem_fused(CudaRun& run, const Node& node, const DirectConvDesc& a,
                              std::shared_ptr<StemWeights> wa);

// True when the node was lowered here; false leaves it to cuDNN (lower_conv).
Result<bool> lower_conv_direct(CudaRun& run, const Node& node) {
  if (!run.ctx().nhwc || !direct_enabled()) return false;
  const int x = node.inputs[0], w = node.inputs[1], y = node.outputs[0];
  const int b = node.inputs.size() > 2 ? node.inputs[2] : -1;
  const int z = node.inputs.size() > 3 ? node.inputs[3] : -1;
  const Shape& xs = run.shape(x);
  const Shape& ws = run.shape(w);
  const Shape& ys = run.shape(y);
  const int64_t group = node.attr_int("group", 1);
  for (int64_t dl : node.attr_ints("dilations", {1, 1})) {
    if (dl != 1) return false;
  }
  const bool depthwise = group > 1 && group == xs[1] && group == ys[1] && ws[1] == 1;
  const int64_t weights = ws[0] * ws[1] * ws[2] * ws[3];
  const bool small_cin = group == 1 && xs[1] <= kDirectMaxCin && ys[1] % kDirectCoutChunk == 0 &&
                         z < 0 && weights * static_cast<int64_t>(sizeof(float)) <= 48 * 1024;
  if (!depthwise && !small_cin) return false;

  std::vector<int64_t> pads = node.attr_ints("pads", {0, 0, 0, 0});
  std::vector<int64_t> strides = node.attr_ints("strides", {1, 1});
  DirectConvDesc d;
  d.n = xs[0];
  d.cin = xs[1];
  d.h = xs[2];
  d.w = xs[3];
  d.cout = ys[1];
  d.oh = ys[2];
  d.ow = ys[3];
  d.kh = static_cast<int>(ws[2]);
  d.kw = static_cast<int>(ws[3]);
  d.sh = static_cast<int>(strides[0]);
  d.sw = static_cast<int>(strides[1]);
  d.ph = static_cast<int>(pads[0]);
  d.pw = static_cast<int>(pads[1]);
  d.silu = node.attr_string("activation", "") == "silu";

  const Tensor& wt = run.constant(w);
  const float* src = wt.data<float>();
  const int64_t kh = ws[2], kw = ws[3], co = ws[0], ci = ws[1];
  // The 3-channel 3x3 stem: weights and bias in the kernel's parameters (conv_direct.cuh).
  const bool stem = !depthwise && stem_conv_fits(d) && (b < 0 || run.constant(b).numel() == co);
  auto stem_w = std::make_shared<StemWeights>();
  int wbuf = -1, bbuf = -1;
  if (stem) {
    constexpr int kTaps = kStemCin * kStemK * kStemK;
    for (int64_t o = 0; o < co; ++o) {
      for (int64_t t = 0; t < kTaps; ++t)
        stem_w->w[((o / 16) * kTaps + t) * 16 + o % 16] = src[o * kTaps + t];
      stem_w->bias[o] = b >= 0 ? run.constant(b).data<float>()[o] : 0.0f;
    }
  } else {
    // Weights rearranged on the host: depthwise [kh][kw][C], small C_in [C_in][kh][kw][C_out].
    std::vector<float> host(static_cast<size_t>(weights));
    for (int64_t o = 0; o < co; ++o) {
      for (int64_t i = 0; i < ci; ++i) {
        for (int64_t r = 0; r < kh * kw; ++r) {
          const float v = src[(o * ci + i) * kh * kw + r];
          if (depthwise)
            host[static_cast<size_t>(r * co + o)] = v;
          else
            host[static_cast<size_t>((i * kh * kw + r) * co + o)] = v;
        }
      }
    }
    FUNGEN_ASSIGN_OR_RETURN(wbuf, upload(run, host));
    if (b >= 0) {
      const Tensor& bt = run.constant(b);
      FUNGEN_ASSIGN_OR_RETURN(
          bbuf, upload(run, std::vector<float>(bt.data<float>(), bt.data<float>() + bt.numel())));
    }
  }

  // The stem and the 3x3 stride-2 conv reading it as one kernel (lower_conv_stemfuse.cpp).
  if (stem && !old_stem()) {
    FUNGEN_ASSIGN_OR_RETURN(bool fused, lower_stem_fused(run, node, d, stem_w));
    if (fused) return true;
  }
  // Depthwise reads NHWC; the small-C_in kernel reads the plain layout (the model input).
  FUNGEN_ASSIGN_OR_RETURN(int xb, run.get(x, depthwise ? Layout::kNhwc : Layout::kPlain));
  int zb = -1;
  if (z >= 0) {
    FUNGEN_ASSIGN_OR_RETURN(zb, run.get(z, Layout::kNhwc));
  }
  const CudaRun::Slice slice = run.placement(y);
  int outb = slice.buf;
  int64_t offset = slice.offset;
  d.out_ld = slice.ld;
  if (slice.buf < 0) {
    outb = run.define(y, Layout::kNhwc);
    offset = 0;
    d.out_ld = d.cout;
  }
  const Elem e = run.elem();
  CudaRun* r = &run;
  // The band kernel needs 16-byte aligned output rows (arena buffers are 64-byte aligned).
  const bool band = stem && !old_stem() && stem_band_fits(d) && offset % 8 == 0;
  const int staging = band ? run.input_staging(x) : -1;  // fp32 model input, read under run()
  if (staging >= 0) run.read_from_staging(x);
  if (band) count_stem_band_conv();
  // The depthwise row-run length (0: the first kernel), fixed with the run's shapes.
  int dw_run = 0;
  if (depthwise) {
    int sms = 0;
    CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, run.ctx().device));
    dw_run = depthwise_run_length(d, e, sms, std::getenv("FUNGEN_CUDA_DW"));
    if (offset % (16 / static_cast<int64_t>(elem_size(e))) != 0) dw_run = 0;  // 16-byte rows
    if (dw_run > 0) count_depthwise_rows();
  }
  const std::string label =
      node.name +
      (dw_run > 0  ? " (depthwise rows kernel, run " + std::to_string(dw_run)
       : depthwise ? std::string(" (depthwise kernel")
       : band      ? (staging >= 0 ? " (stem band kernel, fp32 input" : " (stem band kernel")
       : stem      ? " (stem kernel"
                   : " (small-cin kernel") +
      (slice.buf >= 0 ? ", into concat)" : ")");
  run.add_step(label, {xb, zb, wbuf, bbuf, outb, staging}, [=](cudaStream_t st) {
    void* out = static_cast<std::byte*>(r->ptr(outb)) + offset * elem_size(e);
    if (band) {
      const bool staged = staging >= 0 && r->from_staging();
      if (!launch_stem_band(staged ? Elem::kF32 : e, e, r->ptr(staged ? staging : xb), *stem_w, out,
                            d, st)) {
        return internal_error("cuda: stem band kernel refused its buffers (alignment)");
      }
      return Status();
    }
    if (stem) {
      launch_stem_conv(e, r->ptr(xb), *stem_w, out, d, st);
      return Status();
    }
    const float* wp = static_cast<const float*>(r->ptr(wbuf));
    const float* bp = bbuf >= 0 ? static_cast<const float*>(r->ptr(bbuf)) : nullptr;
    const void* zp = zb >= 0 ? r->ptr(zb) : nullptr;
    if (dw_run > 0 && launch_depthwise_rows(e, dw_run, r->ptr(xb), wp, bp, zp, out, d, st))
      return Status();
    if (depthwise)
      launch_depthwise_conv(e, r->ptr(xb), wp, bp, zp, out, d, st);
    else
      launch_small_cin_conv(e, r->ptr(xb), wp, bp, out, d, st);
    return Status();
  });
  return true;
}

}  // namespace fungen::cuda
