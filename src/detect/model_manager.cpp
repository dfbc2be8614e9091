// model_manager.cpp — see fungen/model_manager.h.
#include "fungen/model_manager.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <new>

#include "detect/model_discovery.h"
#include "fungen/config.h"
#include "fungen/log.h"
#include "runtime/backend.h"
#include "runtime/plan_file.h"

namespace fungen {
namespace {

// A /proc field in kB, as bytes (0 when absent).
double proc_kb_field(const char* file, const std::string& key) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::atof(line.c_str() + key.size() + 1) * 1024.0;
  }
  return 0;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

bool gpu_present() {
#ifdef FUNGEN_HAVE_CUDA
  return cuda_device_count() > 0;
#else
  return false;
#endif
}

// A GPU plan asked to run on the CPU (device "cpu") runs its source model instead.
Status use_plan_or_source(detect::FoundModel& found, const std::string& device) {
  if (device != "cpu" || !ends_with(found.path, ".engine")) return Status();
  FUNGEN_ASSIGN_OR_RETURN(PlanHeader header, read_plan_header(found.path));
  if (header.backend != "cuda") return Status();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(header.source_path, ec)) {
    return unsupported(found.path + " is a GPU plan and device 'cpu' was asked for; its source '" +
                       header.source_path + "' is missing: give the .onnx model");
  }
  found.notes.push_back(found.path + ": a GPU plan; device cpu runs its source " +
                        header.source_path);
  found.path = header.source_path;
  return Status();
}

// With optimize on the GPU, an ONNX model gets a plan beside it (NAME.engine, the format of
// fungen convert) for batch 1 and max_batch, built once: later loads find the plan first, and
// Engine::load rebuilds it when the GPU or the software changes. A failure only warns.
void cache_gpu_plan(detect::FoundModel& found, const std::string& precision, int max_batch,
                    int threads) {
  std::string plan_path = std::filesystem::path(found.path).replace_extension(".engine").string();
  std::vector<int64_t> batches = {1};
  if (max_batch > 1) batches.push_back(max_batch);
  auto plan = build_plan(found.path, {.backend = "cuda",
                                      .precision = precision,
                                      .batches = batches,
                                      .threads = threads,
                                      .fit_static_batch = true});
  Status s = plan.ok() ? write_plan_file(plan_path, plan.value()) : plan.status();
  if (!s.ok()) {
    log(LogLevel::kWarn, "no GPU plan cached for {}: {}", found.path, s.message());
    return;
  }
  found.notes.push_back("built GPU plan " + plan_path + " (" + precision + ") in " +
                        fmt::format("{:.2f}", plan->build_seconds) + " s");
  log(LogLevel::kInfo, "{}", found.notes.back());
  found.path = plan_path;
}

constexpr double kGB = 1024.0 * 1024.0 * 1024.0;
constexpr size_t kMaxLatencySamples = 100000;

}  // namespace

struct ModelManager::Impl {
  ModelManagerOptions options;
  mutable std::mutex run_mutex;    // held around the detector for a whole predict_batch
  mutable std::mutex stats_mutex;  // guards the statistics below
  std::unique_ptr<Detector> detector;
  std::string path;
  std::vector<std::string> notes;
  int batch = 1;
  bool measured = false;
  double per_image_bytes = 0;
  double base_bytes = 0;
  std::function<Status(int)> fault;

  uint64_t frames = 0, batches = 0, oom_retries = 0;
  double seconds = 0;
  std::deque<double> latencies_ms;  // per frame, most recent kMaxLatencySamples

  Status measure_memory() {  // run_mutex held
    if (measured || !detector) return Status();
    if (detector->static_batch() > 0) {
      measured = true;
      return Status();
    }
    auto one = detector->activation_bytes(1);
    if (!one.ok()) return one.status();
    auto two = detector->activation_bytes(2);
    if (!two.ok()) return two.status();
    const double in_out =
        3.0 * detector->input_width() * detector->input_height() * 4.0;  // input tensor
    per_image_bytes =
        std::max(static_cast<double>(two.value()) - static_cast<double>(one.value()), 0.0) + in_out;
    if (per_image_bytes <= in_out) per_image_bytes = static_cast<double>(one.value()) + in_out;
    base_bytes = std::max(static_cast<double>(one.value()) + in_out - per_image_bytes, 0.0);
    measured = true;
    return Status();
  }

