#include "runtime/plan_validate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "fmt/format.h"

namespace fungen {

double relative_l2(const float* test, const float* reference, size_t n) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(test[i]) - reference[i];
    diff += d * d;
    norm += static_cast<double>(reference[i]) * reference[i];
  }
  if (!std::isfinite(diff)) return INFINITY;
  if (norm == 0) return diff == 0 ? 0 : INFINITY;
  return std::sqrt(diff / norm);
}

DetectionMatch match_detections(const std::vector<detect::Candidate>& reference,
                                const std::vector<detect::Candidate>& test, float min_iou,
                                std::vector<size_t>* missed) {
  std::vector<size_t> order(reference.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return reference[a].score > reference[b].score; });
  std::vector<bool> used(test.size(), false);
  DetectionMatch m;
  m.reference = reference.size();
  for (size_t r : order) {
    int best = -1;
    float best_iou = -1;
    for (size_t t = 0; t < test.size(); ++t) {
      if (used[t] || test[t].class_id != reference[r].class_id) continue;
      float v = detect::iou(reference[r], test[t]);
      if (v > best_iou) {
        best_iou = v;
        best = static_cast<int>(t);
      }
    }
    if (best >= 0 && best_iou >= min_iou) {
      used[static_cast<size_t>(best)] = true;
      ++m.matched;
    } else if (missed) {
      missed->push_back(r);
    }
  }
  return m;
}

std::vector<detect::Candidate> detections_of(const Tensor& output, int64_t image, float conf,
                                             int max_det) {
  if (output.rank() != 3 || output.dtype() != DType::kFloat32) return {};
  const int64_t rows = output.dim(1), cols = output.dim(2);
  const float* p = output.data<float>() + image * rows * cols;
  DetectOptions options;
  options.conf = conf;
  options.max_det = max_det;
  if (cols == 6) return detect::end_to_end_candidates(p, static_cast<int>(rows), 6, options);
  auto candidates =
      detect::raw_candidates(p, static_cast<int>(rows), static_cast<int>(cols), options);
  return detect::non_max_suppression(std::move(candidates), options);
}

namespace {

// The anchor of a raw head whose box, as raw_candidates computes it, is `c`'s; -1 if none.
int anchor_of(const float* head, int anchors, const detect::Candidate& c) {
  const size_t n = static_cast<size_t>(anchors);
  for (size_t a = 0; a < n; ++a) {
    const float hw = head[2 * n + a] / 2.f, hh = head[3 * n + a] / 2.f;
    if (head[a] - hw == c.x1 && head[n + a] - hh == c.y1 && head[a] + hw == c.x2 &&
        head[n + a] + hh == c.y2) {
      return static_cast<int>(a);
    }
  }
  return -1;
}

// The best class of anchor `a` of a raw head, the first of equal scores (as raw_candidates).
int best_class(const float* head, int channels, int anchors, int a) {
  int best = 0;
  for (int c = 1; c < channels - 4; ++c) {
    if (head[static_cast<size_t>(4 + c) * anchors + a] >
        head[static_cast<size_t>(4 + best) * anchors + a]) {
      best = c;
    }
  }
  return best;
}

}  // namespace

std::string detections_text(const DetectionMatch& m) {
  std::string text =
      fmt::format("{}/{} ({:.2f}%) strict; {}/{} ({:.2f}%) counting {} near-tie flip(s)", m.matched,
                  m.reference, 100.0 * m.recall(), m.matched + m.tie_flips, m.reference,
                  100.0 * m.tie_aware_recall(), m.tie_flips);
  if (m.class_ties)
    text += fmt::format(" ({} more lost to class near-ties, not counted)", m.class_ties);
  return text;
}

