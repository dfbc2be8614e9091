// The row matcher of fungen_gpu_bench --check-all for end-to-end outputs (bench/gpu/e2e_match.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "../../bench/gpu/e2e_match.h"
#include "op_test_util.h"

namespace fungen {
namespace {

// `rows` random detections [x1 y1 x2 y2 score class], scores descending, some near-tied.
std::vector<float> random_rows(std::mt19937& rng, int64_t rows) {
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(rows * 6));
  float score = 0.9f;
  for (int64_t r = 0; r < rows; ++r) {
    float* p = &v[static_cast<size_t>(r * 6)];
    p[0] = 600 * u(rng);
    p[1] = 600 * u(rng);
    p[2] = p[0] + 5 + 100 * u(rng);
    p[3] = p[1] + 5 + 100 * u(rng);
    score -= r % 3 == 0 ? 1e-6f : 2e-3f;  // every third pair near-tied
    p[4] = score;
    p[5] = static_cast<float>(rng() % 80);
  }
  return v;
}

TEST(E2eMatch, ReorderedRowsMatchInFull) {
  std::mt19937 rng(test::test_seed());
  const int64_t rows = 300;
  std::vector<float> ref = random_rows(rng, rows), out = ref;
  // Swap the near-tied neighbours, as a different rounding would; nudge every value a little.
  for (int64_t r = 0; r + 1 < rows; r += 3) {
    std::swap_ranges(out.begin() + r * 6, out.begin() + r * 6 + 6, out.begin() + r * 6 + 6);
  }
  for (size_t i = 0; i < out.size(); ++i) out[i] *= i % 6 == 5 ? 1.0f : 1.0f + 1e-6f;
  const auto m = bench::match_e2e(out.data(), ref.data(), 1, rows, 1e-3, 1e-4, 0.9);
  EXPECT_EQ(m.matched, rows);
  EXPECT_EQ(m.share(), 1.0);
  EXPECT_LT(m.rel_l2, 1e-5);
  // In pick order the same rows look badly wrong: why --check-all matches them as sets.
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    num += (out[i] - ref[i]) * (out[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  EXPECT_GT(std::sqrt(num / den), 1e-2);
}

TEST(E2eMatch, WrongClassOrBoxOrScoreIsNotMatched) {
  std::mt19937 rng(test::test_seed());
  const int64_t rows = 50;
  const std::vector<float> ref = random_rows(rng, rows);
  std::vector<float> out = ref;
  out[0 * 6 + 5] = out[0 * 6 + 5] == 1 ? 2 : 1;  // class
  out[1 * 6 + 0] += 50;                          // box moved: IoU well under 0.9
  out[2 * 6 + 4] += 0.1f;                        // score
  const auto m = bench::match_e2e(out.data(), ref.data(), 1, rows, 1e-3, 1e-4, 0.9);
  EXPECT_EQ(m.matched, rows - 3);
  EXPECT_EQ(m.excused, 0);
  EXPECT_LT(m.share(), 0.99);
}

TEST(E2eMatch, BoundaryRowSwappedForANearTieIsExcused) {
  std::mt19937 rng(test::test_seed());
  const int64_t rows = 40;
  const std::vector<float> ref = random_rows(rng, rows);
  std::vector<float> out = ref;
  float* last = &out[static_cast<size_t>((rows - 1) * 6)];
  last[0] += 300;  // another box, same score: it made the top N instead
  last[2] += 300;
  const auto m = bench::match_e2e(out.data(), ref.data(), 1, rows, 1e-3, 1e-4, 0.9);
  EXPECT_EQ(m.matched, rows - 1);
  EXPECT_EQ(m.excused, 1);
  EXPECT_EQ(m.share(), 1.0);
}

TEST(E2eMatch, AllTiedRowsThatDifferAreNotExcused) {
  std::mt19937 rng(test::test_seed());
  const int64_t rows = 60;
  std::vector<float> ref = random_rows(rng, rows);
  for (int64_t r = 0; r < rows; ++r) ref[static_cast<size_t>(r * 6 + 4)] = 0.5f;
  std::vector<float> out = ref;
  for (int64_t r = 0; r < rows; ++r) {  // every box elsewhere
    out[static_cast<size_t>(r * 6 + 0)] += 300;
    out[static_cast<size_t>(r * 6 + 2)] += 300;
  }
  const auto m = bench::match_e2e(out.data(), ref.data(), 1, rows, 1e-3, 1e-4, 0.9);
  EXPECT_EQ(m.matched, 0);
  EXPECT_EQ(m.excused, rows / 10);
  EXPECT_LT(m.share(), 0.99);
}

TEST(E2eMatch, NonFiniteOutputIsInfinite) {
  std::mt19937 rng(test::test_seed());
  std::vector<float> ref = random_rows(rng, 10), out = ref;
  out[13] = INFINITY;
  EXPECT_TRUE(std::isinf(bench::match_e2e(out.data(), ref.data(), 1, 10, 1e-3, 1e-4, 0.9).rel_l2));
}

}  // namespace
}  // namespace fungen
