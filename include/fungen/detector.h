// fungen/detector.h — YOLO object detection on BGR frames with a stock Ultralytics ONNX export.
//
//   auto det = fungen::Detector::load("yolo11n.onnx", {.threads = 2});
//   if (!det) { std::cerr << det.status().message() << "\n"; return 1; }
//   fungen::Image img = fungen::read_image("street.jpg").value();
//   fungen::Frame frames[] = {img.frame()};
//   auto result = det->detect(frames, {.conf = 0.25f, .iou = 0.45f});
//   for (const fungen::Detection& d : result.value()[0])
//     std::cout << d.class_name << " " << d.confidence << " " << d.x1 << "," << d.y1 << "\n";
//
// Pre-processing is Ultralytics' LetterBox(auto=False, center=True, scaleup=True): scale by
// r = min(H/h, W/w) to (round(w·r), round(h·r)) (Python's round: half to even), bilinear resize
// only when the size changes (OpenCV INTER_LINEAR: half-pixel centres, clamped edges, 11-bit
// fixed-point weights — bit-exact with opencv-python 4.11 on x86-64 in our tests, within one grey
// level by construction elsewhere), pad 114 with top = round(dh/2 − 0.1), left = round(dw/2 − 0.1),
// BGR → RGB, HWC → CHW, ÷255 in float32. H×W is the model's input size (its metadata `imgsz` when
// the export is dynamic), so non-square inputs (e.g. 384×640) work.
//
// Post-processing, raw head N×(4+nc)×A (YOLOv5u/8/9/11/12, YOLOv10/26 one-to-many): candidates
// whose best class score > conf, optional class filter, at most max_nms (30,000) of them by score,
// class-aware NMS at `iou` (the class-offset trick with offset 7680, boxes of different classes
// never suppress each other; `agnostic` ignores classes), IoU > iou suppresses, keep max_det.
// End-to-end head N×K×6 (x1, y1, x2, y2, score, class; YOLOv10/YOLO26 default exports): keep
// rows with score > conf (and in the class filter), first max_det. Boxes go back to the frame as
// (x − left)/gx, (y − top)/gy with gx = round(w·r)/w, gy = round(h·r)/h (the scale the resize
// really applied, as Ultralytics' scale_boxes does; equal to r up to the rounding of the resized
// size), then clipped to [0, width] × [0, height]. Each frame's list is sorted by confidence,
// descending (stable: ties keep the model's order).
//
// A Detector owns one Engine and is not thread-safe; use one per thread, or ModelManager.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "fungen/engine.h"
#include "fungen/image.h"
#include "fungen/status.h"

namespace fungen {

struct Detection {
  int class_id = 0;
  std::string class_name;
  float confidence = 0.f;
  float x1 = 0.f, y1 = 0.f, x2 = 0.f, y2 = 0.f;  // in the frame's own pixels
};

// Per-call thresholds (Ultralytics' predict arguments of the same names).
struct DetectOptions {
  float conf = 0.25f;        // keep scores > conf
  float iou = 0.45f;         // NMS: suppress IoU > iou (Ultralytics' predict default is 0.7)
  int max_det = 300;         // per frame
  std::vector<int> classes;  // empty: all classes
  bool agnostic = false;     // class-agnostic NMS
  int max_nms = 30000;       // candidates into NMS, best scores first
};

// Per-model settings, fixed at load.
struct DetectorOptions {
  int threads = 0;  // engine threads, 0: one per physical core
  std::string backend = "auto";
  std::string names_file;  // used when the model has no `names` metadata
  int max_batch = 0;       // dynamic-batch models: frames per engine run (0: all given)
  int input_height = 0;    // dynamic-size models without `imgsz`: input size (0: 640)
  int input_width = 0;
  // On the cuda backend, when the whole model runs on the GPU: letterbox, NMS and top max_det on
  // the GPU too, so only frames go up and detections come down (same results as the CPU path).
  bool gpu_pipeline = true;
};

enum class HeadLayout { kRaw, kEndToEnd };

// Where a frame of width×height lands in a model input of in_w×in_h.
struct LetterboxParams {
  double ratio = 1.0;     // r = min(in_h/h, in_w/w)
  int resized_width = 0;  // max(round(w·r), 1)
  int resized_height = 0;
  int left = 0, top = 0;      // padding before the picture
  int right = 0, bottom = 0;  // padding after it
  double gain_x = 1.0;        // resized_width / width: the scale the resize applies
  double gain_y = 1.0;
};
LetterboxParams letterbox_params(int width, int height, int input_width, int input_height);

// Parses Ultralytics' `names` metadata, a Python dict literal such as
// "{0: 'person', 1: \"bicycle\", 2: 'it\\'s'}" (or a list literal ['a', 'b']); ids may be sparse.
Result<std::map<int, std::string>> parse_class_names(const std::string& literal);
// A names file: one name per line (line n is class n), or a dict/list literal as above.
Result<std::map<int, std::string>> read_class_names_file(const std::string& path);

namespace detect {
class DeviceDetect;  // detect/device_detect.h: frames already in GPU memory (internal)
}

class Detector {
 public:
  static Result<Detector> load(const std::string& model_path, const DetectorOptions& options = {});
  // Wraps an engine that is already loaded (its metadata supplies names and imgsz).
  static Result<Detector> from_engine(Engine engine, const DetectorOptions& options = {});
  Detector(Detector&&) noexcept;
  Detector& operator=(Detector&&) noexcept;
  ~Detector();

  // One list of detections per frame, in the order given. Frames may differ in size. A model with
  // a static batch B runs ceil(n/B) times (the last run padded with grey frames).
  Result<std::vector<std::vector<Detection>>> detect(std::span<const Frame> frames,
                                                     const DetectOptions& options = {});

  // The letterboxed model input for these frames, N×3×H×W float32 (RGB, 0..1), exactly what
  // detect() feeds the engine (without static-batch padding); for inspecting pre-processing.
  Result<Tensor> preprocess(std::span<const Frame> frames);

  int input_width() const;
  int input_height() const;
  int static_batch() const;  // the model's fixed batch, 0 when dynamic
  HeadLayout layout() const;
  int num_classes() const;  // from the output shape (raw) or the names (end-to-end)
  const std::map<int, std::string>& class_names() const;
  std::string class_name(int class_id) const;  // "class<N>" when unknown
  Engine& engine();
  // Activation memory of the engine at this batch (prepares the plan for it).
  Result<size_t> activation_bytes(int batch);

  struct Impl;

 private:
  friend class detect::DeviceDetect;
  explicit Detector(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fungen
