// fungen/engine.h — load an ONNX model and run it.
//
//   #include <fungen/engine.h>
//   auto engine = fungen::Engine::load("yolo11n.onnx", {.threads = 2});
//   if (!engine) { std::cerr << engine.status().message() << "\n"; return 1; }
//   fungen::Tensor images(fungen::DType::kFloat32, {1, 3, 640, 640});
//   std::vector<fungen::Tensor> outputs;
//   fungen::Status s = engine->run({&images, 1}, outputs);   // outputs[0]: 1x84x8400
//
// Engine::load also takes a `.engine` plan written by `fungen convert` (docs/plan-format.md): it
// runs with the plan's backend and precision (options.threads applies, the rest is ignored) and
// is rebuilt from its source ONNX, with one log line, when built for another machine.
//
// Loading parses the file, checks every node against fungen's op table (an unsupported op or
// attribute fails here, before any compute) and, for each new set of input shapes, specializes
// the graph (shape inference, constant folding, dead-node removal) and plans memory once.
// Later runs with the same shapes allocate nothing. One Engine runs one inference at a time:
// concurrent callers need one Engine each or a lock around run().
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fungen/calibration.h"
#include "fungen/status.h"
#include "fungen/tensor.h"

namespace fungen {

struct EngineOptions {
  int threads = 0;  // 0: one per physical core
  // "auto": the fastest compiled in (cuda when built with it and a GPU is present, else cpu when
  // fungen has oneDNN), the reference kernels for the rest; "cuda": the GPU (an error without
  // one); "cpu": oneDNN (an error without it); "reference": the plain kernels only, no fusion.
  std::string backend = "auto";
  // "fp32" (exact to 1e-4) | "bf16" (cpu backend: convolutions in bfloat16, opt-in) |
  // "fp16" (cuda backend: fp16 storage, fp32 accumulation, tensor cores) |
  // "int8" (cpu backend: VNNI convolutions, needs `calibration`; see fungen/calibration.h).
  std::string precision = "fp32";
  // int8: activation ranges of the convolution inputs (fungen::calibrate / read_calibration).
  std::shared_ptr<const CalibrationTable> calibration = nullptr;
  // fp32 on the cpu backend: record the largest |value| of every convolution input here on each
  // run (what fungen::calibrate uses).
  std::shared_ptr<CalibrationTable> record_ranges = nullptr;
};

struct TensorInfo {
  std::string name;
  DType dtype = DType::kUndefined;
  std::vector<int64_t> shape;  // -1 for a dynamic dimension
};

class Engine {
 public:
  static Result<Engine> load(const std::string& path, const EngineOptions& options = {});
  static Result<Engine> load_from_memory(std::span<const uint8_t> bytes,
                                         const EngineOptions& options = {},
                                         const std::string& label = "<memory>");
  Engine(Engine&&) noexcept;
  Engine& operator=(Engine&&) noexcept;
  ~Engine();

  const std::vector<TensorInfo>& inputs() const;
  const std::vector<TensorInfo>& outputs() const;
  // metadata_props of the model file (Ultralytics: names, imgsz, stride, task, batch, ...).
  const std::map<std::string, std::string>& metadata() const;
  int64_t opset() const;

  // Specializes and plans for these input shapes (one per graph input) without running.
  Status prepare(std::span<const Shape> input_shapes);
  // Runs the model. `outputs` is resized to the graph's outputs; its tensors share memory with
  // the engine and stay valid until the next run() (clone() to keep them longer).
  Status run(std::span<const Tensor> inputs, std::vector<Tensor>& outputs);

  // Bytes of activation memory of the last prepared plan (arena, outputs excluded).
  size_t arena_bytes() const;
  int threads() const;
  // Graph nodes of the last prepared plan that `backend` ("cpu", "reference") runs.
  size_t nodes_on(std::string_view backend) const;

  struct Impl;  // opaque

 private:
  friend struct EngineAccess;  // src/runtime/engine_impl.h
  explicit Engine(std::unique_ptr<Impl> impl);
  friend struct EngineInternals;  // src/runtime/device_run.h
  std::unique_ptr<Impl> impl_;
};

}  // namespace fungen
