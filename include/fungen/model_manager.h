// fungen/model_manager.h — find, load, warm up and run a YOLO model; batch sizing; statistics.
//
//   fungen::ModelManager mm("/data/models", "auto", /*max_batch_size=*/8);
//   if (auto s = mm.load_model("yolo11n"); !s.ok()) { std::cerr << s.message() << "\n"; return 1; }
//   std::vector<fungen::Frame> frames = ...;                  // BGR, any sizes
//   auto dets = mm.predict_batch(frames, 0.25f, 0.45f, 300);  // one list per frame
//   fungen::PerformanceStats st = mm.performance_stats();     // fps, latency p50/p95, memory
//
// Discovery in model_dir, for load_model("NAME"): NAME.engine > NAME.onnx > NAME.pt.
//  - .engine: a fungen plan (`fungen convert`) is loaded with the backend and precision it was
//    built for; when it was built on another GPU, driver, CUDA/cuDNN or fungen version (or its
//    format is older), it is rebuilt from its source .onnx and rewritten, with one log line saying
//    why. Any other .engine (TensorRT's or another tool's) is foreign: skipped with a warning.
//  - .onnx: loaded. With `optimize` on the GPU, a plan NAME.engine (fp16 with force_fp16, else
//    fp32; batch 1 and max_batch_size) is built beside it once and loaded, so later loads skip
//    the autotuning; with device "cpu" a GPU plan's source model runs instead.
//  - .pt: converted once to NAME.onnx beside it by running the Ultralytics exporter
//    ($FUNGEN_PYTHON, default python3, `-c "from ultralytics import YOLO;
//    YOLO(pt).export(format='onnx')"`); the command is logged; when ultralytics is missing the
//    error gives the exact command. fungen never unpickles a .pt itself.
// `optimize` picks the fastest backend compiled in (with graph fusions); false runs the plain
// reference kernels. `force_fp16` needs the CUDA backend; on the CPU it logs a warning and runs
// fp32.
//
// Thread safety: every public method may be called from any thread. predict_batch() holds one
// mutex per ModelManager around the engine, so concurrent callers are served one at a time (the
// engine itself uses all its threads). For parallel videos, use one ModelManager per video.
//
// Batching: predict_batch() runs the frames in chunks of batch_size() (initially
// optimal_batch_size()). When an inference fails for lack of memory (Status kOutOfMemory or
// std::bad_alloc), the batch is halved and the chunk retried; at batch 1 the error is returned.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "fungen/detector.h"
#include "fungen/status.h"

namespace fungen {

struct ModelManagerOptions {
  std::string model_dir;        // where names are looked up ("" = the current directory)
  std::string device = "auto";  // auto | cpu | cuda | cuda:N
  int max_batch_size = 8;
  bool warmup = true;
  bool verbose = false;
  int threads = 0;         // engine threads, 0 = one per physical core
  std::string names_file;  // class names when the model has none
};

struct PerformanceStats {
  uint64_t frames = 0;
  uint64_t batches = 0;
  double avg_fps = 0;          // frames / seconds spent in predict_batch
  double latency_mean_ms = 0;  // per frame (batch time / frames in the batch)
  double latency_p50_ms = 0;
  double latency_p95_ms = 0;
  double memory_gb = 0;       // in use now (host RSS on the CPU)
  double peak_memory_gb = 0;  // peak (VmHWM)
  int batch_size = 0;         // current chunk size
  uint64_t oom_retries = 0;   // times the batch was halved
};

class ModelManager {
 public:
  ModelManager(std::string model_dir, std::string device = "auto", int max_batch_size = 8,
               bool warmup = true, bool verbose = false);
  explicit ModelManager(const ModelManagerOptions& options);
  ~ModelManager();
  ModelManager(const ModelManager&) = delete;
  ModelManager& operator=(const ModelManager&) = delete;

  Status load_model(const std::string& name, bool optimize = true, bool force_fp16 = false);
  bool loaded() const;
  std::string model_path() const;               // the file loaded
  std::vector<std::string> load_notes() const;  // what discovery skipped or converted

  Result<std::vector<std::vector<Detection>>> predict_batch(std::span<const Frame> frames,
                                                            float conf = 0.25f, float iou = 0.45f,
                                                            int max_det = 300);
  Result<std::vector<std::vector<Detection>>> predict_batch(std::span<const Frame> frames,
                                                            const DetectOptions& options);

  // From free memory (MemAvailable on the CPU) and the model's measured activation memory per
  // image (the engine's planned arena at batch 1 and 2), using at most half of what is free;
  // capped by max_batch_size, at least 1. A static-batch model returns its batch.
  int optimal_batch_size();
  int batch_size() const;

  double memory_usage_gb() const;  // host RSS now (VmRSS)
  double memory_peak_gb() const;   // host RSS peak (VmHWM)
  PerformanceStats performance_stats() const;
  void reset_stats();

  // The loaded detector, for input size, class names, layout (null before load_model()).
  const Detector* detector() const;

  // Test seam: called with the chunk size before every inference; a non-ok Status is treated as
  // that inference's result (e.g. out_of_memory to exercise the halving path).
  void set_fault_injector_for_testing(std::function<Status(int batch)> injector);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace fungen
