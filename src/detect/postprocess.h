// postprocess.h — YOLO output decoding and NMS with Ultralytics' semantics (see fungen/detector.h).
// Boxes here are in model-input pixels until map_to_frame().
#pragma once

#include <span>
#include <vector>

#include "fungen/detector.h"

namespace fungen::detect {

struct Candidate {
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  float score = 0;
  int class_id = 0;
};

// One image of a raw head: `channels` (= 4 + nc) rows of `anchors` values, row-major
// (cx, cy, w, h, scores...). Returns the candidates with best score > conf that pass the class
// filter, boxes as x1y1x2y2, in anchor order.
std::vector<Candidate> raw_candidates(const float* out, int channels, int anchors,
                                      const DetectOptions& options);

// torchvision.ops.nms on boxes shifted by class_id·7680 (0 when agnostic): candidates sorted by
// score (stable), IoU computed in float32, a box whose IoU with a kept box is > iou is dropped.
// Before it, more than max_nms candidates are cut to the max_nms best. Returns the kept
// candidates, best first, at most max_det.
std::vector<Candidate> non_max_suppression(std::vector<Candidate> candidates,
                                           const DetectOptions& options);

// One image of an end-to-end head: `rows` rows of `cols` (>= 6) values x1, y1, x2, y2, score,
// class. Keeps score > conf in the class filter, first max_det, in the model's order.
std::vector<Candidate> end_to_end_candidates(const float* out, int rows, int cols,
                                             const DetectOptions& options);

// Ultralytics scale_boxes + clip_boxes, in float32 like torch.
void map_to_frame(std::vector<Candidate>& boxes, const LetterboxParams& params, int frame_width,
                  int frame_height);

float iou(const Candidate& a, const Candidate& b);

}  // namespace fungen::detect
