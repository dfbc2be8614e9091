// pipeline_diagnose.cpp — where the detector's GPU pipeline and its CPU pre/post-processing part
// on the same engine, stage by stage: the model inputs both produce (fp16: bit for bit against
// the CPU letterbox rounded to fp16), the model outputs, the GPU NMS against the CPU NMS of the
// very same model output, and the score statistics of the outputs (a model that yields no
// candidate shows up here, not as an NMS bug).
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/gpu/pipeline_checks.h"
#include "detect/gpu_pipeline.h"
#include "detect/postprocess.h"
#include "ops/op_util.h"
#include "runtime/device_run.h"

namespace fungen::bench {
namespace {

std::string describe(const detect::Candidate& c) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "class %d score %.9g box (%.9g, %.9g, %.9g, %.9g)", c.class_id,
                c.score, c.x1, c.y1, c.x2, c.y2);
  return buf;
}

bool same_candidate(const detect::Candidate& a, const detect::Candidate& b) {
  return a.class_id == b.class_id && a.score == b.score && a.x1 == b.x1 && a.y1 == b.y1 &&
         a.x2 == b.x2 && a.y2 == b.y2;
}

// First difference of two candidate lists, or "" when equal.
std::string first_difference(const std::vector<detect::Candidate>& gpu,
                             const std::vector<detect::Candidate>& cpu) {
  const size_t n = std::min(gpu.size(), cpu.size());
  for (size_t i = 0; i < n; ++i) {
    if (!same_candidate(gpu[i], cpu[i])) {
      return "box " + std::to_string(i) + ": gpu " + describe(gpu[i]) + " | cpu " +
             describe(cpu[i]);
    }
  }
  if (gpu.size() != cpu.size()) {
    return std::to_string(gpu.size()) + " boxes on the gpu vs " + std::to_string(cpu.size()) +
           " on the cpu";
  }
  return "";
}

struct Diff {
  size_t differing = 0, first = 0, nan_a = 0, nan_b = 0;
  double max_abs = 0;
};

Diff compare(const float* a, const float* b, size_t n) {
  Diff d;
  for (size_t i = 0; i < n; ++i) {
    d.nan_a += std::isnan(a[i]) ? 1 : 0;
    d.nan_b += std::isnan(b[i]) ? 1 : 0;
    if (a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i]))) continue;
    if (d.differing++ == 0) d.first = i;
    d.max_abs = std::max(d.max_abs, static_cast<double>(std::fabs(a[i] - b[i])));
  }
  return d;
}

// Raw head [C, A] of one image: highest class score, anchors whose best score is above conf.
void score_stats(const float* o, int channels, int anchors, float conf, float& best, int& above) {
  best = -INFINITY;
  above = 0;
  for (int a = 0; a < anchors; ++a) {
    float m = -1.f;
    for (int c = 4; c < channels; ++c) m = std::max(m, o[static_cast<size_t>(c) * anchors + a]);
    best = std::max(best, m);
    above += m > conf ? 1 : 0;
  }
}

}  // namespace

