// plan_builder.cpp — building plans from ONNX models, engines from plans, and loading a plan
// file with the rebuild when it no longer fits the machine (see plan_file.h).
#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "fungen/log.h"
#include "onnx/onnx_import.h"
#include "runtime/engine_impl.h"
#include "runtime/plan_file.h"

namespace fungen {
namespace fs = std::filesystem;

namespace {

// The plan's source model: where it was, else beside the plan under the same file name.
std::string locate_source(const std::string& plan_path, const std::string& recorded) {
  std::error_code ec;
  if (!recorded.empty() && fs::is_regular_file(recorded, ec)) return recorded;
  fs::path beside = fs::path(plan_path).parent_path() / fs::path(recorded).filename();
  if (!recorded.empty() && fs::is_regular_file(beside, ec)) return beside.string();
  return "";
}

}  // namespace

std::pair<int64_t, int64_t> model_image_size(const TensorInfo& in,
                                             const std::map<std::string, std::string>& metadata) {
  int64_t h = in.shape.size() == 4 ? in.shape[2] : -1, w = in.shape.size() == 4 ? in.shape[3] : -1;
  auto it = metadata.find("imgsz");
  if ((h < 0 || w < 0) && it != metadata.end()) {
    const char* p = it->second.c_str();
    while (*p && (*p < '0' || *p > '9')) ++p;
    char* end = nullptr;
    long mh = std::strtol(p, &end, 10);
    while (end && *end && (*end < '0' || *end > '9')) ++end;
    long mw = end && *end ? std::strtol(end, nullptr, 10) : mh;
    if (h < 0 && mh > 0) h = mh;
    if (w < 0 && mw > 0) w = mw;
  }
  return {h > 0 ? h : 640, w > 0 ? w : 640};
}

Result<PlanFile> build_plan(const std::string& onnx_path, const PlanBuildOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  PlanFile plan;
  plan.backend = options.backend;
  plan.precision =
      options.precision.empty() ? (options.backend == "cuda" ? "fp16" : "fp32") : options.precision;
  if (options.batches.empty()) return invalid_argument("a plan needs at least one batch size");
  for (int64_t b : options.batches) {
    if (b < 1) return invalid_argument("batch sizes must be >= 1, got " + std::to_string(b));
  }
  if (options.backend == "auto") {
    return invalid_argument("a plan is built for one backend: cuda, cpu or reference, not auto");
  }
  auto fp = current_fingerprint(options.backend, options.device);
  if (!fp.ok()) return fp.status();
  plan.fingerprint = fp.value();

  auto graph = import_onnx_file(onnx_path);
  if (!graph.ok()) return graph.status();
  auto impl = make_engine_impl(
      std::move(graph).value(),
      {.threads = options.threads, .backend = options.backend, .precision = plan.precision});
  if (!impl.ok()) return impl.status().with_context(onnx_path);
  Engine engine = EngineAccess::make(std::move(impl).value());
  if (engine.inputs().size() != 1 || engine.inputs()[0].shape.size() != 4) {
    return unsupported(onnx_path + ": plans are built for models with one NCHW image input");
  }
  const TensorInfo& in = engine.inputs()[0];
  const auto [h, w] = model_image_size(in, engine.metadata());
  std::vector<int64_t> batches = options.batches;
  if (options.fit_static_batch && in.shape[0] > 0) batches = {in.shape[0]};
  for (int64_t b : batches) {
    if (in.shape[0] >= 0 && in.shape[0] != b) {
      return invalid_argument(onnx_path + " has a static batch of " + std::to_string(in.shape[0]) +
                              "; build the plan with --batch " + std::to_string(in.shape[0]) +
                              " or re-export the model with dynamic=True");
    }
    Shape shape = {b, in.shape[1] > 0 ? in.shape[1] : 3, h, w};
    Status s = engine.prepare(std::span<const Shape>(&shape, 1));
    if (!s.ok()) return s.with_context(onnx_path + " at batch " + std::to_string(b));
    plan.batches.push_back(b);
  }
  Engine::Impl& im = EngineAccess::impl(engine);
  plan.base = im.graph;
  for (const auto& [key, ep] : im.plans) {
    plan.specialized.push_back({key.first, ep->graph()});
  }
  plan.tuning = im.tuning->entries();

  std::error_code ec;
  plan.source_path = fs::absolute(onnx_path, ec).lexically_normal().string();
  FUNGEN_ASSIGN_OR_RETURN(auto hash, hash_file(onnx_path));
  plan.source_hash = hash.first;
  plan.source_bytes = hash.second;
  plan.build_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return plan;
}

Result<Engine> engine_from_plan(const PlanFile& plan, int threads) {
  auto impl = make_engine_impl(
      plan.base, {.threads = threads, .backend = plan.backend, .precision = plan.precision});
  if (!impl.ok()) return impl.status();
  for (const auto& [key, choice] : plan.tuning) impl.value()->tuning->store(key, choice);
  for (const SpecializedGraph& s : plan.specialized) {
    impl.value()->optimized[s.input_shapes] = s.graph;
  }
  return EngineAccess::make(std::move(impl).value());
}

Result<Engine> load_plan(const std::string& path, const PlanLoadOptions& options) {
  FUNGEN_ASSIGN_OR_RETURN(PlanHeader header, read_plan_header(path));
  const std::string source = locate_source(path, header.source_path);
  std::string reason;
  Result<PlanFile> plan = internal_error("not read");
  if (header.format_version != kPlanFormatVersion) {
    reason = "it has plan format version " + std::to_string(header.format_version) +
             " and this fungen writes version " + std::to_string(kPlanFormatVersion);
  } else {
    plan = read_plan_file(path);
    // Damaged, or from a newer fungen with ops this one lacks: the source model decides.
    if (!plan.ok()) reason = "it cannot be read (" + plan.status().message() + ")";
  }
  PlanFingerprint machine;
  if (options.machine) {
    machine = *options.machine;
  } else {
    auto fp = current_fingerprint(header.backend);
    if (!fp.ok()) {
      // A GPU plan on a machine without the GPU: run the model on what there is.
      if (source.empty()) {
        return unsupported("no CUDA device: plan " + path + " is for the " + header.backend +
                           " backend and its source model '" + header.source_path +
                           "' is missing (" + fp.status().message() + ")");
      }
      log(LogLevel::kWarn, "no CUDA device: plan {} is for the {} backend; running its source {}",
          path, header.backend, source);
      return Engine::load(source, {.threads = options.threads});
    }
    machine = fp.value();
  }
  if (reason.empty()) {
    std::string diff = fingerprint_difference(plan->fingerprint, machine);
    if (!diff.empty()) reason = "it was built for another machine (" + diff + ")";
  }
  if (reason.empty() && !source.empty()) {
    auto hash = hash_file(source);
    if (hash.ok() && (hash->first != header.source_hash || hash->second != header.source_bytes)) {
      reason = "its source model " + source + " changed";
    }
  }
  if (reason.empty()) {
    auto engine = engine_from_plan(plan.value(), options.threads);
    if (!engine.ok()) return engine.status().with_context(path);
    EngineAccess::impl(engine.value()).plan_path = path;
    return engine;
  }
  if (source.empty()) {
    return unsupported("plan " + path + " must be rebuilt (" + reason + ") but its source model '" +
                       header.source_path + "' is missing: run fungen convert on the .onnx");
  }
  log(LogLevel::kWarn, "plan {}: rebuilding from {} because {}", path, source, reason);
  PlanBuildOptions build{.backend = header.backend,
                         .precision = header.precision,
                         .batches = header.batches,
                         .threads = options.threads};
  if (build.batches.empty()) build.batches = {1};
  auto rebuilt = build_plan(source, build);
  if (!rebuilt.ok()) return rebuilt.status().with_context("rebuilding " + path);
  if (options.machine) rebuilt->fingerprint = *options.machine;
  if (options.rewrite) {
    Status s = write_plan_file(path, rebuilt.value());
    if (!s.ok()) log(LogLevel::kWarn, "plan {} not rewritten: {}", path, s.message());
  }
  auto engine = engine_from_plan(rebuilt.value(), options.threads);
  if (!engine.ok()) return engine.status().with_context(path);
  EngineAccess::impl(engine.value()).plan_path = path;
  return engine;
}

}  // namespace fungen