  int optimal() {  // run_mutex held
    if (!detector) return 1;
    if (detector->static_batch() > 0) return detector->static_batch();
    if (!measure_memory().ok() || per_image_bytes <= 0) return 1;
    double available = proc_kb_field("/proc/meminfo", "MemAvailable");
    double budget = available * 0.5 - base_bytes;
    int n = budget > 0 ? static_cast<int>(budget / per_image_bytes) : 1;
    return std::clamp(n, 1, std::max(options.max_batch_size, 1));
  }
};

ModelManager::ModelManager(std::string model_dir, std::string device, int max_batch_size,
                           bool warmup, bool verbose)
    : ModelManager([&] {
        ModelManagerOptions o;  // the other fields keep their defaults
        o.model_dir = std::move(model_dir);
        o.device = std::move(device);
        o.max_batch_size = max_batch_size;
        o.warmup = warmup;
        o.verbose = verbose;
        return o;
      }()) {}

ModelManager::ModelManager(const ModelManagerOptions& options) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  if (options.verbose && log_level() < LogLevel::kInfo) set_log_level(LogLevel::kInfo);
}

ModelManager::~ModelManager() = default;

Status ModelManager::load_model(const std::string& name, bool optimize, bool force_fp16) {
  Impl& m = *impl_;
  const std::string& device = m.options.device;
  bool wants_cuda = device.rfind("cuda", 0) == 0;
  if (device != "auto" && device != "cpu" && !wants_cuda) {
    return invalid_argument("device '" + device + "' is not one of auto, cpu, cuda, cuda:N");
  }
  BuildInfo build = build_info();
  if (wants_cuda && !build.cuda) {
    return unsupported("device '" + device +
                       "' asked for, but this build has no CUDA backend; "
                       "rebuild with -DFUNGEN_CUDA=ON or use --device cpu");
  }
  if (m.options.max_batch_size < 1) return invalid_argument("max_batch_size must be at least 1");
  FUNGEN_ASSIGN_OR_RETURN(detect::FoundModel found, detect::find_model(m.options.model_dir, name));
  if (force_fp16 && !wants_cuda) {
    log(LogLevel::kWarn, "force_fp16: FP16 needs the CUDA backend; {} runs in fp32 on the CPU",
        found.path);
  }
  FUNGEN_RETURN_IF_ERROR(use_plan_or_source(found, device));
  const bool on_gpu = wants_cuda || (device == "auto" && build.cuda && gpu_present());
  if (optimize && on_gpu && ends_with(found.path, ".onnx")) {
    cache_gpu_plan(found, force_fp16 ? "fp16" : "fp32", m.options.max_batch_size,
                   m.options.threads);
  }
  DetectorOptions dopt;
  dopt.threads = m.options.threads;
  dopt.names_file = m.options.names_file;
  dopt.backend = optimize ? (wants_cuda ? "cuda" : "auto") : "reference";
  auto det = Detector::load(found.path, dopt);
  if (!det.ok()) return det.status();

  std::lock_guard<std::mutex> lock(m.run_mutex);
  m.detector = std::make_unique<Detector>(std::move(det).value());
  m.path = found.path;
  m.notes = found.notes;
  m.measured = false;
  m.batch = m.optimal();
  log(LogLevel::kInfo, "loaded {} ({}x{}, {} head, batch {})", m.path, m.detector->input_width(),
      m.detector->input_height(), m.detector->layout() == HeadLayout::kRaw ? "raw" : "end-to-end",
      m.batch);
  if (m.options.warmup) {
    // Inferences at batch 1 and at the working batch, so the first real calls do not pay for
    // planning memory and cold caches.
    Image grey(m.detector->input_width(), m.detector->input_height(), 114);
    std::vector<Frame> frames(static_cast<size_t>(m.batch), grey.frame());
    for (size_t n : {size_t{1}, frames.size()}) {
      auto r = m.detector->detect(std::span<const Frame>(frames.data(), n));
      if (!r.ok()) return r.status().with_context("warm-up");
      if (frames.size() == 1) break;
    }
  }
  return Status();
}

bool ModelManager::loaded() const {
  std::lock_guard<std::mutex> lock(impl_->run_mutex);
  return impl_->detector != nullptr;
}

std::string ModelManager::model_path() const {
  std::lock_guard<std::mutex> lock(impl_->run_mutex);
  return impl_->path;
}

std::vector<std::string> ModelManager::load_notes() const {
  std::lock_guard<std::mutex> lock(impl_->run_mutex);
  return impl_->notes;
}

const Detector* ModelManager::detector() const {
  return impl_->detector.get();
}

