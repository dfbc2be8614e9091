// fungen convert — build a .engine plan from an ONNX model (runtime/plan_file.h), optionally
// validate it against the CPU fp32 reference, time it, and compare it with the ONNX model.
//
//   fungen convert --model yolo11n.onnx --batch-range 1:64 --validate --benchmark --compare
//   fungen convert --dir models/ --pattern '*.onnx' --backend cpu
#include <fnmatch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/convert_measure.h"
#include "detect/letterbox.h"
#include "fungen/calibration.h"
#include "fungen/engine.h"
#include "fungen/image.h"
#include "runtime/engine_impl.h"
#include "runtime/plan_file.h"
#include "runtime/plan_validate.h"

namespace fungen::cli {
namespace {
namespace fs = std::filesystem;

constexpr int kValidationFailed = 6;  // docs/cli.md

struct ConvertOptions {
  std::string model, dir, pattern = "*.onnx", out;
  std::string backend = "cuda";
  std::string precision;  // "" = fp16 on cuda, fp32 otherwise
  int batch = 1;
  std::string batch_range;
  std::string validate_images;  // a folder of real pictures for --validate
  bool validate = false, benchmark = false, compare = false;
  int threads = 0;
  int images = 8;
  int iterations = 20;
  double seconds = 1.0;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Times `engine` at every batch size; prints one line each; returns images/s per batch.
Result<std::vector<Throughput>> bench_all(Engine& engine, const std::vector<int64_t>& batches,
                                          const ConvertOptions& opt, const char* label) {
  std::vector<Throughput> out;
  for (int64_t b : batches) {
    FUNGEN_ASSIGN_OR_RETURN(Shape shape, input_shape_at(engine, b));
    FUNGEN_ASSIGN_OR_RETURN(Throughput t, measure(engine, shape, opt.iterations, opt.seconds));
    std::printf("  %-14s batch %4lld: %10.1f img/s, latency %8.3f ms (p50 %.3f)\n", label,
                static_cast<long long>(b), t.images_per_second, t.latency_ms, t.p50_ms);
    out.push_back(t);
  }
  return out;
}

#ifdef FUNGEN_HAVE_ONEDNN
constexpr const char* kReferenceBackend = "cpu";
#else
constexpr const char* kReferenceBackend = "reference";
#endif

// --validate's relative L2 limit on raw outputs (docs/cli.md).
double rel_l2_limit(const std::string& precision) {
  return precision == "fp32" ? 1e-4 : 1e-2;
}

// The pictures of `dir` letterboxed to `shape` (N×3×H×W, N ignored) as `fungen detect` does.
Result<Tensor> letterboxed_images(const std::string& dir, const Shape& shape) {
  FUNGEN_ASSIGN_OR_RETURN(auto paths, list_images(dir));
  const int h = static_cast<int>(shape[2]), w = static_cast<int>(shape[3]);
  Tensor t(DType::kFloat32, {static_cast<int64_t>(paths.size()), 3, h, w});
  std::vector<uint8_t> scratch;
  for (size_t i = 0; i < paths.size(); ++i) {
    FUNGEN_ASSIGN_OR_RETURN(Image img, read_image(paths[i]));
    const Frame f = img.frame();
    detect::letterbox_to_chw(f, letterbox_params(f.width, f.height, w, h), w, h,
                             t.data<float>() + i * static_cast<size_t>(3 * h * w), scratch);
  }
  return t;
}

// `engine` at every batch of `batches` against the CPU fp32 path of `onnx` (plan_validate.h), on
// the generated images and those of --validate-images.
Result<ValidationReport> validate_on_cpu(Engine& engine, const std::string& onnx,
                                         const std::string& precision,
                                         const std::vector<int64_t>& batches,
                                         const ConvertOptions& opt) {
  auto reference = Engine::load(onnx, {.threads = opt.threads, .backend = kReferenceBackend});
  if (!reference.ok()) return reference.status();
  FUNGEN_ASSIGN_OR_RETURN(Shape shape, input_shape_at(engine, 1));
  ValidationOptions vo;
  vo.images = opt.images;
  vo.max_rel_l2 = rel_l2_limit(precision);
  Tensor real;
  if (!opt.validate_images.empty()) {
    if (shape.size() != 4) return invalid_argument("--validate-images needs an NCHW image input");
    FUNGEN_ASSIGN_OR_RETURN(real, letterboxed_images(opt.validate_images, shape));
    vo.real_images = &real;
  }
  return validate_engine(engine, batches, reference.value(), shape, vo);
}

// Loads the ONNX model itself with `precision` and prepares every batch: the time a run without
// a plan pays before its first result, then its throughput.
Status compare_with_onnx(const std::string& onnx, const std::string& precision,
                         const std::vector<int64_t>& batches, const std::vector<Throughput>& plan,
                         double plan_load_seconds, const ConvertOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  auto engine =
      Engine::load(onnx, {.threads = opt.threads, .backend = opt.backend, .precision = precision});
  if (!engine.ok()) return engine.status();
  for (int64_t b : batches) {
    FUNGEN_ASSIGN_OR_RETURN(Shape shape, input_shape_at(engine.value(), b));
    FUNGEN_RETURN_IF_ERROR(engine->prepare({&shape, 1}));
  }
  const double load = seconds_since(t0);
  std::printf("compare: ONNX %s on %s, loaded and planned in %.2f s (plan: %.2f s, %.1fx)\n",
              precision.c_str(), opt.backend.c_str(), load, plan_load_seconds,
              plan_load_seconds > 0 ? load / plan_load_seconds : 0.0);
  if (opt.validate) {
    // The same validation of the ONNX engine, every batch prepared as in the plan: tells a
    // fault of the plan (stored graph, weights, tuning) from one of the backend at these batches.
    FUNGEN_ASSIGN_OR_RETURN(auto r, validate_on_cpu(engine.value(), onnx, precision, batches, opt));
    std::printf("compare: ONNX %s (no plan) validated the same way:\n", precision.c_str());
    for (const std::string& line : r.lines) std::printf("  %s\n", line.c_str());
    std::printf("  ONNX %s without a plan: max rel L2 %.3e, %s%s\n", precision.c_str(),
                r.max_rel_l2, r.passed ? "PASSED" : "FAILED: ", r.failure.c_str());
  }
  std::string label = "onnx " + precision;
  FUNGEN_ASSIGN_OR_RETURN(auto direct, bench_all(engine.value(), batches, opt, label.c_str()));
  for (size_t i = 0; i < direct.size() && i < plan.size(); ++i) {
    std::printf("  speedup of the plan over ONNX %s at batch %4lld: %.2fx\n", precision.c_str(),
                static_cast<long long>(direct[i].batch),
                plan[i].images_per_second / direct[i].images_per_second);
  }
  return Status();
}

int convert_one(const std::string& onnx, const std::string& out_path,
                const std::vector<int64_t>& batches, const ConvertOptions& opt) {
  const std::string precision =
      opt.precision.empty() ? (opt.backend == "cuda" ? "fp16" : "fp32") : opt.precision;
  auto plan = build_plan(
      onnx,
      {.backend = opt.backend, .precision = precision, .batches = batches, .threads = opt.threads});
  if (!plan.ok()) return report(plan.status());
  const auto write_start = std::chrono::steady_clock::now();
  Status written = write_plan_file(out_path, plan.value());
  if (!written.ok()) return report(written);
  const double write_seconds = seconds_since(write_start);
  std::error_code ec;
  std::string batch_list;
  for (int64_t b : plan->batches) batch_list += (batch_list.empty() ? "" : ",") + std::to_string(b);
  std::printf(
      "built %s in %.2f s (+ %.2f s writing): %s %s, batch %s, %zu tuned algorithm(s), %.1f MB, "
      "for %s\n",
      out_path.c_str(), plan->build_seconds, write_seconds, plan->backend.c_str(),
      plan->precision.c_str(), batch_list.c_str(), plan->tuning.size(),
      static_cast<double>(fs::file_size(out_path, ec)) / 1e6, plan->fingerprint.device.c_str());
  if (!opt.validate && !opt.benchmark && !opt.compare) return 0;

  // Everything below uses the plan as written: read back from the file.
  const auto t0 = std::chrono::steady_clock::now();
  auto engine = Engine::load(out_path, {.threads = opt.threads});
  if (!engine.ok()) return report(engine.status());
  for (int64_t b : plan->batches) {
    auto shape = input_shape_at(engine.value(), b);
    if (!shape.ok()) return report(shape.status());
    Status s = engine->prepare({&shape.value(), 1});
    if (!s.ok()) return report(s);
  }
  const double plan_load = seconds_since(t0);
  const TuningCache& tuning = *EngineAccess::impl(engine.value()).tuning;
  std::printf(
      "plan loaded and planned for every batch in %.2f s (tuned algorithms: %zu from the "
      "plan, %zu measured again)\n",
      plan_load, tuning.hits(), tuning.misses());

  int code = 0;
  if (opt.validate) {
    auto r = validate_on_cpu(engine.value(), onnx, precision, plan->batches, opt);
    if (!r.ok()) return report(r.status());
    const ValidationOptions vo;  // the criteria's constants, for printing
    const std::string real =
        opt.validate_images.empty() ? "" : " and the pictures of " + opt.validate_images;
    std::printf("validate against CPU fp32 (%s backend), %d images (noise and scenes)%s:\n",
                kReferenceBackend, opt.images, real.c_str());
    for (const std::string& line : r->lines) std::printf("  %s\n", line.c_str());
    std::printf(
        "  max rel L2 %.3e (limit %.0e), mean %.3e; CPU detections at conf %.2f "
        "reproduced: %s (limit %.0f%%, near-tie flips counted; at the same conf and max_det: "
        "%zu strict)\n",
        r->max_rel_l2, rel_l2_limit(precision), r->mean_rel_l2, vo.conf,
        detections_text(r->detections).c_str(), 100.0 * vo.min_recall, r->exact_matched);
    if (r->detections.reference == 0) {
      std::printf(
          "  note: the CPU found no detections at conf %.2f (random weights?); only the "
          "raw outputs were compared\n",
          vo.conf);
    }
    if (r->passed) {
      std::printf("validation PASSED\n");
    } else {
      std::fprintf(stderr, "fungen: error: validation FAILED for %s: %s\n", out_path.c_str(),
                   r->failure.c_str());
      code = kValidationFailed;
    }
  }
  std::vector<Throughput> timed;
  if (opt.benchmark || opt.compare) {
    std::printf("benchmark (%s %s, host input):\n", plan->backend.c_str(), precision.c_str());
    auto t = bench_all(engine.value(), plan->batches, opt, "plan");
    if (!t.ok()) return report(t.status());
    timed = t.value();
  }
  if (opt.compare) {
    Status s = compare_with_onnx(onnx, precision, plan->batches, timed, plan_load, opt);
    if (s.ok() && precision != "fp32") {
      s = compare_with_onnx(onnx, "fp32", plan->batches, timed, plan_load, opt);
    }
    if (!s.ok()) return report(s.with_context("compare"));
  }
  return code;
}

int run_convert(const ConvertOptions& opt) {
  if (opt.model.empty() == opt.dir.empty()) {
    std::fprintf(stderr, "fungen: error: give --model M.onnx or --dir D (one of them)\n");
    return 2;
  }
  if (opt.backend == "cuda") {
    auto fp = current_fingerprint("cuda");
    if (!fp.ok()) {
      std::string m = fp.status().message();
      if (m.rfind("no CUDA device:", 0) != 0) m = "no CUDA device: " + m;
      std::fprintf(stderr,
                   "fungen: error: %s; --backend cpu (or reference) builds a plan for the CPU\n",
                   m.c_str());
      return 3;
    }
  }
  std::vector<int64_t> batches = {opt.batch};
  if (!opt.batch_range.empty()) {
    auto r = parse_batch_range(opt.batch_range);
    if (!r.ok()) return report(r.status());
    batches = r.value();
  }
  if (!opt.model.empty()) {
    std::string out =
        opt.out.empty() ? fs::path(opt.model).replace_extension(".engine").string() : opt.out;
    return convert_one(opt.model, out, batches, opt);
  }
  std::vector<fs::path> models;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(opt.dir, ec)) {
    if (entry.is_regular_file() &&
        fnmatch(opt.pattern.c_str(), entry.path().filename().c_str(), 0) == 0) {
      models.push_back(entry.path());
    }
  }
  if (ec) return report(not_found("cannot list '" + opt.dir + "': " + ec.message()));
  if (models.empty()) {
    return report(not_found("no file in '" + opt.dir + "' matches '" + opt.pattern + "'"));
  }
  std::sort(models.begin(), models.end());
  if (!opt.out.empty()) {
    fs::create_directories(opt.out, ec);
    if (ec) return report(io_error("cannot create '" + opt.out + "': " + ec.message()));
  }
  int failed = 0, worst = 0;
  for (const fs::path& m : models) {
    fs::path out = m;
    out.replace_extension(".engine");
    if (!opt.out.empty()) out = fs::path(opt.out) / out.filename();
    int code = convert_one(m.string(), out.string(), batches, opt);
    if (code != 0) {
      ++failed;
      worst = std::max(worst, code);
    }
  }
  std::printf("converted %zu of %zu model(s)\n", models.size() - static_cast<size_t>(failed),
              models.size());
  return worst;
}

}  // namespace

Action add_convert_command(CLI::App& app) {
  auto opt = std::make_shared<ConvertOptions>();
  CLI::App* cmd = app.add_subcommand(
      "convert", "Build a .engine plan from an ONNX model (validate, benchmark, compare)");
  cmd->add_option("-m,--model", opt->model, "ONNX model file")->check(CLI::ExistingFile);
  cmd->add_option("--dir", opt->dir, "Convert every model of this folder")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--pattern", opt->pattern, "With --dir: file names to convert (default *.onnx)");
  cmd->add_option("-o,--out", opt->out,
                  "Plan file (default: the model's name with .engine); with --dir a folder");
  cmd->add_option("--backend", opt->backend, "cuda (default) | cpu | reference")
      ->check(CLI::IsMember({"cuda", "cpu", "reference"}));
  cmd->add_option("--precision", opt->precision, "fp16 (cuda default) | fp32 | bf16 (cpu)")
      ->check(CLI::IsMember({"fp16", "fp32", "bf16"}));
  auto* batch = cmd->add_option("-b,--batch", opt->batch, "One batch size (default 1)")
                    ->check(CLI::Range(1, 4096));
  cmd->add_option("--batch-range", opt->batch_range,
                  "MIN:MAX: plans for MIN, MAX and the powers of two between")
      ->excludes(batch);
  cmd->add_flag("--validate", opt->validate,
                "Compare with the CPU fp32 reference (exit 6 when it fails)");
  cmd->add_flag("--benchmark", opt->benchmark, "Images/s and latency at each batch size");
  cmd->add_flag("--compare", opt->compare, "The same for the ONNX model run without a plan");
  cmd->add_option("-t,--threads", opt->threads, "CPU threads (0 = physical cores)")
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--images", opt->images, "Generated validation images (default 8)")
      ->check(CLI::Range(0, 4096));
  cmd->add_option("--validate-images", opt->validate_images,
                  "With --validate: also these pictures (.png/.jpg), letterboxed as detect does")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("-n,--iterations", opt->iterations, "Timed runs per batch size, at least")
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--seconds", opt->seconds, "Timed seconds per batch size, at least")
      ->check(CLI::Range(0.0, 600.0));
  return [opt] { return run_convert(*opt); };
}

}  // namespace fungen::cli
