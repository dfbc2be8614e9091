// The checks behind `fungen convert --validate`: relative L2, detection matching with near-tie
// flips, and validate_engine passing an engine against itself and failing one whose weights or
// scores differ.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstring>

#include "fungen/engine.h"
#include "model_builder.h"
#include "op_test_util.h"
#include "runtime/plan_validate.h"

namespace fungen {
namespace {

TEST(PlanValidate, RelativeL2) {
  std::vector<float> ref = {3, 4}, same = {3, 4}, off = {3, 4.05f}, zero = {0, 0};
  EXPECT_EQ(relative_l2(same.data(), ref.data(), 2), 0.0);
  EXPECT_NEAR(relative_l2(off.data(), ref.data(), 2), 0.05 / 5, 1e-6);
  EXPECT_EQ(relative_l2(zero.data(), zero.data(), 2), 0.0);
  EXPECT_TRUE(std::isinf(relative_l2(ref.data(), zero.data(), 2)));
  std::vector<float> nan = {3, NAN};
  EXPECT_FALSE(relative_l2(nan.data(), ref.data(), 2) <= 1e-2) << "NaN never passes";
}

TEST(PlanValidate, DetectionsMatchByClassAndIoU) {
  using C = detect::Candidate;
  std::vector<C> ref = {{0, 0, 100, 100, 0.9f, 1}, {200, 200, 300, 300, 0.8f, 2}};
  EXPECT_EQ(match_detections(ref, ref, 0.9f).matched, 2u);
  std::vector<C> shifted = {{0, 0, 100, 100, 0.9f, 1}, {215, 200, 315, 300, 0.8f, 2}};
  EXPECT_EQ(match_detections(ref, shifted, 0.9f).matched, 1u) << "IoU 0.74 < 0.9";
  std::vector<C> other_class = {{0, 0, 100, 100, 0.9f, 3}, {200, 200, 300, 300, 0.8f, 2}};
  EXPECT_EQ(match_detections(ref, other_class, 0.9f).matched, 1u);
  std::vector<C> one = {{0, 0, 100, 100, 0.9f, 1}};
  std::vector<C> twice = {ref[0], ref[0]};
  EXPECT_EQ(match_detections(twice, one, 0.9f).matched, 1u) << "a test box is used once";
  EXPECT_EQ(match_detections({}, one, 0.9f).recall(), 1.0);
}

TEST(PlanValidate, DetectionsOfARawHead) {
  // [1, 4 + 2, 3]: anchor 1 is class 1 at 0.9; anchors 0 and 2 under conf.
  Tensor out(DType::kFloat32, {1, 6, 3});
  float* p = out.data<float>();
  const float rows[6][3] = {{10, 50, 90}, {10, 50, 90}, {4, 8, 4},
                            {4, 8, 4},    {0.1f, 0, 0}, {0, 0.9f, 0.2f}};
  for (int r = 0; r < 6; ++r) {
    for (int a = 0; a < 3; ++a) p[r * 3 + a] = rows[r][a];
  }
  auto d = detections_of(out, 0, 0.25f);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].class_id, 1);
  EXPECT_FLOAT_EQ(d[0].x1, 46);
}

// A raw head [1, 4 + 2, anchors]: per anchor {cx, cy, w, h, score of class 0, of class 1}.
Tensor head(const std::vector<std::array<float, 6>>& anchors) {
  const int64_t a = static_cast<int64_t>(anchors.size());
  Tensor t(DType::kFloat32, {1, 6, a});
  for (int64_t i = 0; i < a; ++i) {
    for (int r = 0; r < 6; ++r) t.data<float>()[r * a + i] = anchors[static_cast<size_t>(i)][r];
  }
  return t;
}

// Anchor 0 (class 0, 0.800) overlaps anchor 1 (0.799) at IoU 0.54: NMS (IoU > 0.45) keeps anchor 0
// alone; anchor 1 is no match for it (IoU < 0.9). Anchor 2, class 1, far away, is a plain match.
using Anchors = std::vector<std::array<float, 6>>;
const Anchors kReference = {{50, 50, 20, 20, 0.800f, 0.01f},
                            {56, 50, 20, 20, 0.799f, 0.01f},
                            {200, 200, 20, 20, 0.01f, 0.9f}};