NearTies near_tie_flips(const float* reference_head, const float* test_head, int channels,
                        int anchors, const std::vector<detect::Candidate>& reference,
                        const std::vector<size_t>& missed,
                        const std::vector<detect::Candidate>& test,
                        const ValidationOptions& options) {
  NearTies ties;
  if (missed.empty() || channels <= 4) return ties;
  // The replay: class scores moved toward the test's by at most tolerance x |score|.
  const double tolerance = options.tie_tolerance >= 0 ? options.tie_tolerance : options.max_rel_l2;
  const size_t n = static_cast<size_t>(channels) * static_cast<size_t>(anchors);
  std::vector<float> replay(reference_head, reference_head + n);
  for (size_t k = 4 * static_cast<size_t>(anchors); k < n; ++k) {
    const double limit = tolerance * std::abs(reference_head[k]);
    const double move = static_cast<double>(test_head[k]) - reference_head[k];
    if (std::isfinite(move)) replay[k] += static_cast<float>(std::clamp(move, -limit, limit));
  }
  DetectOptions nms;  // as detections_of
  nms.conf = options.conf;
  nms.max_det = options.max_det;
  const std::vector<detect::Candidate> candidates =
      detect::raw_candidates(replay.data(), channels, anchors, nms);
  const std::vector<detect::Candidate> kept = detect::non_max_suppression(candidates, nms);

  auto in_test = [&](const detect::Candidate& c) {
    return std::any_of(test.begin(), test.end(), [&](const detect::Candidate& t) {
      return t.class_id == c.class_id && detect::iou(c, t) >= options.min_iou;
    });
  };
  for (size_t index : missed) {
    const detect::Candidate& r = reference[index];
    const int a = anchor_of(reference_head, anchors, r);
    if (a < 0) continue;
    auto is_r = [&](const detect::Candidate& k) {
      return k.class_id == r.class_id && k.x1 == r.x1 && k.y1 == r.y1 && k.x2 == r.x2 &&
             k.y2 == r.y2;
    };
    if (std::any_of(kept.begin(), kept.end(), is_r)) continue;  // needs more than a near-tie
    const int replay_class = best_class(replay.data(), channels, anchors, a);
    const int test_class = best_class(test_head, channels, anchors, a);
    if (replay_class != r.class_id) {
      // Two class scores of r's anchor within the tolerance, reordered: reported, still a miss.
      detect::Candidate other = r;
      other.class_id = replay_class;
      if (test_class == replay_class && in_test(other)) ++ties.class_ties;
      continue;
    }
    // A class the test changed at r's anchor, or a score the replay took under conf: a miss.
    if (test_class != r.class_id || std::none_of(candidates.begin(), candidates.end(), is_r)) {
      continue;
    }
    // The replay's detections are best first: the first overlapping one suppresses r.
    auto q = std::find_if(kept.begin(), kept.end(), [&](const detect::Candidate& k) {
      return k.class_id == r.class_id && detect::iou(k, r) > nms.iou;
    });
    if (q != kept.end() && in_test(*q)) ++ties.flips;
  }
  return ties;
}

DetectionMatch compare_detections(const Tensor& reference, const Tensor& test, int64_t image,
                                  const ValidationOptions& options) {
  const auto want = detections_of(reference, 0, options.conf, options.max_det);
  const auto got = detections_of(test, image, std::max(options.conf - options.conf_margin, 0.f),
                                 options.max_det * 3);
  std::vector<size_t> missed;
  DetectionMatch m = match_detections(want, got, options.min_iou, &missed);
  const Shape& head = reference.shape();
  const bool raw_heads = head.size() == 3 && head[0] == 1 && head[2] != 6 &&
                         reference.dtype() == DType::kFloat32 && test.rank() == 3 &&
                         test.dtype() == DType::kFloat32 && test.dim(1) == head[1] &&
                         test.dim(2) == head[2] && image < test.dim(0);
  if (raw_heads) {
    const int64_t n = head[1] * head[2];
    const NearTies ties = near_tie_flips(reference.data<float>(), test.data<float>() + image * n,
                                         static_cast<int>(head[1]), static_cast<int>(head[2]), want,
                                         missed, got, options);
    m.tie_flips = ties.flips;
    m.class_ties = ties.class_ties;
  }
  return m;
}

