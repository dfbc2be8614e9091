// bench/video/compare_rules.h (fungen_compare_detections): pairs within the limits pass, a box on
// one side only passes as a flip only at a cut-off of the detector, anything else fails; and the
// CLI on two small detections files.
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "compare_rules.h"
#include "video_test_util.h"

namespace fungen {
namespace {

using compare::Box;
using compare::compare_frame;
using compare::FrameRec;
using compare::Limits;

// A full frame like the random-weights model's: max_det boxes of a few classes, scores falling
// from 0.9, spread out so that no two of a class overlap (what NMS leaves).
FrameRec full_frame(std::mt19937& rng, int max_det) {
  FrameRec f;
  std::uniform_real_distribution<double> jitter(0.0, 20.0);
  for (int i = 0; i < max_det; ++i) {
    Box b;
    b.cls = i % 3;
    b.score = 0.9 - 0.002 * i;
    b.x1 = 50.0 * (i % 20) + jitter(rng), b.y1 = 50.0 * (i / 20) + jitter(rng);
    b.x2 = b.x1 + 30, b.y2 = b.y1 + 25;
    f.boxes.push_back(b);
  }
  return f;
}

Limits limits(int max_det) {
  Limits lim;
  lim.px = 1.0, lim.score = 0.01, lim.max_det = max_det, lim.conf = 0.25, lim.iou = 0.45;
  return lim;
}

TEST(CompareRules, SmallDifferencesPass) {
  std::mt19937 rng(std::random_device{}());
  FrameRec a = full_frame(rng, 40), b = a;
  std::uniform_real_distribution<double> d(-0.4, 0.4), s(-0.004, 0.004);
  for (Box& x : b.boxes) x.x1 += d(rng), x.y2 += d(rng), x.score += s(rng);
  std::shuffle(b.boxes.begin(), b.boxes.end(), rng);
  auto r = compare_frame(a, b, limits(40));
  EXPECT_TRUE(r.ok) << r.why;
  EXPECT_EQ(r.paired, 40);
  EXPECT_EQ(r.flips, 0);
  EXPECT_FALSE(r.exact);
  EXPECT_TRUE(compare_frame(a, a, limits(40)).exact);
}

TEST(CompareRules, DriftAndScoreBeyondLimitsFail) {
  std::mt19937 rng(std::random_device{}());
  FrameRec a = full_frame(rng, 40);
  FrameRec b = a;
  b.boxes[7].x2 += 1.5;  // a box edge 1.5 px off: unpaired on both sides, at no cut-off
  auto r = compare_frame(a, b, limits(40));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.unexplained, 2);
  b.boxes[7].x2 += 1.4;  // 2.9 px: still one box moved, not an NMS near tie
  r = compare_frame(a, b, limits(40));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.unexplained, 2);
  b = a;
  b.boxes[3].score += 0.02;
  r = compare_frame(a, b, limits(40));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.score_fails, 1);
  b = a;
  b.boxes[5].cls = 9;  // another class
  EXPECT_FALSE(compare_frame(a, b, limits(40)).ok);
  b = a;
  b.frame = a.frame + 1;
  EXPECT_FALSE(compare_frame(a, b, limits(40)).ok);
}

TEST(CompareRules, TopMaxDetSwapIsAFlip) {
  std::mt19937 rng(std::random_device{}());
  const int max_det = 40;
  FrameRec a = full_frame(rng, max_det), b = a;
  // b's last kept box is another one of nearly the same score, far away: a swap at the cut.
  Box& last = b.boxes.back();
  last.score -= 0.003;
  last.x1 += 500, last.x2 += 500;
  auto r = compare_frame(a, b, limits(max_det));
  EXPECT_TRUE(r.ok) << r.why;
  EXPECT_EQ(r.flips, 2);
  EXPECT_EQ(r.paired, max_det - 1);
  // The same swap when the frames do not hold max_det boxes: nothing explains it.
  r = compare_frame(a, b, limits(max_det + 1));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.unexplained, 2);
  // A missing box well above the cut-off is no flip.
  b = a;
  b.boxes[2].x1 += 500, b.boxes[2].x2 += 500;
  r = compare_frame(a, b, limits(max_det));
  EXPECT_FALSE(r.ok);
  EXPECT_GE(r.unexplained, 1);
}

TEST(CompareRules, ConfThresholdIsAFlip) {
  std::mt19937 rng(std::random_device{}());
  FrameRec a = full_frame(rng, 10), b = a;
  Box extra{1, 0.255, 900, 900, 950, 950};
  a.boxes.push_back(extra);  // just above conf 0.25 in a, below it in b
  auto r = compare_frame(a, b, limits(300));
  EXPECT_TRUE(r.ok) << r.why;
  EXPECT_EQ(r.flips, 1);
  a.boxes.back().score = 0.3;  // well above conf: a real difference
  EXPECT_FALSE(compare_frame(a, b, limits(300)).ok);
}

