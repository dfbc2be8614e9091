// compare_rules.h — how fungen_compare_detections decides that two detections of one frame agree
// (plain C++, header-only: the CLI and tests/video/test_compare_rules.cpp both use it).
//
// Boxes are paired by geometry: same class, every edge within `px`; pairs are taken closest
// first, so each box pairs with at most one. A pair whose scores differ by more than `score`
// fails the frame. A box left without a partner is a *flip* (two runs whose inputs differ in the
// last bit may legitimately disagree on it) only when its score puts it at one of the
// detector's cut-offs, within the score tolerance:
//   - top max_det: the other side holds max_det boxes and the box's score is at most that side's
//     lowest kept score + `score` (it fell just below the other side's cut);
//   - conf: its score is within `score` of the conf threshold (kept here, dropped there);
//   - NMS: the other side has a box of the same class (any class when agnostic) overlapping it
//     with IoU > iou - iou_margin whose score is within `score` of its own (a near tie in which
//     box suppresses the other), and which is another candidate, not this box moved: some edge
//     more than flip_min_px away (a box that drifted by a few pixels fails).
// Any other unpaired box fails the frame, as does a frame with more than max_flips_per_frame
// flips; the run fails when its flips exceed max_flip_fraction of the paired boxes (never fewer
// than max_flips_per_frame are allowed). Frame numbers and times must be equal.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <tuple>
#include <vector>