void fill_validation_images(Tensor& t, uint64_t seed, int64_t first_index) {
  const int64_t n = t.dim(0), c = t.dim(1), h = t.dim(2), w = t.dim(3);
  float* data = t.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t index = first_index + i;
    std::mt19937_64 rng(seed * 1000003u + static_cast<uint64_t>(index));
    std::uniform_real_distribution<float> u(0.f, 1.f);
    float* img = data + i * c * h * w;
    if (index % 2 == 0) {
      for (int64_t k = 0; k < c * h * w; ++k) img[k] = u(rng);
      continue;
    }
    // A scene: a smooth background and a few solid shapes with slightly noisy colour.
    std::vector<float> base(static_cast<size_t>(c)), slope(static_cast<size_t>(c));
    for (int64_t ch = 0; ch < c; ++ch) {
      base[static_cast<size_t>(ch)] = u(rng);
      slope[static_cast<size_t>(ch)] = u(rng) - 0.5f;
    }
    for (int64_t ch = 0; ch < c; ++ch) {
      for (int64_t y = 0; y < h; ++y) {
        for (int64_t x = 0; x < w; ++x) {
          float v = base[static_cast<size_t>(ch)] +
                    slope[static_cast<size_t>(ch)] * static_cast<float>(x + y) / (h + w);
          img[(ch * h + y) * w + x] = std::clamp(v, 0.f, 1.f);
        }
      }
    }
    const int shapes = 3 + static_cast<int>(rng() % 6);
    for (int s = 0; s < shapes; ++s) {
      const int64_t bw = std::max<int64_t>(2, static_cast<int64_t>(u(rng) * w * 0.4f));
      const int64_t bh = std::max<int64_t>(2, static_cast<int64_t>(u(rng) * h * 0.4f));
      const int64_t x0 = static_cast<int64_t>(u(rng) * static_cast<float>(w - bw));
      const int64_t y0 = static_cast<int64_t>(u(rng) * static_cast<float>(h - bh));
      const bool ellipse = rng() % 2 == 0;
      std::vector<float> colour(static_cast<size_t>(c));
      for (float& v : colour) v = u(rng);
      for (int64_t y = y0; y < y0 + bh; ++y) {
        for (int64_t x = x0; x < x0 + bw; ++x) {
          const float dx = (static_cast<float>(x - x0) + 0.5f) / static_cast<float>(bw) - 0.5f;
          const float dy = (static_cast<float>(y - y0) + 0.5f) / static_cast<float>(bh) - 0.5f;
          if (ellipse && dx * dx + dy * dy > 0.25f) continue;
          for (int64_t ch = 0; ch < c; ++ch) {
            float v = colour[static_cast<size_t>(ch)] + 0.03f * (u(rng) - 0.5f);
            img[(ch * h + y) * w + x] = std::clamp(v, 0.f, 1.f);
          }
        }
      }
    }
  }
}