int diagnose_pipeline(Detector& det, std::span<const Frame> frames, const DetectOptions& o,
                      const char* what) {
  const int batch = static_cast<int>(frames.size());
  int failures = 0;
  detect::GpuPipeline pipe(det.engine(), det.input_width(), det.input_height());
  pipe.keep_input(true);  // the input as the letterbox wrote it, before the model reuses it
  std::vector<std::vector<detect::Candidate>> gpu;
  Status s = pipe.detect(frames, batch, o, det.layout(), gpu);
  auto in_gpu = s.ok() ? pipe.input_on_host(batch) : Result<Tensor>(s);
  auto out_gpu = s.ok() ? pipe.output_on_host(batch) : Result<Tensor>(s);
  auto in_cpu = det.preprocess(frames);
  if (!in_gpu.ok() || !out_gpu.ok() || !in_cpu.ok()) {
    std::printf("FAIL diagnose %s: %s\n", what,
                (!in_gpu.ok()    ? in_gpu.status()
                 : !out_gpu.ok() ? out_gpu.status()
                                 : in_cpu.status())
                    .message()
                    .c_str());
    return 1;
  }
  // (a) Model inputs. The CPU's fp32 letterbox is cast to fp16 by the engine (round to nearest
  // even), so with an fp16 engine compare against that rounding.
  Shape shape{batch, 3, det.input_height(), det.input_width()};
  auto run = device_run_of(det.engine(), {&shape, 1});
  const bool half =
      run.ok() && run.value() && run.value()->device_input(0).dtype == DType::kFloat16;
  Tensor expect = in_cpu.value();
  if (half) {
    float* v = expect.data<float>();
    for (int64_t i = 0; i < expect.numel(); ++i) v[i] = float16_to_float(float_to_float16(v[i]));
  }
  Diff din =
      compare(in_gpu->data<float>(), expect.data<float>(), static_cast<size_t>(expect.numel()));
  const int64_t plane = static_cast<int64_t>(det.input_width()) * det.input_height();
  std::printf("%s diagnose %s: model inputs (%s) %zu of %lld elements differ, max abs diff %.3g",
              din.differing ? "FAIL" : "PASS", what, half ? "fp16 bits" : "fp32", din.differing,
              static_cast<long long>(expect.numel()), din.max_abs);
  if (din.differing) {
    const int64_t i = static_cast<int64_t>(din.first);
    std::printf(" (first: image %lld channel %lld y %lld x %lld: gpu %.9g cpu %.9g)",
                static_cast<long long>(i / (3 * plane)), static_cast<long long>(i / plane % 3),
                static_cast<long long>(i % plane / det.input_width()),
                static_cast<long long>(i % det.input_width()), in_gpu->data<float>()[din.first],
                expect.data<float>()[din.first]);
  }
  std::printf("\n");
  failures += din.differing ? 1 : 0;
  // (b) Model outputs: the engine run on the CPU letterbox vs the pipeline's device run.
  std::vector<Tensor> outs;
  s = det.engine().run({&in_cpu.value(), 1}, outs);
  if (!s.ok() || outs.empty() || outs[0].shape() != out_gpu->shape()) {
    std::printf("FAIL diagnose %s: engine run: %s\n", what,
                s.ok() ? "output shape differs" : s.message().c_str());
    return failures + 1;
  }
  const Tensor& out_cpu = outs[0];
  Diff dout =
      compare(out_gpu->data<float>(), out_cpu.data<float>(), static_cast<size_t>(out_cpu.numel()));
  std::printf(
      "%s diagnose %s: model outputs %s: %zu of %lld differ, max abs diff %.3g, NaN gpu "
      "%zu cpu %zu\n",
      dout.differing ? "FAIL" : "PASS", what, shape_to_string(out_cpu.shape()).c_str(),
      dout.differing, static_cast<long long>(out_cpu.numel()), dout.max_abs, dout.nan_a,
      dout.nan_b);
  failures += dout.differing ? 1 : 0;
  // (c) NMS: the GPU's boxes vs the CPU's NMS of the GPU's own model output (isolates the NMS),
  // and vs the CPU's NMS of the CPU-fed output (the whole path).
  const int d1 = static_cast<int>(out_cpu.dim(1)), d2 = static_cast<int>(out_cpu.dim(2));
  const size_t image = static_cast<size_t>(d1) * d2;
  for (int k = 0; k < batch; ++k) {
    auto cpu_nms = [&](const float* v) {
      return det.layout() == HeadLayout::kRaw
                 ? detect::non_max_suppression(detect::raw_candidates(v, d1, d2, o), o)
                 : detect::end_to_end_candidates(v, d1, d2, o);
    };
    const auto own = cpu_nms(out_gpu->data<float>() + k * image);
    const auto whole = cpu_nms(out_cpu.data<float>() + k * image);
    const std::string nms_diff = first_difference(gpu[static_cast<size_t>(k)], own);
    const std::string path_diff = first_difference(gpu[static_cast<size_t>(k)], whole);
    std::string stats;
    if (det.layout() == HeadLayout::kRaw) {
      float best_g, best_c;
      int above_g, above_c;
      score_stats(out_gpu->data<float>() + k * image, d1, d2, o.conf, best_g, above_g);
      score_stats(out_cpu.data<float>() + k * image, d1, d2, o.conf, best_c, above_c);
      char buf[200];
      std::snprintf(buf, sizeof buf,
                    "; best score gpu %.6g cpu %.6g, anchors above conf %.2f gpu %d cpu %d", best_g,
                    best_c, o.conf, above_g, above_c);
      stats = buf;
    }
    const bool bad = !nms_diff.empty() || !path_diff.empty();
    if (bad || k < 2 || k == batch - 1) {
      std::printf(
          "%s diagnose %s image %d: gpu %zu boxes, cpu nms of the gpu output %zu%s%s, "
          "cpu path %zu%s%s%s\n",
          bad ? "FAIL" : "PASS", what, k, gpu[static_cast<size_t>(k)].size(), own.size(),
          nms_diff.empty() ? "" : " DIFFER: ", nms_diff.c_str(), whole.size(),
          path_diff.empty() ? "" : " DIFFER: ", path_diff.c_str(), stats.c_str());
    }
    failures += bad ? 1 : 0;
  }
  return failures;
}

}  // namespace fungen::bench