namespace fungen::compare {

struct Box {
  int cls = 0;
  double score = 0, x1 = 0, y1 = 0, x2 = 0, y2 = 0;
};

struct FrameRec {
  int64_t frame = 0;
  double t_ms = 0;
  std::vector<Box> boxes;
};

struct Limits {
  double px = 1.0;      // largest box edge difference of a pair, pixels
  double score = 0.01;  // largest score difference of a pair; also the flip window
  int max_det = 300;    // the detector's per-frame cap (settings.detect.max_det)
  double conf = 0.25;   // its score threshold (settings.detect.conf)
  double iou = 0.45;    // its NMS threshold (settings.detect.iou)
  bool agnostic = false;
  double iou_margin = 0.02;  // IoU slack for the NMS rule (boxes differ in the last bits)
  double flip_min_px = 3.0;  // the NMS rule's two boxes differ by more than this (pixels)
  int max_flips_per_frame = 4;
  double max_flip_fraction = 0.01;
};

struct FrameResult {
  bool ok = true;
  int paired = 0;
  int flips = 0;        // unpaired boxes explained by a cut-off
  int unexplained = 0;  // unpaired boxes that fail the frame
  int score_fails = 0;  // pairs whose scores differ by more than the limit
  bool exact = true;    // every pair equal to the last digit written
  double worst_px = 0, worst_score = 0;
  std::string why;  // the first reason the frame failed (empty when ok)
};

inline double edge_distance(const Box& a, const Box& b) {
  return std::max({std::fabs(a.x1 - b.x1), std::fabs(a.y1 - b.y1), std::fabs(a.x2 - b.x2),
                   std::fabs(a.y2 - b.y2)});
}

inline double iou(const Box& a, const Box& b) {
  double iw = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
  double ih = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
  if (iw <= 0 || ih <= 0) return 0;
  double inter = iw * ih;
  double area_a = (a.x2 - a.x1) * (a.y2 - a.y1), area_b = (b.x2 - b.x1) * (b.y2 - b.y1);
  double uni = area_a + area_b - inter;
  return uni > 0 ? inter / uni : 0;
}

inline std::string describe(const Box& b) {
  char s[128];
  std::snprintf(s, sizeof s, "class %d score %.5f box (%.2f, %.2f, %.2f, %.2f)", b.cls, b.score,
                b.x1, b.y1, b.x2, b.y2);
  return s;
}

// Which cut-off explains `x` (kept on its side) missing from `other`; "" when none does.
inline std::string flip_reason(const Box& x, const std::vector<Box>& other, const Limits& lim) {
  if (lim.max_det > 0 && static_cast<int>(other.size()) >= lim.max_det) {
    double lowest = other.front().score;
    for (const Box& b : other) lowest = std::min(lowest, b.score);
    if (x.score <= lowest + lim.score) return "top-max_det cut";
  }
  if (std::fabs(x.score - lim.conf) <= lim.score) return "conf threshold";
  for (const Box& z : other) {
    if (!lim.agnostic && z.cls != x.cls) continue;
    if (std::fabs(z.score - x.score) <= lim.score && iou(x, z) > lim.iou - lim.iou_margin &&
        edge_distance(x, z) > lim.flip_min_px)
      return "NMS near tie";
  }
  return "";
}

inline FrameResult compare_frame(const FrameRec& a, const FrameRec& b, const Limits& lim) {
  FrameResult r;
  auto fail = [&](const std::string& why) {
    if (r.ok) r.why = why;
    r.ok = false;
  };
  if (a.frame != b.frame || std::fabs(a.t_ms - b.t_ms) > 1e-6) fail("frame number or time differs");
  // Candidate pairs by geometry, closest first.
  std::vector<std::tuple<double, size_t, size_t>> cand;
  for (size_t i = 0; i < a.boxes.size(); ++i) {
    for (size_t k = 0; k < b.boxes.size(); ++k) {
      if (a.boxes[i].cls != b.boxes[k].cls) continue;
      double d = edge_distance(a.boxes[i], b.boxes[k]);
      if (d <= lim.px) cand.emplace_back(d, i, k);
    }
  }
  std::sort(cand.begin(), cand.end());
  std::vector<bool> used_a(a.boxes.size(), false), used_b(b.boxes.size(), false);
  for (const auto& [d, i, k] : cand) {
    if (used_a[i] || used_b[k]) continue;
    used_a[i] = used_b[k] = true;
    ++r.paired;
    double ds = std::fabs(a.boxes[i].score - b.boxes[k].score);
    r.worst_px = std::max(r.worst_px, d), r.worst_score = std::max(r.worst_score, ds);
    if (d > 0 || ds > 0) r.exact = false;
    if (ds > lim.score) {
      ++r.score_fails;
      fail("scores differ by " + std::to_string(ds) + ": " + describe(a.boxes[i]) + " vs " +
           describe(b.boxes[k]));
    }
  }
  auto unpaired = [&](const std::vector<Box>& mine, const std::vector<bool>& used,
                      const std::vector<Box>& other, const char* side) {
    for (size_t i = 0; i < mine.size(); ++i) {
      if (used[i]) continue;
      r.exact = false;
      if (!flip_reason(mine[i], other, lim).empty()) {
        ++r.flips;
        continue;
      }
      ++r.unexplained;
      // The nearest box of its class on the other side, to tell a drift from a missing box.
      double nearest = -1;
      for (const Box& o : other) {
        if (o.cls != mine[i].cls) continue;
        double d = edge_distance(mine[i], o);
        if (nearest < 0 || d < nearest) nearest = d;
      }
      fail(std::string("only in ") + side + ": " + describe(mine[i]) +
           (nearest < 0 ? std::string(", no box of its class on the other side")
                        : ", nearest of its class on the other side " + std::to_string(nearest) +
                              " px away"));
    }
  };
  unpaired(a.boxes, used_a, b.boxes, "a");
  unpaired(b.boxes, used_b, a.boxes, "b");
  if (r.flips > lim.max_flips_per_frame)
    fail(std::to_string(r.flips) + " boxes flipped at cut-offs (limit " +
         std::to_string(lim.max_flips_per_frame) + " a frame)");
  return r;
}

// Flips a whole run may have: max_flip_fraction of its paired boxes, at least
// max_flips_per_frame.
inline int64_t flips_allowed(int64_t paired, const Limits& lim) {
  return std::max<int64_t>(lim.max_flips_per_frame,
                           static_cast<int64_t>(std::floor(paired * lim.max_flip_fraction)));
}

}  // namespace fungen::compare
