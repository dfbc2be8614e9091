// fungen/calibration.h — activation ranges for int8 inference on the CPU.
//
//   // Once: run the model in fp32 on sample images (letterboxed like the detector) and record,
//   // for every convolution input, the largest |value| seen.
//   auto table = fungen::calibrate("yolo11n.onnx", {"a.jpg", "b.jpg"}, {.threads = 2});
//   fungen::write_calibration(fungen::default_calibration_path("yolo11n.onnx"), *table);
//   // Then: int8 engines read it.
//   auto engine = fungen::Engine::load("yolo11n.onnx", {.precision = "int8",
//       .calibration = fungen::read_calibration("yolo11n.onnx.int8.json").value()});
//
// The int8 path quantizes each convolution input per tensor, asymmetrically onto u8 (scale =
// (max - min)/255, zero point -min/scale), and its weights per output channel, symmetrically
// (scale = max |w| of the channel / 127).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fungen/status.h"

namespace fungen {

struct CalibrationTable {
  std::map<std::string, float> absmax;  // graph value name -> largest |value| seen
  // graph value name -> 99.99th percentile of |value| (the largest over the images): the range
  // int8 uses, so that rare outliers do not coarsen the steps of all other values.
  std::map<std::string, float> p9999;
  // graph value name -> smallest and largest value seen (signed; both include 0). int8 maps
  // [min, max] onto u8 with a zero point; files without them fall back to symmetric s8.
  std::map<std::string, float> min, max;
  int images = 0;     // sample images the ranges come from
  std::string model;  // file name of the model they were recorded on
};

// `model.onnx` -> `model.onnx.int8.json`, next to the model.
std::string default_calibration_path(const std::string& model_path);
Result<CalibrationTable> read_calibration(const std::string& path);
Status write_calibration(const std::string& path, const CalibrationTable& table);

struct CalibrateOptions {
  int threads = 0;  // 0: one per physical core
};
// Runs the model in fp32 (cpu backend) on each image, letterboxed like Detector, and records the
// largest |value| of every convolution input.
Result<CalibrationTable> calibrate(const std::string& model_path,
                                   const std::vector<std::string>& image_paths,
                                   const CalibrateOptions& options = {});
// The image files (.png/.jpg/.jpeg) directly in `dir`, sorted; an error when there are none.
Result<std::vector<std::string>> list_images(const std::string& dir);

}  // namespace fungen
