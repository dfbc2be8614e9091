// pipeline_bench — the detector's GPU pre/post-processing checked against the CPU path, then
// frame → detections latency and throughput.
//
//   fungen_pipeline_bench --model yolo11n_dyn.onnx [--batches 1,8,32] [--iterations 200]
//                         [--precision fp16|fp32] [--seed N] [--check-only] [--conf 0.25]
//
// Checks (fresh random inputs each run; the seed is printed): (1) the fused letterbox kernel
// (BGR, RGB, NV12 BT.709 limited / BT.601 full, each with and without a remap table, odd sizes)
// against the CPU reference (detect/letterbox.cpp after a plain sampler written here from
// video/frame_sampler's rules), fp32 must be exact, fp16 within fp16 rounding; (2) GPU NMS
// (raw heads with clustered boxes and tied scores, end-to-end heads, several option sets)
// against detect/postprocess.cpp, equal field for field; (3) Detector::detect with the GPU
// pipeline against the same engine's CPU pre/post-processing, equal detections. Timing: a
// 1920×1080 BGR frame in pinned (and pageable) host memory → detections in host memory, wall
// time per call (median, p90) at batch 1; images/s at the larger batches.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench/gpu/pipeline_checks.h"
#include "detect/gpu_pipeline.h"
#include "detect/postprocess.h"
#include "fungen/detector.h"
#include "fungen/engine.h"
#include "runtime/device_run.h"

namespace {

using namespace fungen;

double pct(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))];
}

double now_ms() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string describe(const Detection& d) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "class %d conf %.9g box (%.9g, %.9g, %.9g, %.9g)", d.class_id,
                d.confidence, d.x1, d.y1, d.x2, d.y2);
  return buf;
}

// Equal detections; `why` names the first difference (with both detections).
bool same(const std::vector<std::vector<Detection>>& a,
          const std::vector<std::vector<Detection>>& b, std::string& why) {
  if (a.size() != b.size()) return why = "frame count", false;
  for (size_t k = 0; k < a.size(); ++k) {
    if (a[k].size() != b[k].size()) {
      why = "frame " + std::to_string(k) + ": " + std::to_string(a[k].size()) + " vs " +
            std::to_string(b[k].size()) + " detections";
      return false;
    }
    for (size_t i = 0; i < a[k].size(); ++i) {
      const Detection &x = a[k][i], &y = b[k][i];
      if (x.class_id != y.class_id || x.confidence != y.confidence || x.x1 != y.x1 ||
          x.y1 != y.y1 || x.x2 != y.x2 || x.y2 != y.y2) {
        why = "frame " + std::to_string(k) + " detection " + std::to_string(i) + " differs: gpu " +
              describe(x) + " | cpu " + describe(y);
        return false;
      }
    }
  }
  return true;
}