TEST(CompareRules, NmsNearTieIsAFlip) {
  std::mt19937 rng(std::random_device{}());
  FrameRec a = full_frame(rng, 10), b = a;
  // a kept X, b kept Z: same class, IoU 0.6 > iou 0.45, scores 0.004 apart.
  Box x{2, 0.5, 900, 900, 1000, 1000};
  Box z{2, 0.496, 900, 925, 1000, 1025};
  ASSERT_GT(compare::iou(x, z), 0.5);
  a.boxes.push_back(x), b.boxes.push_back(z);
  auto r = compare_frame(a, b, limits(300));
  EXPECT_TRUE(r.ok) << r.why;
  EXPECT_EQ(r.flips, 2);
  // Scores far apart: no near tie.
  b.boxes.back().score = 0.45;
  EXPECT_FALSE(compare_frame(a, b, limits(300)).ok);
  // Another class never suppresses it (class-aware NMS).
  b.boxes.back().score = 0.496, b.boxes.back().cls = 1;
  EXPECT_FALSE(compare_frame(a, b, limits(300)).ok);
  // Too little overlap to suppress.
  b.boxes.back().cls = 2, b.boxes.back().y1 = 960, b.boxes.back().y2 = 1060;
  EXPECT_FALSE(compare_frame(a, b, limits(300)).ok);
}

TEST(CompareRules, TooManyFlipsInAFrameFail) {
  std::mt19937 rng(std::random_device{}());
  const int max_det = 40;
  FrameRec a = full_frame(rng, max_det), b = a;
  // Three swaps at the cut: six flips, above the default 4 a frame.
  for (int k = 1; k <= 3; ++k) {
    Box& x = b.boxes[static_cast<size_t>(max_det - k)];
    x.x1 += 500, x.x2 += 500;
  }
  Limits lim = limits(max_det);
  lim.score = 0.01;
  auto r = compare_frame(a, b, lim);
  EXPECT_EQ(r.flips, 6);
  EXPECT_FALSE(r.ok);
  lim.max_flips_per_frame = 6;
  EXPECT_TRUE(compare_frame(a, b, lim).ok);
  EXPECT_EQ(compare::flips_allowed(60000, lim), 600);
  EXPECT_EQ(compare::flips_allowed(10, lim), 6);
}

// The CLI on two files: identical, one swap at the cut (PASS with a flip), one drifted box (FAIL).
void write_file(const std::string& path, const std::vector<FrameRec>& frames, int max_det) {
  std::ofstream out(path);
  nlohmann::json settings = {
      {"conf", 0.25}, {"iou", 0.45}, {"max_det", max_det}, {"agnostic", false}};
  out << nlohmann::json{{"type", "header"}, {"settings", {{"detect", settings}}}}.dump() << "\n";
  for (const FrameRec& f : frames) {
    nlohmann::json dets = nlohmann::json::array();
    for (const Box& b : f.boxes)
      dets.push_back(
          {{"class_id", b.cls}, {"confidence", b.score}, {"box", {b.x1, b.y1, b.x2, b.y2}}});
    out << nlohmann::json{{"type", "frame"},
                          {"frame", f.frame},
                          {"t_ms", f.t_ms},
                          {"detections", dets}}
               .dump()
        << "\n";
  }
  out << nlohmann::json{{"type", "footer"}, {"frames", frames.size()}, {"complete", true}}.dump()
      << "\n";
}

TEST(CompareRules, Cli) {
  std::mt19937 rng(std::random_device{}());
  const int max_det = 30;
  std::vector<FrameRec> a;
  for (int i = 0; i < 5; ++i) {
    a.push_back(full_frame(rng, max_det));
    a.back().frame = i, a.back().t_ms = i * 33.4;
  }
  std::vector<FrameRec> swapped = a, drifted = a;
  swapped[3].boxes.back().x1 += 400, swapped[3].boxes.back().x2 += 400;
  drifted[1].boxes[4].y1 += 2;
  std::string dir = test::temp_dir();
  write_file(dir + "/cmp_a.jsonl", a, max_det);
  write_file(dir + "/cmp_swapped.jsonl", swapped, max_det);
  write_file(dir + "/cmp_drifted.jsonl", drifted, max_det);
  auto run = [&](const char* other) {
    return test::capture(fmt::format("{} {}/cmp_a.jsonl {}/{} --px 1 --score 0.01 2>&1; echo rc=$?",
                                     FUNGEN_COMPARE_EXE, dir, dir, other));
  };
  std::string same = run("cmp_a.jsonl");
  EXPECT_NE(same.find("-> PASS"), std::string::npos) << same;
  EXPECT_NE(same.find("not bit-identical: none"), std::string::npos) << same;
  EXPECT_NE(same.find("rc=0"), std::string::npos) << same;
  std::string flip = run("cmp_swapped.jsonl");
  EXPECT_NE(flip.find("2 flips at cut-offs in 1 frames"), std::string::npos) << flip;
  EXPECT_NE(flip.find("not bit-identical: 3\n"), std::string::npos) << flip;
  EXPECT_NE(flip.find("rc=0"), std::string::npos) << flip;
  std::string drift = run("cmp_drifted.jsonl");
  EXPECT_NE(drift.find("-> FAIL"), std::string::npos) << drift;
  EXPECT_NE(drift.find("rc=1"), std::string::npos) << drift;
}

}  // namespace
}  // namespace fungen