Result<std::vector<std::vector<Detection>>> ModelManager::predict_batch(
    std::span<const Frame> frames, float conf, float iou, int max_det) {
  DetectOptions o;
  o.conf = conf;
  o.iou = iou;
  o.max_det = max_det;
  return predict_batch(frames, o);
}

Result<std::vector<std::vector<Detection>>> ModelManager::predict_batch(
    std::span<const Frame> frames, const DetectOptions& options) {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.run_mutex);
  if (!m.detector)
    return invalid_argument("predict_batch: no model loaded; call load_model() first");
  std::vector<std::vector<Detection>> results;
  results.reserve(frames.size());
  size_t begin = 0;
  while (begin < frames.size()) {
    int batch = m.detector->static_batch() > 0 ? m.detector->static_batch() : m.batch;
    size_t count = std::min(static_cast<size_t>(batch), frames.size() - begin);
    auto t0 = std::chrono::steady_clock::now();
    Result<std::vector<std::vector<Detection>>> r = Status();
    Status injected = m.fault ? m.fault(static_cast<int>(count)) : Status();
    if (!injected.ok()) {
      r = injected;
    } else {
      try {
        r = m.detector->detect(frames.subspan(begin, count), options);
      } catch (const std::bad_alloc&) {
        r = out_of_memory("out of memory at batch " + std::to_string(count));
      }
    }
    if (!r.ok()) {
      if (r.status().code() == StatusCode::kOutOfMemory && count > 1 &&
          m.detector->static_batch() == 0) {
        m.batch = std::max(static_cast<int>(count) / 2, 1);
        log(LogLevel::kWarn, "out of memory at batch {}; retrying with batch {}", count, m.batch);
        std::lock_guard<std::mutex> s(m.stats_mutex);
        ++m.oom_retries;
        continue;
      }
      return r.status();
    }
    double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    {
      std::lock_guard<std::mutex> s(m.stats_mutex);
      m.frames += count;
      m.batches += 1;
      m.seconds += ms / 1000.0;
      for (size_t i = 0; i < count; ++i) m.latencies_ms.push_back(ms / static_cast<double>(count));
      while (m.latencies_ms.size() > kMaxLatencySamples) m.latencies_ms.pop_front();
    }
    for (auto& d : r.value()) results.push_back(std::move(d));
    begin += count;
  }
  return results;
}

int ModelManager::optimal_batch_size() {
  std::lock_guard<std::mutex> lock(impl_->run_mutex);
  return impl_->optimal();
}

int ModelManager::batch_size() const {
  std::lock_guard<std::mutex> lock(impl_->run_mutex);
  return impl_->batch;
}

double ModelManager::memory_usage_gb() const {
  return proc_kb_field("/proc/self/status", "VmRSS") / kGB;
}
double ModelManager::memory_peak_gb() const {
  return proc_kb_field("/proc/self/status", "VmHWM") / kGB;
}

PerformanceStats ModelManager::performance_stats() const {
  PerformanceStats st;
  std::vector<double> lat;
  {
    std::lock_guard<std::mutex> s(impl_->stats_mutex);
    st.frames = impl_->frames;
    st.batches = impl_->batches;
    st.oom_retries = impl_->oom_retries;
    st.avg_fps = impl_->seconds > 0 ? static_cast<double>(impl_->frames) / impl_->seconds : 0;
    lat.assign(impl_->latencies_ms.begin(), impl_->latencies_ms.end());
  }
  if (!lat.empty()) {
    double sum = 0;
    for (double v : lat) sum += v;
    st.latency_mean_ms = sum / static_cast<double>(lat.size());
    std::sort(lat.begin(), lat.end());
    auto pct = [&](double p) {  // nearest rank
      size_t k = static_cast<size_t>(std::ceil(p * static_cast<double>(lat.size())));
      return lat[std::clamp<size_t>(k, 1, lat.size()) - 1];
    };
    st.latency_p50_ms = pct(0.50);
    st.latency_p95_ms = pct(0.95);
  }
  st.memory_gb = memory_usage_gb();
  st.peak_memory_gb = memory_peak_gb();
  st.batch_size = batch_size();
  return st;
}

void ModelManager::reset_stats() {
  std::lock_guard<std::mutex> s(impl_->stats_mutex);
  impl_->frames = impl_->batches = impl_->oom_retries = 0;
  impl_->seconds = 0;
  impl_->latencies_ms.clear();
}

void ModelManager::set_fault_injector_for_testing(std::function<Status(int batch)> injector) {
  std::lock_guard<std::mutex> lock(impl_->run_mutex);
  impl_->fault = std::move(injector);
}

}  // namespace fungen
