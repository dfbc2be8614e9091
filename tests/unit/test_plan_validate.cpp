// The checks behind `fungen convert --validate`: relative L2, detection matching, and
// validate_engine passing an engine against itself and failing one whose weights differ.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace fungen
