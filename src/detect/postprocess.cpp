// postprocess.cpp — see postprocess.h.
#include "detect/postprocess.h"

#include <algorithm>
#include <numeric>

namespace fungen::detect {
namespace {

constexpr float kClassOffset = 7680.f;  // Ultralytics' max_wh

bool class_allowed(int class_id, const std::vector<int>& classes) {
  return classes.empty() || std::find(classes.begin(), classes.end(), class_id) != classes.end();
}

void sort_by_score(std::vector<Candidate>& c) {
  std::stable_sort(c.begin(), c.end(),
                   [](const Candidate& a, const Candidate& b) { return a.score > b.score; });
}

}  // namespace

std::vector<Candidate> raw_candidates(const float* out, int channels, int anchors,
                                      const DetectOptions& options) {
  std::vector<Candidate> result;
  const int nc = channels - 4;
  if (nc <= 0) return result;
  // Best class per anchor, scanning class rows so memory is read contiguously.
  std::vector<float> best(anchors, -1.f);
  std::vector<int> best_class(anchors, 0);
  for (int c = 0; c < nc; ++c) {
    const float* row = out + static_cast<size_t>(4 + c) * anchors;
    for (int a = 0; a < anchors; ++a) {
      if (row[a] > best[a]) {  // first class wins ties, like torch.max
        best[a] = row[a];
        best_class[a] = c;
      }
    }
  }
  for (int a = 0; a < anchors; ++a) {
    if (!(best[a] > options.conf)) continue;
    if (!class_allowed(best_class[a], options.classes)) continue;
    float cx = out[a], cy = out[anchors + a];
    float hw = out[2 * static_cast<size_t>(anchors) + a] / 2.f;
    float hh = out[3 * static_cast<size_t>(anchors) + a] / 2.f;
    result.push_back(Candidate{cx - hw, cy - hh, cx + hw, cy + hh, best[a], best_class[a]});
  }
  return result;
}

float iou(const Candidate& a, const Candidate& b) {
  float area_a = (a.x2 - a.x1) * (a.y2 - a.y1);
  float area_b = (b.x2 - b.x1) * (b.y2 - b.y1);
  float w = std::max(0.f, std::min(a.x2, b.x2) - std::max(a.x1, b.x1));
  float h = std::max(0.f, std::min(a.y2, b.y2) - std::max(a.y1, b.y1));
  float inter = w * h;
  return inter / (area_a + area_b - inter);
}

std::vector<Candidate> non_max_suppression(std::vector<Candidate> candidates,
                                           const DetectOptions& options) {
  sort_by_score(candidates);
  if (options.max_nms > 0 && static_cast<int>(candidates.size()) > options.max_nms) {
    candidates.resize(options.max_nms);
  }
  const size_t n = candidates.size();
  std::vector<Candidate> shifted(candidates);
  if (!options.agnostic) {
    for (Candidate& c : shifted) {
      float offset = static_cast<float>(c.class_id) * kClassOffset;
      c.x1 += offset, c.y1 += offset, c.x2 += offset, c.y2 += offset;
    }
  }
  std::vector<char> suppressed(n, 0);
  std::vector<Candidate> kept;
  const double threshold = options.iou;
  for (size_t i = 0; i < n && static_cast<int>(kept.size()) < options.max_det; ++i) {
    if (suppressed[i]) continue;
    kept.push_back(candidates[i]);
    for (size_t j = i + 1; j < n; ++j) {
      if (!suppressed[j] && static_cast<double>(iou(shifted[i], shifted[j])) > threshold) {
        suppressed[j] = 1;
      }
    }
  }
  return kept;
}

std::vector<Candidate> end_to_end_candidates(const float* out, int rows, int cols,
                                             const DetectOptions& options) {
  std::vector<Candidate> result;
  for (int r = 0; r < rows && static_cast<int>(result.size()) < options.max_det; ++r) {
    const float* v = out + static_cast<size_t>(r) * cols;
    if (!(v[4] > options.conf)) continue;
    int class_id = static_cast<int>(v[5]);
    if (!class_allowed(class_id, options.classes)) continue;
    result.push_back(Candidate{v[0], v[1], v[2], v[3], v[4], class_id});
  }
  return result;
}

void map_to_frame(std::vector<Candidate>& boxes, const LetterboxParams& p, int frame_width,
                  int frame_height) {
  const float left = static_cast<float>(p.left), top = static_cast<float>(p.top);
  const float gx = static_cast<float>(p.gain_x), gy = static_cast<float>(p.gain_y);
  const float w = static_cast<float>(frame_width), h = static_cast<float>(frame_height);
  for (Candidate& b : boxes) {
    b.x1 = std::clamp((b.x1 - left) / gx, 0.f, w);
    b.y1 = std::clamp((b.y1 - top) / gy, 0.f, h);
    b.x2 = std::clamp((b.x2 - left) / gx, 0.f, w);
    b.y2 = std::clamp((b.y2 - top) / gy, 0.f, h);
  }
}

}  // namespace fungen::detect