TEST(PlanValidate, ANearTieFlipCounts) {
  Anchors test = kReference;
  test[0][4] = 0.799f;  // the pair's order flips by 1.3e-3, within the 1e-2 tolerance
  test[1][4] = 0.800f;
  DetectionMatch m = compare_detections(head(kReference), head(test), 0, {});
  EXPECT_EQ(m.reference, 2u);
  EXPECT_EQ(m.matched, 1u) << "anchor 1 took anchor 0's place";
  EXPECT_EQ(m.tie_flips, 1u);
  EXPECT_EQ(m.tie_aware_recall(), 1.0);
  EXPECT_NE(detections_text(m).find("1/2 (50.00%) strict; 2/2 (100.00%) counting 1 near-tie"),
            std::string::npos)
      << detections_text(m);
  // The same flip needs a 1.3e-3 move: beyond a 1e-4 tolerance (fp32) it is a miss.
  EXPECT_EQ(compare_detections(head(kReference), head(test), 0, {.tie_tolerance = 1e-4}).tie_flips,
            0u);
}

TEST(PlanValidate, MissesWithoutANearTieStayMisses) {
  auto flips = [](const Anchors& reference, const Anchors& test) {
    DetectionMatch m = compare_detections(head(reference), head(test), 0, {});
    EXPECT_EQ(m.reference, 2u);
    EXPECT_EQ(m.matched, 1u);
    return m.tie_flips;
  };
  Anchors moved = kReference;
  moved[0][0] = 53;  // IoU 0.74 with the reference box, scores as they were
  EXPECT_EQ(flips(kReference, moved), 0u) << "a moved box";
  Anchors other_class = kReference;
  other_class[0][4] = 0.01f, other_class[0][5] = 0.8f;
  EXPECT_EQ(flips(kReference, other_class), 0u) << "a wrong class (its neighbour near-tied)";
  Anchors gone = kReference;
  gone[0][4] = 0.1f, gone[1][4] = 0.1f;
  EXPECT_EQ(flips(kReference, gone), 0u) << "a box lost, nothing in its place";
  // Anchor 1 at 0.6: the neighbour that takes anchor 0's place is no near-tie.
  Anchors apart = kReference;
  apart[1][4] = 0.6f;
  Anchors lost = apart;
  lost[0][4] = 0.1f;
  EXPECT_EQ(flips(apart, lost), 0u) << "a box lost, a neighbour far below it kept";
  Anchors swapped = apart;
  swapped[0][4] = 0.6f, swapped[1][4] = 0.8f;
  EXPECT_EQ(flips(apart, swapped), 0u) << "an order flip that needs a 25% move";
}

TEST(PlanValidate, AClassNearTieIsReportedNotCounted) {
  Anchors reference = kReference, test = kReference;
  reference[0][5] = 0.799f;  // anchor 0's two class scores within the tolerance
  test[0][4] = 0.799f, test[0][5] = 0.800f;
  DetectionMatch m = compare_detections(head(reference), head(test), 0, {});
  EXPECT_EQ(m.matched, 1u);
  EXPECT_EQ(m.tie_flips, 0u);
  EXPECT_EQ(m.class_ties, 1u);
  EXPECT_NE(detections_text(m).find("1 more lost to class near-ties"), std::string::npos);
}

TEST(PlanValidate, ImagesAreNoiseAndScenesInRange) {
  Tensor t(DType::kFloat32, {2, 3, 32, 32});
  fill_validation_images(t, 5);
  Tensor again(DType::kFloat32, {2, 3, 32, 32});
  fill_validation_images(again, 5);
  EXPECT_EQ(std::memcmp(t.raw(), again.raw(), t.nbytes()), 0) << "deterministic per seed";
  for (int64_t i = 0; i < t.numel(); ++i) {
    ASSERT_GE(t.data<float>()[i], 0.f);
    ASSERT_LE(t.data<float>()[i], 1.f);
  }
}

