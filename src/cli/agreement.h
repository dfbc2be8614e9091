// agreement.h — how closely an opt-in precision (bf16, int8) follows fp32 on the same images:
// max and mean |difference| of the raw model outputs, and the share of fp32 detections it
// reproduces (same class, IoU >= 0.9) at each confidence threshold.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fungen/calibration.h"
#include "fungen/status.h"

namespace fungen::cli {

struct AgreementOptions {
  std::string model;
  std::string precision;  // compared with fp32
  std::shared_ptr<const CalibrationTable> calibration;
  int threads = 0;
  std::string images_dir;  // empty: the synthetic test images of tests/e2e (and more seeds)
  std::vector<float> confs = {0.25f};
  float match_iou = 0.9f;  // a detection is reproduced by one of the same class at IoU >= this
  float nms_iou = 0.45f;
  int max_det = 300;  // detections kept per image (Detector's default)
};

struct AgreementAtConf {
  float conf = 0;
  int fp32_detections = 0, detections = 0, reproduced = 0;
  // Raw heads, before NMS and the max_det cut: anchors whose best fp32 score > conf, and those of
  // them where the other precision's best score > conf too, with the same class and its box at
  // IoU >= match_iou (what the precision changes, apart from NMS order and near-ties at the cut).
  int fp32_anchors = 0, anchors_kept = 0;
  double share() const { return fp32_detections ? double(reproduced) / fp32_detections : 1.0; }
};

struct Agreement {
  int images = 0;
  std::string image_source;
  double max_abs = 0, mean_abs = 0;  // raw outputs, all elements
  double max_ref = 0;                // largest |fp32 output|, for scale
  int max_det = 300;
  float match_iou = 0.9f;
  bool end_to_end = false;  // N×K×6 head: raw rows are TopK picks, compared in their order
  std::vector<AgreementAtConf> at;
};

Result<Agreement> measure_agreement(const AgreementOptions& options);
nlohmann::ordered_json agreement_json(const Agreement& a);
// One line per threshold, for humans.
std::string agreement_text(const Agreement& a, const std::string& precision);

}  // namespace fungen::cli