Result<ValidationReport> validate_engine(Engine& engine, const std::vector<int64_t>& batches,
                                         Engine& reference, const Shape& input_shape,
                                         const ValidationOptions& options) {
  if (input_shape.size() != 4 || options.images < 0) {
    return invalid_argument("validation needs an NCHW input and a generated image count >= 0");
  }
  Shape one = input_shape;
  one[0] = 1;
  const size_t per_image = static_cast<size_t>(shape_numel(one));
  const Tensor* real = options.real_images;
  if (real && (real->dtype() != DType::kFloat32 || real->rank() != 4 || real->dim(1) != one[1] ||
               real->dim(2) != one[2] || real->dim(3) != one[3])) {
    return invalid_argument("validation images are " + shape_to_string(real->shape()) +
                            ", the model takes " + shape_to_string(one));
  }
  const int64_t generated = options.images, images = generated + (real ? real->dim(0) : 0);
  if (images < 1) return invalid_argument("validation needs at least one image");
  Tensor set(DType::kFloat32, {images, one[1], one[2], one[3]});
  if (generated > 0) {
    Tensor head =
        Tensor::view(DType::kFloat32, {generated, one[1], one[2], one[3]}, set.data<float>());
    fill_validation_images(head, options.seed);
  }
  if (real)
    std::copy_n(real->data<float>(), real->numel(), set.data<float>() + generated * per_image);

  // The reference, image by image.
  std::vector<std::vector<Tensor>> ref(static_cast<size_t>(images));
  for (int64_t i = 0; i < images; ++i) {
    Tensor in = Tensor::view(DType::kFloat32, one, set.data<float>() + i * per_image);
    std::vector<Tensor> out;
    Status s = reference.run({&in, 1}, out);
    if (!s.ok()) return s.with_context("reference run");
    for (const Tensor& t : out) ref[static_cast<size_t>(i)].push_back(t.clone());
  }
  ValidationReport report;
  double sum = 0;
  size_t count = 0;
  for (int64_t b : batches) {
    Shape shape = one;
    shape[0] = b;
    Tensor in(DType::kFloat32, shape);
    double worst = 0;
    DetectionMatch det, exact;
    // Every image at every batch size: ceil(images / b) runs, slot k of run j taking image
    // (j b + k) mod images (a batch larger than the set repeats it).
    for (int64_t first = 0; first < images; first += b) {
      for (int64_t k = 0; k < b; ++k) {
        std::copy_n(set.data<float>() + ((first + k) % images) * per_image, per_image,
                    in.data<float>() + k * per_image);
      }
      std::vector<Tensor> out;
      Status s = engine.run({&in, 1}, out);
      if (!s.ok()) return s.with_context("plan run at batch " + std::to_string(b));
      for (int64_t k = 0; k < b; ++k) {
        const std::vector<Tensor>& r = ref[static_cast<size_t>((first + k) % images)];
        for (size_t o = 0; o < out.size() && o < r.size(); ++o) {
          const size_t n = static_cast<size_t>(r[o].numel());
          if (out[o].dtype() != DType::kFloat32 || static_cast<size_t>(out[o].numel()) != n * b) {
            continue;  // not a per-image float output
          }
          double e = relative_l2(out[o].data<float>() + k * n, r[o].data<float>(), n);
          worst = std::max(worst, e);
          sum += e;
          ++count;
        }
        if (!out.empty() && !r.empty()) {
          det += compare_detections(r[0], out[0], k, options);
          exact += match_detections(detections_of(r[0], 0, options.conf, options.max_det),
                                    detections_of(out[0], k, options.conf, options.max_det),
                                    options.min_iou);
        }
      }
    }
    report.max_rel_l2 = std::max(report.max_rel_l2, worst);
    report.detections += det;
    report.exact_matched += exact.matched;
    report.lines.push_back(
        fmt::format("batch {:>3}: max rel L2 {:.2e}, detections {} (at the same conf and max_det "
                    "{}/{} strict)",
                    b, worst, detections_text(det), exact.matched, det.reference));
  }
  report.mean_rel_l2 = count ? sum / static_cast<double>(count) : 0;
  report.passed = true;
  if (!(report.max_rel_l2 <= options.max_rel_l2)) {
    report.passed = false;
    report.failure = fmt::format("relative L2 error {:.3e} exceeds {:.0e}", report.max_rel_l2,
                                 options.max_rel_l2);
  } else if (report.detections.tie_aware_recall() < options.min_recall) {
    report.passed = false;
    report.failure = fmt::format(
        "CPU fp32 detections reproduced (IoU >= {}, same class, conf {}): {}; at least {:.0f}% "
        "needed, near-tie flips counted",
        options.min_iou, options.conf, detections_text(report.detections),
        100.0 * options.min_recall);
  }
  return report;
}

}  // namespace fungen
