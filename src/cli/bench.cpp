// fungen bench — time a model on random inputs: median and p90 milliseconds per batch,
// images per second and peak resident memory, warm-up excluded.
//
//   fungen bench --model yolo11n.onnx --batch 4 --iterations 50 --threads 2 --json
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/agreement.h"
#include "cli/commands.h"
#include "cli/precision_flags.h"
#include "fungen/engine.h"

namespace fungen::cli {
namespace {

struct BenchOptions {
  std::string model;
  int batch = 1;
  int iterations = 20;
  int warmup = 3;
  int threads = 0;
  int size = 0;  // input height/width for models with dynamic spatial dims; 0: imgsz or 640
  PrecisionFlags precision;
  std::string backend = "auto";
  bool json = false;
  bool agreement = false;  // also measure agreement with fp32 (compare-precision)
  std::string agreement_images;
};

// The shape to run input `info` at: declared dims, with batch and dynamic sizes filled in.
Result<Shape> bench_shape(const Engine& engine, const TensorInfo& info, const BenchOptions& opt) {
  Shape s(info.shape.begin(), info.shape.end());
  if (s.empty()) return invalid_argument("input '" + info.name + "' has no shape to bench with");
  int64_t fallback = opt.size;
  if (fallback <= 0) {
    fallback = 640;
    auto it = engine.metadata().find("imgsz");
    if (it != engine.metadata().end()) {
      // "[640, 640]" or "640"
      size_t digit = it->second.find_first_of("0123456789");
      if (digit != std::string::npos) fallback = std::stoll(it->second.substr(digit));
    }
  }
  if (s[0] < 0) {
    s[0] = opt.batch;
  } else if (s[0] != opt.batch) {
    return invalid_argument("the model has a fixed batch of " + std::to_string(s[0]) +
                            "; --batch " + std::to_string(opt.batch) +
                            " needs a model exported with a dynamic batch");
  }
  for (size_t d = 1; d < s.size(); ++d) {
    if (s[d] < 0) s[d] = fallback;
  }
  return s;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  double pos = p * static_cast<double>(v.size() - 1);
  size_t lo = static_cast<size_t>(pos);
  size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // Linux: kilobytes
}

int run_bench(const BenchOptions& opt) {
  EngineOptions eo;
  eo.threads = opt.threads;
  eo.precision = opt.precision.precision;
  eo.backend = opt.backend;
  auto cal = load_calibration(opt.model, opt.precision, opt.threads);
  if (!cal.ok()) return report(cal.status());
  eo.calibration = cal.value();
  auto engine = Engine::load(opt.model, eo);
  if (!engine.ok()) return report(engine.status());
  std::mt19937 rng(1234);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  std::vector<Tensor> inputs;
  for (const TensorInfo& info : engine->inputs()) {
    if (info.dtype != DType::kFloat32) {
      return report(unsupported("input '" + info.name + "' is " + dtype_name(info.dtype) +
                                "; bench feeds float32 inputs only"));
    }
    auto shape = bench_shape(*engine, info, opt);
    if (!shape.ok()) return report(shape.status());
    Tensor t(DType::kFloat32, shape.value());
    float* p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = uniform(rng);
    inputs.push_back(std::move(t));
  }
  std::vector<Tensor> outputs;
  auto t_plan = std::chrono::steady_clock::now();
  Status s = engine->run(inputs, outputs);  // plans; counts as warm-up
  if (!s.ok()) return report(s.with_context(opt.model));
  double plan_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_plan).count();
  for (int i = 1; i < opt.warmup; ++i) {
    s = engine->run(inputs, outputs);
    if (!s.ok()) return report(s.with_context(opt.model));
  }
  std::vector<double> ms;
  ms.reserve(static_cast<size_t>(opt.iterations));
  for (int i = 0; i < opt.iterations; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    s = engine->run(inputs, outputs);
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    if (!s.ok()) return report(s.with_context(opt.model));
  }
  const double median = percentile(ms, 0.5), p90 = percentile(ms, 0.9);
  // After the timing, so its engines do not share the caches with the timed runs.
  std::optional<Agreement> agreement;
  if (opt.agreement && opt.precision.precision != "fp32") {
    AgreementOptions ao;
    ao.model = opt.model;
    ao.precision = opt.precision.precision;
    ao.calibration = eo.calibration;
    ao.threads = opt.threads;
    ao.images_dir = opt.agreement_images;
    auto a = measure_agreement(ao);
    if (!a.ok()) return report(a.status().with_context(opt.model));
    agreement = std::move(a).value();
  }
  const double images_per_s = 1000.0 * opt.batch / median;
  const std::string backend = engine->nodes_on("cuda") > 0  ? "cuda"
                              : engine->nodes_on("cpu") > 0 ? "cpu"
                                                            : "reference";
  if (opt.json) {
    nlohmann::json j = {{"model", opt.model},
                        {"batch", opt.batch},
                        {"threads", engine->threads()},
                        {"precision", opt.precision.precision},
                        {"backend", backend},
                        {"iterations", opt.iterations},
                        {"warmup", opt.warmup},
                        {"median_ms", median},
                        {"p90_ms", p90},
                        {"min_ms", percentile(ms, 0.0)},
                        {"images_per_s", images_per_s},
                        {"peak_rss_mb", peak_rss_mb()},
                        {"first_run_ms", plan_ms}};
    if (agreement) j["agreement"] = agreement_json(*agreement);
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("%s: batch %d, %d threads, %s on %s\n", opt.model.c_str(), opt.batch,
                engine->threads(), opt.precision.precision.c_str(), backend.c_str());
    std::printf(
        "  median %.2f ms  p90 %.2f ms  (%d iterations after %d warm-up; first run %.0f ms)\n",
        median, p90, opt.iterations, opt.warmup, plan_ms);
    std::printf("  %.1f images/s  peak RSS %.0f MB\n", images_per_s, peak_rss_mb());
    if (agreement) std::printf("%s", agreement_text(*agreement, opt.precision.precision).c_str());
  }
  return 0;
}

}  // namespace

Action add_bench_command(CLI::App& app) {
  auto opt = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Time a model on random inputs (median, p90, images/s, peak RSS)");
  cmd->add_option("-m,--model", opt->model, "ONNX model file")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("-b,--batch", opt->batch, "Images per batch")->check(CLI::Range(1, 4096));
  cmd->add_option("-n,--iterations", opt->iterations, "Timed runs")->check(CLI::Range(1, 1000000));
  cmd->add_option("--warmup", opt->warmup, "Untimed runs first (the first one plans)")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("-t,--threads", opt->threads, "Worker threads (0 = physical cores)")
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--size", opt->size,
                  "Input height and width for dynamic models (default: imgsz or 640)")
      ->check(CLI::Range(32, 8192));
  add_precision_flags(cmd, opt->precision, {"fp32", "bf16", "int8", "fp16"});
  cmd->add_flag("--agreement", opt->agreement,
                "bf16/int8: also measure agreement with fp32 (as compare-precision does)");
  cmd->add_option("--images", opt->agreement_images,
                  "--agreement: folder of images (default: 8 synthetic test images)");
  cmd->add_option("--backend", opt->backend, "auto | cuda | cpu | reference")
      ->check(CLI::IsMember({"auto", "cuda", "cpu", "reference"}));
  cmd->add_flag("--json", opt->json, "Print one JSON object on stdout");
  return [opt] { return run_bench(*opt); };
}

}  // namespace fungen::cli