std::string head_model(float scale) {
  // [N,3,16,16] -> Conv 1x1 to 6 channels -> [N, 6, 256]: boxes from the image's values.
  std::mt19937 rng(11);
  Tensor w = test::random_tensor({6, 3, 1, 1}, rng, 0.5f, 1.0f);
  for (int64_t i = 0; i < w.numel(); ++i) w.data<float>()[i] *= scale;
  Tensor b(DType::kFloat32, {6});
  const float bias[6] = {8, 8, 6, 6, -0.5f, -1.0f};
  std::memcpy(b.raw(), bias, sizeof bias);
  test::ModelBuilder mb(17);
  mb.input("images", DType::kFloat32, {std::string("N"), int64_t{3}, int64_t{16}, int64_t{16}});
  mb.initializer("w", w).initializer("b", b);
  mb.initializer("shape", test::int64_tensor({3}, {0, 6, 256}));
  mb.node("Conv", {"images", "w", "b"}, {"c"});
  mb.node("Reshape", {"c", "shape"}, {"output0"});
  mb.output("output0");
  return mb.build();
}

Engine load(const std::string& bytes) {
  auto e = Engine::load_from_memory(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()),
      {.threads = 1, .backend = "reference"});
  EXPECT_TRUE(e.ok()) << e.status().message();
  return std::move(e).value();
}

TEST(PlanValidate, AnEngineAgainstItselfPassesAndAnotherFails) {
  Engine ref = load(head_model(1.0f));
  Engine same = load(head_model(1.0f));
  auto ok = validate_engine(same, {1, 3}, ref, {1, 3, 16, 16}, {.images = 4});
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_TRUE(ok->passed) << ok->failure;
  EXPECT_EQ(ok->max_rel_l2, 0.0);
  EXPECT_GT(ok->detections.reference, 0u) << "the check must have detections to compare";
  EXPECT_EQ(ok->detections.matched, ok->detections.reference);
  EXPECT_EQ(ok->exact_matched, ok->detections.reference);
  EXPECT_EQ(ok->lines.size(), 2u);

  Engine off = load(head_model(1.1f));
  auto bad = validate_engine(off, {2}, ref, {1, 3, 16, 16}, {.images = 4});
  ASSERT_TRUE(bad.ok()) << bad.status().message();
  EXPECT_FALSE(bad->passed);
  EXPECT_GT(bad->max_rel_l2, 1e-2);
  EXPECT_NE(bad->failure.find("relative L2"), std::string::npos) << bad->failure;

  // Within the L2 limit but detections lost: the recall criterion catches it.
  auto strict = validate_engine(off, {2}, ref, {1, 3, 16, 16},
                                {.images = 4, .max_rel_l2 = 1.0, .min_iou = 0.999f});
  ASSERT_TRUE(strict.ok());
  EXPECT_FALSE(strict->passed);
  EXPECT_NE(strict->failure.find("detections"), std::string::npos) << strict->failure;
}

TEST(PlanValidate, RealImagesAreValidatedAfterTheGeneratedOnes) {
  Engine ref = load(head_model(1.0f));
  Engine off = load(head_model(1.1f));
  // Three "real" pictures: gradients unlike the generated set.
  Tensor real(DType::kFloat32, {3, 3, 16, 16});
  for (int64_t i = 0; i < real.numel(); ++i) {
    real.data<float>()[i] = static_cast<float>((i * 7) % 97) / 96.f;
  }
  std::vector<size_t> per_image;
  for (int64_t k = 0; k < 3; ++k) {
    Tensor in = Tensor::view(DType::kFloat32, {1, 3, 16, 16}, real.data<float>() + k * 768);
    std::vector<Tensor> out;
    ASSERT_TRUE(ref.run({&in, 1}, out).ok());
    per_image.push_back(detections_of(out[0], 0, 0.25f).size());
  }
  const size_t want = per_image[0] + per_image[1] + per_image[2];
  ASSERT_GT(want, 0u);
  // Every image at every batch size: batch 1 runs 3 times, batch 2 twice (images 0 1, then 2 0).
  auto only_real =
      validate_engine(ref, {1, 2}, ref, {1, 3, 16, 16}, {.images = 0, .real_images = &real});
  ASSERT_TRUE(only_real.ok()) << only_real.status().message();
  EXPECT_TRUE(only_real->passed) << only_real->failure;
  EXPECT_EQ(only_real->detections.reference, want + want + per_image[0]);

  auto mixed = validate_engine(off, {5}, ref, {1, 3, 16, 16}, {.images = 2, .real_images = &real});
  ASSERT_TRUE(mixed.ok());
  EXPECT_FALSE(mixed->passed);

  Tensor wrong(DType::kFloat32, {1, 3, 8, 8});
  auto bad = validate_engine(ref, {1}, ref, {1, 3, 16, 16}, {.images = 2, .real_images = &wrong});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("[1,3,8,8]"), std::string::npos) << bad.status().message();
  EXPECT_FALSE(validate_engine(ref, {1}, ref, {1, 3, 16, 16}, {.images = 0}).ok());
}

