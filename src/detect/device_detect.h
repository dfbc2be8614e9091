// device_detect.h — a Detector on frames already in GPU memory (NVDEC surfaces): letterbox (or
// VR remap) from the NV12 planes, the model and NMS on the GPU, only detections come back
// (detect/gpu_pipeline.h). Internal; exists in builds with FUNGEN_HAVE_CUDA (src/detect/
// detector.cpp), and only for detectors on the cuda backend whose model runs as one GPU graph.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "detect/gpu_preprocess.h"
#include "fungen/detector.h"
#include "fungen/video.h"

namespace fungen::detect {

class DeviceDetect {
 public:
  // Whether `detector` can take device frames at this many frames per call (prepares the plan);
  // false (with the reason in `why`) for CPU engines, models partly on the CPU, or
  // DetectorOptions::gpu_pipeline off.
  static Result<bool> available(Detector& detector, int frames, std::string& why);
  // The remap table (host arrays, kept alive and unchanged by the caller) in device memory,
  // uploaded once per table.
  static Result<gpu::DeviceRemap> upload_remap(Detector& detector, const RemapTable& table);
  // One list per frame, in the pixels of the source picture: the remap table's size when `remap`
  // is given, else the frame's (exactly what detect() returns for that picture on the host).
  // `pad_to`: a model with a dynamic batch runs at least this many images per call (the rest
  // grey), so a video's short last batch reuses the plan and CUDA graph of the full ones.
  static Result<std::vector<std::vector<Detection>>> detect(
      Detector& detector, std::span<const gpu::DeviceFrame> frames, const gpu::DeviceRemap* remap,
      const DetectOptions& options, int pad_to = 0);
  // Runs detect() twice on a small grey NV12 frame through a small remap table (batch `pad_to`):
  // loads the kernels and captures the CUDA graph before any decoder runs, so no capture has to
  // happen while NVDEC decodes. The graph of device frames fits every later call with these
  // options at this batch, whatever the frame size or table.
  static Status warm_up(Detector& detector, const DetectOptions& options, int pad_to);
};

}  // namespace fungen::detect
