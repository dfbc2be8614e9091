// e2e_match.h — for fungen_gpu_bench --check-all: compares end-to-end detection outputs
// ([B, N, 6] rows x1 y1 x2 y2 score class, picked by TopK) as sets of rows, not in pick order.
// Near-tied scores legitimately reorder the rows (and swap which rows make the top N), so an
// element-wise relative L2 of such outputs measures the order, not the model.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace fungen::bench {

struct E2eMatch {
  int64_t rows = 0;     // reference rows compared
  int64_t matched = 0;  // reference rows with a partner in the output
  int64_t excused = 0;  // unmatched, but scored within the tolerance of the top-N boundary
  double rel_l2 = 0;  // relative L2 error over the matched pairs (all six fields; the worst image)
  double max_score = 0;  // largest score difference of a matched pair
  // Share of the rows that should have matched (all but the excused) and did.
  double share() const {
    const int64_t due = rows - excused;
    return due > 0 ? static_cast<double>(matched) / static_cast<double>(due) : 1.0;
  }
};

// Output of rank 3 with rows of 6: what yolov10 / yolo26 end-to-end exports give.
inline bool is_e2e_shape(const std::vector<int64_t>& shape) {
  return shape.size() == 3 && shape[2] == 6 && shape[1] >= 1;
}

inline double box_iou(const float* a, const float* b) {
  const double iw = std::min(a[2], b[2]) - std::max(a[0], b[0]);
  const double ih = std::min(a[3], b[3]) - std::max(a[1], b[1]);
  const double inter = iw > 0 && ih > 0 ? iw * ih : 0.0;
  const double area_a =
      std::max(0.0f, a[2] - a[0]) * static_cast<double>(std::max(0.0f, a[3] - a[1]));
  const double area_b =
      std::max(0.0f, b[2] - b[0]) * static_cast<double>(std::max(0.0f, b[3] - b[1]));
  const double uni = area_a + area_b - inter;
  if (uni <= 0) {  // degenerate boxes: equal corners count as a match
    for (int k = 0; k < 4; ++k)
      if (std::fabs(a[k] - b[k]) > 1e-3f * (1.0f + std::fabs(b[k]))) return 0.0;
    return 1.0;
  }
  return inter / uni;
}

// Greedy matching of the rows of `out` to those of `ref` (both [rows, 6], one image): each
// reference row, best score first, takes the free output row of the same class whose score is
// within score_tol and whose box overlaps most (IoU >= min_iou). Reference rows left without a
// partner are excused when their score is within tie_tol of the lowest reference score (rows at
// the top-N boundary, which the output may have swapped for near-tied ones), but never more of
// them than the output has unmatched rows within tie_tol of that score (the swapped-in ones),
// nor more than a tenth of the rows.
inline void match_e2e_rows(const float* out, const float* ref, int64_t rows, double score_tol,
                           double tie_tol, double min_iou, E2eMatch& m) {
  std::vector<int64_t> order(static_cast<size_t>(rows));
  for (int64_t i = 0; i < rows; ++i) order[static_cast<size_t>(i)] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return ref[a * 6 + 4] > ref[b * 6 + 4]; });
  float lowest = INFINITY;
  for (int64_t i = 0; i < rows; ++i) lowest = std::min(lowest, ref[i * 6 + 4]);
  std::vector<bool> taken(static_cast<size_t>(rows), false);
  double num = 0, den = 0;
  int64_t near_boundary = 0;
  for (int64_t r : order) {
    const float* a = ref + r * 6;
    int64_t best = -1;
    double best_iou = min_iou;
    for (int64_t j = 0; j < rows; ++j) {
      const float* b = out + j * 6;
      if (taken[static_cast<size_t>(j)] || !(std::fabs(b[5] - a[5]) < 0.5f) ||
          !(std::fabs(b[4] - a[4]) <= score_tol))
        continue;
      const double iou = box_iou(b, a);
      if (iou >= best_iou) {
        best_iou = iou;
        best = j;
      }
    }
    ++m.rows;
    if (best < 0) {
      if (a[4] - lowest <= tie_tol) ++near_boundary;
      continue;
    }
    taken[static_cast<size_t>(best)] = true;
    ++m.matched;
    const float* b = out + best * 6;
    for (int k = 0; k < 6; ++k) {
      const double d = static_cast<double>(b[k]) - a[k];
      num += d * d;
      den += static_cast<double>(a[k]) * a[k];
    }
    m.max_score = std::max(m.max_score, std::fabs(static_cast<double>(b[4]) - a[4]));
  }
  int64_t swapped_in = 0;
  for (int64_t j = 0; j < rows; ++j) {
    if (!taken[static_cast<size_t>(j)] && std::fabs(out[j * 6 + 4] - lowest) <= tie_tol) {
      ++swapped_in;
    }
  }
  // At most a tenth of the rows: beyond that the scores are mostly tied and the rows picked are
  // arbitrary, which no comparison can excuse.
  m.excused += std::min({near_boundary, swapped_in, std::max<int64_t>(1, rows / 10)});
  m.rel_l2 = std::sqrt(num / std::max(den, 1e-30));
}

// Every image of a [B, N, 6] output; non-finite values in `out` make rel_l2 infinite.
inline E2eMatch match_e2e(const float* out, const float* ref, int64_t batch, int64_t rows,
                          double score_tol, double tie_tol, double min_iou) {
  E2eMatch total;
  double worst = 0;
  for (int64_t b = 0; b < batch; ++b) {
    E2eMatch m;
    for (int64_t i = 0; i < rows * 6; ++i) {
      if (!std::isfinite(out[b * rows * 6 + i])) {
        total.rows += rows;
        total.rel_l2 = INFINITY;
        return total;
      }
    }
    match_e2e_rows(out + b * rows * 6, ref + b * rows * 6, rows, score_tol, tie_tol, min_iou, m);
    total.rows += m.rows;
    total.matched += m.matched;
    total.excused += m.excused;
    total.max_score = std::max(total.max_score, m.max_score);
    worst = std::max(worst, m.rel_l2);
  }
  total.rel_l2 = worst;  // the worst image
  return total;
}

}  // namespace fungen::bench
