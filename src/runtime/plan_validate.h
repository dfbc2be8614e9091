// plan_validate.h — does a plan's engine compute what the CPU fp32 reference computes? Used by
// `fungen convert --validate` (docs/cli.md).
//
//   ValidationReport r = validate_engine(plan_engine, {1, 8}, cpu_fp32_engine, {.max_rel_l2 =
//   1e-2})
//                            .value();
//   if (!r.passed) fail(r.failure);
//
// Inputs: `images` pictures at the model's size, half uniform noise in [0, 1] and half "real-ish"
// synthetic scenes (a gradient with filled rectangles and ellipses, like objects on a
// background), each run alone by the reference and at every batch size by the plan's engine.
// Criteria: the relative L2 error of every raw output of every image (||plan - ref|| / ||ref||)
// at most max_rel_l2, and at least min_recall of the reference's detections (conf, max_det)
// found by the plan's engine with the same class and IoU >= min_iou. The engine's detections are
// taken at conf - conf_margin and 3 x max_det, so that a box that sits on the threshold or on the
// max_det cut in fp32 does not count as lost for a last-digit change of its score; the count at
// the very same conf and max_det is reported too (exact_matched).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "detect/postprocess.h"
#include "fungen/engine.h"
#include "fungen/status.h"

namespace fungen {

double relative_l2(const float* test, const float* reference, size_t n);

struct DetectionMatch {
  size_t reference = 0;  // detections of the reference
  size_t matched = 0;    // of those, found by the engine under test
  double recall() const { return reference ? static_cast<double>(matched) / reference : 1.0; }
};
// Greedy, best reference score first: each reference box takes the unused test box of the same
// class with the highest IoU, counted when that IoU is >= min_iou.
DetectionMatch match_detections(const std::vector<detect::Candidate>& reference,
                                const std::vector<detect::Candidate>& test, float min_iou);

// Detections (class-aware NMS at IoU 0.45) of image `image` of a YOLO output [N, 4+nc, anchors]
// (raw head) or [N, rows, 6] (end-to-end).
std::vector<detect::Candidate> detections_of(const Tensor& output, int64_t image, float conf,
                                             int max_det = 300);

// Fills `t` ([N, C, H, W] float32) image by image: even indices noise, odd ones scenes.
void fill_validation_images(Tensor& t, uint64_t seed, int64_t first_index = 0);

struct ValidationOptions {
  int images = 8;
  uint64_t seed = 1;
  double max_rel_l2 = 1e-2;
  float conf = 0.25f;
  float conf_margin = 0.02f;
  int max_det = 300;
  float min_iou = 0.9f;
  double min_recall = 0.99;
};

struct ValidationReport {
  double max_rel_l2 = 0;   // worst over outputs, images and batch sizes
  double mean_rel_l2 = 0;  // over the same
  DetectionMatch detections;
  size_t exact_matched = 0;  // of detections.reference, found at the very same conf and max_det
  std::vector<std::string> lines;  // per batch size, for printing
  bool passed = false;
  std::string failure;  // one line when !passed
};

// `engine` runs at each of `batches` (image i of the set at slot i % images); `reference` at
// batch 1. Both take one NCHW float32 input of `input_shape` (its batch dimension ignored).
Result<ValidationReport> validate_engine(Engine& engine, const std::vector<int64_t>& batches,
                                         Engine& reference, const Shape& input_shape,
                                         const ValidationOptions& options);

}  // namespace fungen
