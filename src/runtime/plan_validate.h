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
// background), then the caller's real pictures (real_images) if any, each run alone by the
// reference and at every batch size by the plan's engine. Criteria: the relative L2 error of every
// raw output of every image (||plan - ref|| / ||ref||) at most max_rel_l2, and at least min_recall
// of the reference's detections (conf, max_det) found by the plan's engine with the same class and
// IoU >= min_iou. The engine's detections are taken at conf - conf_margin and 3 x max_det, so that
// a box that sits on the threshold or on the max_det cut in fp32 does not count as lost for a
// last-digit change of its score; the count at the very same conf and max_det is reported too
// (exact_matched). A reference detection that is still missing may be a near-tie flip
// (near_tie_flips below); the recall criterion counts those as reproduced, and the report gives
// both counts.
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
  size_t reference = 0;   // detections of the reference
  size_t matched = 0;     // of those, found by the engine under test (strict)
  size_t tie_flips = 0;   // of the others, near-tie flips (near_tie_flips)
  size_t class_ties = 0;  // of the others, class near-ties: reported, not counted as reproduced
  double recall() const { return reference ? static_cast<double>(matched) / reference : 1.0; }
  DetectionMatch& operator+=(const DetectionMatch& o) {
    reference += o.reference, matched += o.matched;
    tie_flips += o.tie_flips, class_ties += o.class_ties;
    return *this;
  }
  double tie_aware_recall() const {
    return reference ? static_cast<double>(matched + tie_flips) / reference : 1.0;
  }
};
// "12/13 (92.31%) strict; 13/13 (100.00%) counting 1 near-tie flip(s)", and the class near-ties
// when there are any.
std::string detections_text(const DetectionMatch& m);

// Greedy, best reference score first: each reference box takes the unused test box of the same
// class with the highest IoU, counted when that IoU is >= min_iou. `missed` (optional) gets the
// indices of the reference boxes left unmatched.
DetectionMatch match_detections(const std::vector<detect::Candidate>& reference,
                                const std::vector<detect::Candidate>& test, float min_iou,
                                std::vector<size_t>* missed = nullptr);

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
  double min_recall = 0.99;   // of the reference's detections, near-tie flips counted
  double tie_tolerance = -1;  // relative score move of near_tie_flips; < 0: max_rel_l2
  // Real pictures, [M, C, H, W] float32 at the input's size (letterboxed as the detector does),
  // validated after the `images` generated ones; may be null.
  const Tensor* real_images = nullptr;
};

// Near-tie flips of one image of a raw head ([4 + nc, anchors] at `reference_head` and
// `test_head`). NMS keeps the best scored box of a group of overlapping candidates; where two of
// them score almost the same (random weights give thousands of such pairs), the last digits decide
// which one is kept, and the other is "missing" from the test although nothing is wrong; one flip
// can change what the kept box suppresses in turn. The replay: the reference head with each class
// score moved toward the test's value by at most tolerance x |score| (tie_tolerance, default
// max_rel_l2; boxes untouched), through the reference's NMS (conf, max_det). A missing reference
// detection r (`missed`, indices into `reference`) is a near-tie flip when
//   - r's anchor still has r's class as its best in the test and in the replay,
//   - the replay still has r's candidate, but its NMS drops it, and
//   - the replay's best detection of r's class overlapping r above the NMS IoU (the one that
//     suppresses r) is found in `test` (same class, IoU >= min_iou).
// Everything else stays a miss: a moved box, a flip that needs a score to move by more than the
// tolerance, a lost box with no such neighbour, a changed class. A class that changed because two
// class scores of r's anchor are within the tolerance, where the test has r's box with the new
// class, is counted apart (class_ties) and still a miss.
struct NearTies {
  size_t flips = 0, class_ties = 0;
};
NearTies near_tie_flips(const float* reference_head, const float* test_head, int channels,
                        int anchors, const std::vector<detect::Candidate>& reference,
                        const std::vector<size_t>& missed,
                        const std::vector<detect::Candidate>& test,
                        const ValidationOptions& options);

// One image: the reference's detections ([1, ...], at conf and max_det) against those of image
// `image` of `test` (at conf - conf_margin and 3 x max_det), strict, and near-tie flips for a raw
// head. Both float32 outputs as detections_of takes them.
DetectionMatch compare_detections(const Tensor& reference, const Tensor& test, int64_t image,
                                  const ValidationOptions& options);

struct ValidationReport {
  double max_rel_l2 = 0;      // worst over outputs, images and batch sizes
  double mean_rel_l2 = 0;     // over the same
  DetectionMatch detections;  // strict and near-tie flips; the criterion counts both
  size_t exact_matched = 0;   // of detections.reference, found at the very same conf and max_det
  std::vector<std::string> lines;  // per batch size, for printing
  bool passed = false;
  std::string failure;  // one line when !passed
};

// `engine` runs every image of the set at each of `batches` (ceil(images / b) runs, a batch
// larger than the set repeating it); `reference` at batch 1. Both take one NCHW float32 input of
// `input_shape` (its batch dimension ignored).
Result<ValidationReport> validate_engine(Engine& engine, const std::vector<int64_t>& batches,
                                         Engine& reference, const Shape& input_shape,
                                         const ValidationOptions& options);

}  // namespace fungen