// [N,3,16,16] -> Conv 1x1 -> [N, 6, 256] + a grid: anchor a's box is centred at (4 (a % 16) + 2,
// 4 (a / 16) + 2), 12..15 wide and high, so that each box overlaps its row and column neighbours
// at IoU ~0.5 and NMS decides between them; its two class scores come from the pixel's values
// (smooth regions of the scene images give near-equal scores). The scores are then multiplied by
// 1 + score_noise x N(0, 1), one factor per score: an error of that size.
std::string grid_head_model(float score_noise) {
  std::mt19937 rng(11);
  Tensor w = test::random_tensor({6, 3, 1, 1}, rng, 0.5f, 1.0f);
  Tensor b(DType::kFloat32, {6});
  const float bias[6] = {0, 0, 12, 12, -0.5f, -0.7f};
  std::memcpy(b.raw(), bias, sizeof bias);
  Tensor grid(DType::kFloat32, {1, 6, 256}), noise(DType::kFloat32, {1, 6, 256});
  std::normal_distribution<float> normal(0.f, 1.f);
  for (int a = 0; a < 256; ++a) {
    for (int r = 0; r < 6; ++r) {
      grid.data<float>()[r * 256 + a] = r == 0   ? 4.f * (a % 16) + 2
                                        : r == 1 ? 4.f * (a / 16) + 2
                                                 : 0;
      noise.data<float>()[r * 256 + a] = r < 4 ? 1.f : 1.f + score_noise * normal(rng);
    }
  }
  test::ModelBuilder mb(17);
  mb.input("images", DType::kFloat32, {std::string("N"), int64_t{3}, int64_t{16}, int64_t{16}});
  mb.initializer("w", w).initializer("b", b).initializer("grid", grid).initializer("noise", noise);
  mb.initializer("shape", test::int64_tensor({3}, {0, 6, 256}));
  mb.node("Conv", {"images", "w", "b"}, {"c"});
  mb.node("Reshape", {"c", "shape"}, {"r"});
  mb.node("Add", {"r", "grid"}, {"g"});
  mb.node("Mul", {"g", "noise"}, {"output0"});
  mb.output("output0");
  return mb.build();
}

TEST(PlanValidate, NearTiesPassAndScoresOffBy5PercentFail) {
  Engine ref = load(grid_head_model(0));
  const ValidationOptions options{.images = 8};
  Engine same = load(grid_head_model(0));
  auto exact = validate_engine(same, {4}, ref, {1, 3, 16, 16}, options);
  ASSERT_TRUE(exact.ok()) << exact.status().message();
  EXPECT_TRUE(exact->passed) << exact->failure;
  EXPECT_GT(exact->detections.reference, 100u);
  EXPECT_EQ(exact->detections.matched, exact->detections.reference);

  // Scores off by 0.5% (half the tolerance): flips of near-equal neighbours, which the strict
  // count loses (96.6%) and the near-tie rule explains (99.5%).
  Engine close = load(grid_head_model(5e-3f));
  auto near = validate_engine(close, {8}, ref, {1, 3, 16, 16}, options);
  ASSERT_TRUE(near.ok()) << near.status().message();
  EXPECT_LT(near->detections.recall(), options.min_recall) << near->lines[0];
  EXPECT_GT(near->detections.tie_flips, 0u);
  EXPECT_TRUE(near->passed) << near->failure;

  // Off by 5%: 62% strict, 72% with near-tie flips.
  Engine off = load(grid_head_model(0.05f));
  auto bad = validate_engine(off, {8}, ref, {1, 3, 16, 16}, options);
  ASSERT_TRUE(bad.ok()) << bad.status().message();
  EXPECT_LT(bad->max_rel_l2, options.max_rel_l2) << "the raw outputs alone would pass";
  EXPECT_FALSE(bad->passed) << bad->lines[0];
  EXPECT_NE(bad->failure.find("detections reproduced"), std::string::npos) << bad->failure;
}

}  // namespace
}  // namespace fungen