// Detector::detect's CPU pre/post-processing around the same engine (same plan, same cuDNN
// algorithms, so the model's outputs are bit-identical given identical inputs).
Result<std::vector<std::vector<Detection>>> host_path(Detector& det, std::span<const Frame> frames,
                                                      const DetectOptions& o) {
  auto input = det.preprocess(frames);
  if (!input.ok()) return input.status();
  std::vector<Tensor> outs;
  FUNGEN_RETURN_IF_ERROR(det.engine().run({&input.value(), 1}, outs));
  const Tensor& out = outs[0];
  const int d1 = static_cast<int>(out.dim(1)), d2 = static_cast<int>(out.dim(2));
  std::vector<std::vector<Detection>> result(frames.size());
  for (size_t k = 0; k < frames.size(); ++k) {
    const float* v = out.data<float>() + k * static_cast<size_t>(d1) * d2;
    std::vector<detect::Candidate> boxes =
        det.layout() == HeadLayout::kRaw
            ? detect::non_max_suppression(detect::raw_candidates(v, d1, d2, o), o)
            : detect::end_to_end_candidates(v, d1, d2, o);
    const Frame& f = frames[k];
    detect::map_to_frame(boxes,
                         letterbox_params(f.width, f.height, det.input_width(), det.input_height()),
                         f.width, f.height);
    for (const detect::Candidate& b : boxes)
      result[k].push_back(
          Detection{b.class_id, det.class_name(b.class_id), b.score, b.x1, b.y1, b.x2, b.y2});
    std::stable_sort(
        result[k].begin(), result[k].end(),
        [](const Detection& a, const Detection& b) { return a.confidence > b.confidence; });
  }
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model, precision = "fp16", batches_arg = "1,8,32";
  int iterations = 200;
  bool check_only = false;
  float timing_conf = 0.25f;
  uint32_t seed = std::random_device{}();
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--model")
      model = next();
    else if (a == "--batches")
      batches_arg = next();
    else if (a == "--iterations")
      iterations = std::stoi(next());
    else if (a == "--precision")
      precision = next();
    else if (a == "--check-only")
      check_only = true;
    else if (a == "--conf")
      timing_conf = std::stof(next());
    else if (a == "--seed")
      seed = static_cast<uint32_t>(std::stoul(next()));
    else {
      std::fprintf(stderr,
                   "usage: %s --model M.onnx [--batches 1,8,32] [--iterations N] "
                   "[--precision fp16|fp32] [--seed N] [--check-only] [--conf C]\n",
                   argv[0]);
      return 2;
    }
  }
  std::printf("seed %u\n", seed);
  int failures = bench::check_reference_sampler(seed + 3);
  int dev_count = 0;
  if (cudaGetDeviceCount(&dev_count) != cudaSuccess || dev_count == 0) {
    std::printf("FAIL no CUDA device\n");
    return 1;
  }
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  std::printf("device: %s\n", prop.name);
  failures += bench::check_preprocess(seed);
  failures += bench::check_postprocess(seed + 1);
  if (model.empty()) {
    std::printf("no --model: detector checks and timings skipped\n");
    return failures ? 1 : 0;
  }

  // A detector on a cuda engine: its GPU pipeline vs the CPU pre/post-processing around the
  // same engine.
  auto gpu_det = [&]() -> Result<Detector> {
    auto e = Engine::load(model, {.backend = "cuda", .precision = precision});
    if (!e.ok()) return e.status();
    return Detector::from_engine(std::move(e).value(), {});
  }();
  if (!gpu_det.ok()) {
    std::printf("FAIL load %s: %s\n", model.c_str(), gpu_det.status().message().c_str());
    return 1;
  }
  const int in_w = gpu_det->input_width(), in_h = gpu_det->input_height();
  {
    detect::GpuPipeline probe(gpu_det->engine(), in_w, in_h);
    auto on = probe.available(gpu_det->static_batch() > 0 ? gpu_det->static_batch() : 1);
    std::printf("%s gpu pipeline active for %s (%s)\n", on.ok() && on.value() ? "PASS" : "FAIL",
                model.c_str(), precision.c_str());
    if (!on.ok() || !on.value()) ++failures;
  }

  // (3) detect: GPU pipeline vs CPU pre/post on the same kind of engine.
  std::mt19937 rng(seed + 2);
  const int sizes[][2] = {{1920, 1080}, {1277, 713}, {640, 640}, {333, 999}};
  std::vector<Image> images;
  for (auto& s : sizes) images.push_back(bench::random_image(s[0], s[1], rng));
  std::vector<Frame> frames;
  for (auto& im : images) frames.push_back(im.frame());
  for (float conf : {0.25f, 0.05f}) {
    DetectOptions opt;
    opt.conf = conf;
    // A static-batch model gets exactly its batch (the frames repeated).
    size_t n =
        gpu_det->static_batch() > 0 ? static_cast<size_t>(gpu_det->static_batch()) : frames.size();
    std::vector<Frame> fr;
    for (size_t k = 0; k < n; ++k) fr.push_back(frames[k % frames.size()]);
    auto a = gpu_det->detect(fr, opt);
    auto b = host_path(*gpu_det, fr, opt);
    std::string why;
    bool ok = a.ok() && b.ok() && same(a.value(), b.value(), why);
    size_t count = 0;
    if (a.ok())
      for (auto& v : a.value()) count += v.size();
    std::printf(
        "%s detect gpu pipeline == cpu pre/post (conf %.2f, %zu frames, %zu detections)%s%s\n",
        ok ? "PASS" : "FAIL", conf, n, count, why.empty() ? "" : ": ", why.c_str());
    if (!a.ok()) std::printf("  gpu: %s\n", a.status().message().c_str());
    if (!b.ok()) std::printf("  cpu: %s\n", b.status().message().c_str());
    failures += ok ? 0 : 1;
    if (!ok && a.ok() && b.ok()) {
      std::string what = "check frames, conf " + std::to_string(conf);
      bench::diagnose_pipeline(*gpu_det, fr, opt, what.c_str());
    }
  }
  // For scale (INFO, not a check: the model itself differs, fp16 GPU vs fp32 CPU): the CPU
  // backend's detections on the 1080p frame that the GPU pipeline reproduces (same class, IoU
  // >= 0.9).
  if (gpu_det->static_batch() <= 1) {
    DetectorOptions cpu_opt;
    cpu_opt.backend = "cpu";
    auto cpu_det = Detector::load(model, cpu_opt);
    cpu_opt.backend = "reference";
    if (!cpu_det.ok()) cpu_det = Detector::load(model, cpu_opt);
    DetectOptions opt;
    auto a = gpu_det->detect({frames.data(), 1}, opt);
    auto c = cpu_det.ok() ? cpu_det->detect({frames.data(), 1}, opt)
                          : Result<std::vector<std::vector<Detection>>>(cpu_det.status());
    if (a.ok() && c.ok()) {
      size_t found = 0;
      for (const Detection& d : c.value()[0]) {
        for (const Detection& g : a.value()[0]) {
          float w = std::min(d.x2, g.x2) - std::max(d.x1, g.x1);
          float h = std::min(d.y2, g.y2) - std::max(d.y1, g.y1);
          float inter = std::max(w, 0.f) * std::max(h, 0.f);
          float uni = (d.x2 - d.x1) * (d.y2 - d.y1) + (g.x2 - g.x1) * (g.y2 - g.y1) - inter;
          if (d.class_id == g.class_id && uni > 0 && inter / uni >= 0.9f) {
            ++found;
            break;
          }
        }
      }
      std::printf("INFO cpu backend: %zu detections, %zu reproduced by the gpu pipeline (%s)\n",
                  c.value()[0].size(), found, precision.c_str());
    } else {
      std::printf("INFO cpu backend comparison skipped: %s\n",
                  (a.ok() ? c.status() : a.status()).message().c_str());
    }
  }

  if (check_only) {
    std::printf("%s pipeline_bench checks: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
    return failures ? 1 : 0;
  }

  // Timing: 1080p BGR frames in pinned / pageable host memory → detections in host memory.
  const int fw = 1920, fh = 1080;
  const size_t fbytes = static_cast<size_t>(fw) * fh * 3;
  std::vector<int> batches;
  {
    std::stringstream ss(batches_arg);
    std::string t;
    while (std::getline(ss, t, ',')) batches.push_back(std::stoi(t));
  }
  int max_b = *std::max_element(batches.begin(), batches.end());
  auto* pinned = static_cast<uint8_t*>(detect::GpuPipeline::alloc_pinned(fbytes * max_b));
  std::vector<uint8_t> pageable(fbytes * max_b);
  for (size_t i = 0; i < fbytes * max_b; ++i) pageable[i] = static_cast<uint8_t>(rng());
  std::memcpy(pinned, pageable.data(), pageable.size());
  // The timed frames through both paths once at each batch, and stage by stage (dets/frame 0 at
  // a batch is then either the model's outputs or the pipeline).
  std::printf(
      "\nINFO per-batch checks: image k is the same frame at every batch, so its 'anchors above "
      "conf' should match across batches (a batch where they drop is the model's, not the "
      "pipeline's)\n");
  for (int b : batches) {
    if (gpu_det->static_batch() > 0 && b != gpu_det->static_batch()) continue;
    std::vector<Frame> fb;
    for (int k = 0; k < b; ++k) fb.push_back(Frame{fw, fh, fw * 3, pinned + k * fbytes});
    DetectOptions opt;
    opt.conf = timing_conf;
    auto a = gpu_det->detect(fb, opt);
    auto h = host_path(*gpu_det, fb, opt);
    std::string why;
    bool ok = a.ok() && h.ok() && same(a.value(), h.value(), why);
    size_t ga = 0, ca = 0;
    for (size_t k = 0; a.ok() && k < a->size(); ++k) ga += (*a)[k].size();
    for (size_t k = 0; h.ok() && k < h->size(); ++k) ca += (*h)[k].size();
    std::printf(
        "%s detect batch %d (1080p random frames, conf %.2f): gpu %zu, cpu path %zu "
        "detections%s%s\n",
        ok ? "PASS" : "FAIL", b, timing_conf, ga, ca, why.empty() ? "" : ": ", why.c_str());
    failures += ok ? 0 : 1;
    std::string what = "batch " + std::to_string(b);
    failures += bench::diagnose_pipeline(*gpu_det, fb, opt, what.c_str()) > 0 ? 1 : 0;
  }
  std::printf("\n%-8s %-6s %10s %10s %10s %12s\n", "memory", "batch", "median ms", "p90 ms",
              "img/s", "dets/frame");
  for (bool use_pinned : {true, false}) {
    for (int b : batches) {
      if (gpu_det->static_batch() > 0 && b != gpu_det->static_batch()) continue;
      std::vector<Frame> fb;
      for (int k = 0; k < b; ++k)
        fb.push_back(Frame{fw, fh, fw * 3, (use_pinned ? pinned : pageable.data()) + k * fbytes});
      DetectOptions opt;
      opt.conf = timing_conf;
      std::vector<double> ms;
      size_t dets = 0;
      int iters = std::max(10, iterations / std::max(1, b / 4));
      for (int it = 0; it < iters + 5; ++it) {
        double t0 = now_ms();
        auto r = gpu_det->detect(fb, opt);
        double t1 = now_ms();
        if (!r.ok()) {
          std::printf("FAIL detect batch %d: %s\n", b, r.status().message().c_str());
          return 1;
        }
        if (it >= 5) ms.push_back(t1 - t0);
        dets = 0;
        for (auto& v : r.value()) dets += v.size();
      }
      double med = pct(ms, 0.5);
      std::printf("%-8s %-6d %10.3f %10.3f %10.0f %12.1f\n", use_pinned ? "pinned" : "pageable", b,
                  med, pct(ms, 0.9), 1000.0 * b / med, static_cast<double>(dets) / b);
    }
  }
  for (int method : {0, 1, 2})
    failures += bench::print_breakdown(*gpu_det, pinned, fw, fh, timing_conf, iterations, method);
  detect::GpuPipeline::free_pinned(pinned);
  std::printf("%s pipeline_bench: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
  return failures ? 1 : 0;
}
