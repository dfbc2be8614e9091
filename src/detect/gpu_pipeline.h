// gpu_pipeline.h — the detector's GPU path: frames → detections with only the frames going up
// and the detections coming down. Upload (from the caller's pinned memory directly, or through
// a pinned staging buffer), letterbox into the model's device input (gpu_preprocess.h), the
// model (runtime/device_run.h), score filter + NMS (backends/cuda/postprocess.cuh), download of
// the kept boxes. Per call: one strided host-to-device copy per frame (straight from the
// caller's pinned memory) of only the rows the letterbox reads (backends/cuda/frame_upload.h: a
// third of a 1080p frame), one CUDA graph launch (letterbox, model, NMS and the download of
// counts + boxes into fixed pinned memory; one graph per batch size and frame geometry), one
// stream synchronize.
// Plain C++ header; the implementation (src/backends/cuda/gpu_pipeline.cpp) exists in builds
// with FUNGEN_HAVE_CUDA. Not thread-safe (one per Detector).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "detect/gpu_preprocess.h"
#include "detect/postprocess.h"
#include "fungen/detector.h"
#include "fungen/engine.h"

namespace fungen::detect {

class GpuPipeline {
 public:
  // A pipeline over `engine` (which must outlive it) for inputs of input_width × input_height.
  GpuPipeline(Engine& engine, int input_width, int input_height);
  ~GpuPipeline();
  GpuPipeline(const GpuPipeline&) = delete;
  GpuPipeline& operator=(const GpuPipeline&) = delete;

  // Does the engine's plan for this batch run as one device run? (Prepares the plan; cached.)
  Result<bool> available(int batch);

  // `frames` (host memory, BGR) through the model at `batch` (>= frames.size(); the rest grey).
  // `layout`: the head, or nullopt to take it from the output shape. Fills one list per frame
  // of candidates in model-input pixels, exactly what the CPU path's postprocess returns.
  Status detect(std::span<const Frame> frames, int batch, const DetectOptions& options,
                std::optional<HeadLayout> layout, std::vector<std::vector<Candidate>>& out);
  // The same from frames already in device memory (NVDEC), through `remap` when not null. The
  // frames must have been written on the legacy default stream (FFmpeg's CUDA hwaccel) or be
  // complete; they are read before this returns (it synchronizes), so they may be released then.
  // Their letterbox runs outside the CUDA graph (decoder surfaces change address from call to
  // call; the model, NMS and download stay captured).
  Status detect_device(std::span<const gpu::DeviceFrame> frames, const gpu::DeviceRemap* remap,
                       int batch, const DetectOptions& options, std::optional<HeadLayout> layout,
                       std::vector<std::vector<Candidate>>& out);

  // Calls `use` with a small grey NV12 frame and a small remap table in device memory (freed
  // after), e.g. to warm up detect_device before decoding starts.
  Status with_dummy_device_frame(
      const std::function<Status(const gpu::DeviceFrame&, const gpu::DeviceRemap&)>& use);

  // A remap table (host x, y arrays of width × height) copied into device memory owned by this
  // pipeline, valid until the next call (which reuses the memory). Callers upload once per table.
  Result<gpu::DeviceRemap> upload_remap(const float* x, const float* y, int width, int height);

  // The head layout the last detect used.
  HeadLayout layout() const { return layout_; }
  // Checks: keep_input(true) makes every later detect copy the model input right after the
  // letterbox (one device-to-device copy, also inside the captured graph), before the model's
  // run can reuse that memory for its activations (the fp16 input lives in the run's arena).
  void keep_input(bool on);
  // That copy (fp16/fp32 NCHW) of the last detect at `batch`, as float32 on the host; an error
  // when keep_input(true) was not in effect for that detect.
  Result<Tensor> input_on_host(int batch);
  // The model output (device, fp32) of the last detect at `batch`, for checks: copied to host.
  Result<Tensor> output_on_host(int batch);

  // Pinned host memory (cudaMallocHost) for callers that want the fastest upload.
  static void* alloc_pinned(size_t bytes);
  static void free_pinned(void* p);

  struct State;

 private:
  Result<State*> state_for(int batch);
  Status run(State& s, std::span<const gpu::DeviceFrame> frames, const gpu::DeviceRemap* remap,
             const DetectOptions& options, std::optional<HeadLayout> layout,
             std::vector<std::vector<Candidate>>& out, bool device_frames);

  Engine& engine_;
  int in_w_, in_h_;
  bool graphs_ = true;  // FUNGEN_CUDA_GRAPHS=0: no CUDA graph
  bool keep_input_ = false;
  int nms_method_ = 0;  // cuda::NmsMethod; FUNGEN_GPU_NMS=mask (default)|perbox|grouped
  HeadLayout layout_ = HeadLayout::kRaw;
  std::map<int, std::unique_ptr<State>> states_;
  std::shared_ptr<void> remap_;  // upload_remap's table
  size_t remap_bytes_ = 0;
};

}  // namespace fungen::detect
