// Detector pieces without a model: letterbox geometry, OpenCV-exact resize, NMS against a
// brute-force definition, end-to-end decoding, mapping back, class names.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>

#include "detect/letterbox.h"
#include "detect/postprocess.h"
#include "fungen/detector.h"
#include "op_test_util.h"

namespace fungen {
namespace {

using detect::Candidate;

TEST(Letterbox, LandscapeFullHdIntoSquare) {
  LetterboxParams p = letterbox_params(1920, 1080, 640, 640);
  EXPECT_DOUBLE_EQ(p.ratio, 1.0 / 3.0);
  EXPECT_EQ(p.resized_width, 640);
  EXPECT_EQ(p.resized_height, 360);
  EXPECT_EQ(p.left, 0);
  EXPECT_EQ(p.right, 0);
  EXPECT_EQ(p.top, 140);
  EXPECT_EQ(p.bottom, 140);
}

TEST(Letterbox, OddPaddingPutsTheExtraRowAfter) {
  LetterboxParams p = letterbox_params(717, 391, 640, 640);
  EXPECT_EQ(p.resized_width, 640);
  EXPECT_EQ(p.resized_height, 349);  // round(391 * 640 / 717) = round(349.01)
  EXPECT_EQ(p.top, 145);             // round(145.5 - 0.1)
  EXPECT_EQ(p.bottom, 146);          // round(145.5 + 0.1)
  EXPECT_DOUBLE_EQ(p.gain_y, 349.0 / 391.0);
  LetterboxParams q = letterbox_params(391, 717, 640, 640);  // portrait
  EXPECT_EQ(q.resized_width, 349);
  EXPECT_EQ(q.left, 145);
  EXPECT_EQ(q.right, 146);
  EXPECT_EQ(q.top + q.bottom, 0);
}

TEST(Letterbox, NonSquareInputUsesBothSides) {
  LetterboxParams p = letterbox_params(1920, 1080, 640, 384);  // input W=640, H=384
  EXPECT_DOUBLE_EQ(p.ratio, 1.0 / 3.0);
  EXPECT_EQ(p.resized_height, 360);
  EXPECT_EQ(p.top, 12);
  EXPECT_EQ(p.bottom, 12);
  LetterboxParams q = letterbox_params(1000, 1000, 640, 384);
  EXPECT_DOUBLE_EQ(q.ratio, 0.384);
  EXPECT_EQ(q.resized_width, 384);
  EXPECT_EQ(q.left, 128);
  EXPECT_EQ(q.right, 128);
}

TEST(Letterbox, RoundsHalfToEvenLikePython) {
  LetterboxParams p = letterbox_params(4, 3, 6, 6);  // r = 1.5; 3 * 1.5 = 4.5 -> 4
  EXPECT_EQ(p.resized_width, 6);
  EXPECT_EQ(p.resized_height, 4);
  EXPECT_EQ(p.top, 1);
  EXPECT_EQ(p.bottom, 1);
  LetterboxParams q = letterbox_params(4, 7, 6, 6);  // r = 6/7; 4 * 6/7 = 3.43 -> 3; dw = 1.5
  EXPECT_EQ(q.resized_width, 3);
  EXPECT_EQ(q.left, 1);   // round(1.4)
  EXPECT_EQ(q.right, 2);  // round(1.6)
}

TEST(Letterbox, ThinImagesKeepOnePixel) {
  LetterboxParams p = letterbox_params(3000, 1, 640, 640);
  EXPECT_EQ(p.resized_width, 640);
  EXPECT_EQ(p.resized_height, 1);
}

Image random_image(int w, int h, std::mt19937& rng) {
  Image img(w, h);
  for (size_t i = 0; i < static_cast<size_t>(w) * h * 3; ++i)
    img.data()[i] = static_cast<uint8_t>(rng() & 255);
  return img;
}

TEST(Resize, ExactHalvingIsTheRoundedBoxAverage) {
  std::mt19937 rng(test::test_seed());
  Image img = random_image(64, 48, rng);
  std::vector<uint8_t> out(32 * 24 * 3);
  detect::resize_bilinear_bgr(img.frame(), 32, 24, out.data(), 32 * 3);
  for (int y = 0; y < 24; ++y)
    for (int x = 0; x < 32; ++x)
      for (int c = 0; c < 3; ++c) {
        int s = img.pixel(2 * x, 2 * y)[c] + img.pixel(2 * x + 1, 2 * y)[c] +
                img.pixel(2 * x, 2 * y + 1)[c] + img.pixel(2 * x + 1, 2 * y + 1)[c];
        ASSERT_EQ(out[(y * 32 + x) * 3 + c], (s + 2) >> 2) << x << "," << y;
      }
}

// Within one grey level of exact half-pixel bilinear in double precision.
TEST(Resize, MatchesFloatBilinearWithinOneLevel) {
  uint32_t seed = test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  for (auto [sw, sh, dw, dh] :
       {std::array{37, 23, 61, 17}, std::array{100, 60, 33, 90}, std::array{5, 5, 13, 11}}) {
    Image img = random_image(sw, sh, rng);
    std::vector<uint8_t> out(static_cast<size_t>(dw) * dh * 3);
    detect::resize_bilinear_bgr(img.frame(), dw, dh, out.data(), dw * 3);
    for (int y = 0; y < dh; ++y) {
      double fy = std::max((y + 0.5) * sh / dh - 0.5, 0.0);
      int y0 = std::min(static_cast<int>(fy), sh - 1), y1 = std::min(y0 + 1, sh - 1);
      double wy = std::min(fy - y0, 1.0);
      for (int x = 0; x < dw; ++x) {
        double fx = std::max((x + 0.5) * sw / dw - 0.5, 0.0);
        int x0 = std::min(static_cast<int>(fx), sw - 1), x1 = std::min(x0 + 1, sw - 1);
        double wx = x0 == sw - 1 ? 0.0 : fx - x0;
        for (int c = 0; c < 3; ++c) {
          double top = img.pixel(x0, y0)[c] * (1 - wx) + img.pixel(x1, y0)[c] * wx;
          double bot = img.pixel(x0, y1)[c] * (1 - wx) + img.pixel(x1, y1)[c] * wx;
          double want = top * (1 - wy) + bot * wy;
          ASSERT_LE(std::abs(out[(static_cast<size_t>(y) * dw + x) * 3 + c] - want), 1.0)
              << sw << "x" << sh << "->" << dw << "x" << dh << " at " << x << "," << y;
        }
      }
    }
  }
}

TEST(Letterbox, ChwIsRgbOver255WithGreyPadding) {
  Image img(4, 2);
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 4; ++x) {
      uint8_t* p = img.pixel(x, y);
      p[0] = 10, p[1] = 20, p[2] = 30;  // B, G, R
    }
  LetterboxParams p = letterbox_params(4, 2, 4, 4);  // no resize, 1 row of padding each side
  ASSERT_EQ(p.top, 1);
  std::vector<float> chw(3 * 16);
  std::vector<uint8_t> scratch;
  detect::letterbox_to_chw(img.frame(), p, 4, 4, chw.data(), scratch);
  EXPECT_FLOAT_EQ(chw[0], 114.f / 255.f);        // R plane, padding row
  EXPECT_FLOAT_EQ(chw[4], 30.f / 255.f);         // R plane, first picture row
  EXPECT_FLOAT_EQ(chw[16 + 4], 20.f / 255.f);    // G
  EXPECT_FLOAT_EQ(chw[32 + 4], 10.f / 255.f);    // B
  EXPECT_FLOAT_EQ(chw[32 + 15], 114.f / 255.f);  // B plane, padding row
}

// The definition, without tricks: walk by score; a box survives unless a survivor of the same
// class (any class when agnostic) overlaps it with IoU > threshold. Computed in double.
std::vector<Candidate> brute_force_nms(std::vector<Candidate> c, double thr, bool agnostic,
                                       int max_det) {
  std::stable_sort(c.begin(), c.end(),
                   [](const Candidate& a, const Candidate& b) { return a.score > b.score; });
  std::vector<Candidate> kept;
  for (const Candidate& b : c) {
    bool dropped = false;
    for (const Candidate& k : kept) {
      if (!agnostic && k.class_id != b.class_id) continue;
      double iw = std::max(0.0, std::min<double>(k.x2, b.x2) - std::max<double>(k.x1, b.x1));
      double ih = std::max(0.0, std::min<double>(k.y2, b.y2) - std::max<double>(k.y1, b.y1));
      double inter = iw * ih;
      double u = double(k.x2 - k.x1) * (k.y2 - k.y1) + double(b.x2 - b.x1) * (b.y2 - b.y1) - inter;
      if (inter / u > thr) dropped = true;
    }
    if (!dropped) kept.push_back(b);
  }
  if (static_cast<int>(kept.size()) > max_det) kept.resize(max_det);
  return kept;
}

TEST(Nms, MatchesBruteForceOnRandomClusters) {
  uint32_t seed = test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  for (int trial = 0; trial < 40; ++trial) {
    std::vector<Candidate> c;
    int clusters = 1 + trial % 6;
    for (int k = 0; k < clusters; ++k) {
      float cx = 50 + 500 * u(rng), cy = 50 + 500 * u(rng), s = 10 + 80 * u(rng);
      for (int j = 0; j < 15; ++j) {
        // Whole-pixel corners: the class offset (k * 7680) is then exact in float32, so the
        // only rounding left is the IoU division itself.
        float x = std::round(cx + 20 * (u(rng) - 0.5f)), y = std::round(cy + 20 * (u(rng) - 0.5f));
        float w = std::round(s * (0.7f + 0.6f * u(rng))),
              h = std::round(s * (0.7f + 0.6f * u(rng)));
        c.push_back({x, y, x + w, y + h, u(rng), static_cast<int>(rng() % 3)});
      }
    }
    for (bool agnostic : {false, true}) {
      for (float thr : {0.3137f, 0.4537f, 0.6911f}) {  // not simple fractions
        DetectOptions o;
        o.iou = thr;
        o.agnostic = agnostic;
        o.max_det = trial % 2 ? 5 : 300;
        auto got = detect::non_max_suppression(c, o);
        auto want = brute_force_nms(c, thr, agnostic, o.max_det);
        ASSERT_EQ(got.size(), want.size())
            << "trial " << trial << " agnostic " << agnostic << " iou " << thr;
        for (size_t i = 0; i < got.size(); ++i) {
          EXPECT_EQ(got[i].score, want[i].score);
          EXPECT_EQ(got[i].class_id, want[i].class_id);
          EXPECT_EQ(got[i].x1, want[i].x1);
        }
      }
    }
  }
}

TEST(Nms, DifferentClassesNeverSuppressEachOther) {
  std::vector<Candidate> c = {
      {0, 0, 10, 10, 0.9f, 0}, {0, 0, 10, 10, 0.8f, 1}, {0, 0, 10, 10, 0.7f, 0}};
  DetectOptions o;
  EXPECT_EQ(detect::non_max_suppression(c, o).size(), 2u);
  o.agnostic = true;
  EXPECT_EQ(detect::non_max_suppression(c, o).size(), 1u);
}

TEST(Nms, IouEqualToThresholdIsKept) {
  // IoU of these two is exactly 0.5 (inter 50, union 100).
  std::vector<Candidate> c = {{0, 0, 10, 7.5f, 0.9f, 0}, {0, 2.5f, 10, 10, 0.8f, 0}};
  DetectOptions o;
  o.iou = 0.5f;
  ASSERT_FLOAT_EQ(detect::iou(c[0], c[1]), 0.5f);
  EXPECT_EQ(detect::non_max_suppression(c, o).size(), 2u);
  o.iou = 0.49f;
  EXPECT_EQ(detect::non_max_suppression(c, o).size(), 1u);
}

TEST(Nms, MaxNmsKeepsTheBestCandidates) {
  std::vector<Candidate> c;
  for (int i = 0; i < 10; ++i) c.push_back({float(20 * i), 0, float(20 * i + 10), 10, 0.1f * i, 0});
  DetectOptions o;
  o.max_nms = 3;
  auto kept = detect::non_max_suppression(c, o);
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_FLOAT_EQ(kept[0].score, 0.9f);
  EXPECT_FLOAT_EQ(kept[2].score, 0.7f);
}

TEST(RawHead, CandidatesAboveConfWithClassFilter) {
  // 4 + 2 classes, 3 anchors.
  const int A = 3;
  std::vector<float> out = {
      10,   20,   30,     // cx
      10,   20,   30,     // cy
      4,    6,    8,      // w
      2,    2,    2,      // h
      0.9f, 0.1f, 0.25f,  // class 0
      0.2f, 0.8f, 0.2f,   // class 1
  };
  DetectOptions o;
  auto c = detect::raw_candidates(out.data(), 6, A, o);
  ASSERT_EQ(c.size(), 2u);  // anchor 2's best is 0.25, not > 0.25
  EXPECT_EQ(c[0].class_id, 0);
  EXPECT_FLOAT_EQ(c[0].x1, 8);
  EXPECT_FLOAT_EQ(c[0].y2, 11);
  EXPECT_EQ(c[1].class_id, 1);
  o.classes = {1};
  c = detect::raw_candidates(out.data(), 6, A, o);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].class_id, 1);
}

TEST(EndToEndHead, FiltersByConfAndClassKeepsModelOrder) {
  std::vector<float> out = {
      1, 2, 3,  4,  0.5f, 2,  //
      5, 6, 7,  8,  0.9f, 1,  //
      0, 0, 1,  1,  0.1f, 0,  //
      9, 9, 12, 12, 0.3f, 1,
  };
  DetectOptions o;
  auto c = detect::end_to_end_candidates(out.data(), 4, 6, o);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_FLOAT_EQ(c[0].score, 0.5f);
  EXPECT_EQ(c[0].class_id, 2);
  o.classes = {1};
  o.max_det = 1;
  c = detect::end_to_end_candidates(out.data(), 4, 6, o);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_FLOAT_EQ(c[0].score, 0.9f);
}

TEST(MapToFrame, UndoesPaddingAndScaleThenClips) {
  LetterboxParams p = letterbox_params(1920, 1080, 640, 640);
  std::vector<Candidate> b = {{100, 140, 200, 500, 0.5f, 0}, {-5, 130, 700, 510, 0.5f, 0}};
  detect::map_to_frame(b, p, 1920, 1080);
  EXPECT_NEAR(b[0].x1, 300, 1e-3);
  EXPECT_NEAR(b[0].y1, 0, 1e-3);
  EXPECT_NEAR(b[0].x2, 600, 1e-3);
  EXPECT_NEAR(b[0].y2, 1080, 1e-3);
  EXPECT_EQ(b[1].x1, 0.f);
  EXPECT_EQ(b[1].y1, 0.f);
  EXPECT_EQ(b[1].x2, 1920.f);
  EXPECT_EQ(b[1].y2, 1080.f);
}

TEST(ClassNames, ParsesUltralyticsDictLiteral) {
  auto n = parse_class_names(
      "{0: 'person', 1: 'bicycle', 2: \"it's\", 3: 'say \\'hi\\'', 5: 'a\\\\b', 7: 'caf\\xe9'}");
  ASSERT_TRUE(n.ok()) << n.status().message();
  EXPECT_EQ(n->at(0), "person");
  EXPECT_EQ(n->at(2), "it's");
  EXPECT_EQ(n->at(3), "say 'hi'");
  EXPECT_EQ(n->at(5), "a\\b");
  EXPECT_EQ(n->at(7), "caf\xc3\xa9");
  EXPECT_EQ(n->count(4), 0u);
}

TEST(ClassNames, ParsesListsJsonAndWhitespace) {
  auto l = parse_class_names(" [ 'a' , \"b\", ] ");
  ASSERT_TRUE(l.ok()) << l.status().message();
  EXPECT_EQ(l->size(), 2u);
  EXPECT_EQ(l->at(1), "b");
  auto j = parse_class_names("{\"0\": \"face\", \"10\": \"hips center\"}");
  ASSERT_TRUE(j.ok()) << j.status().message();
  EXPECT_EQ(j->at(10), "hips center");
  auto u = parse_class_names("{0: '\\u00e9t\\u00e9', 1: 'x\\ty'}");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->at(0), "\xc3\xa9t\xc3\xa9");
  EXPECT_EQ(u->at(1), "x\ty");
}

TEST(ClassNames, RejectsBrokenLiteralsWithPosition) {
  for (const char* bad : {"", "{0: 'a'", "{0 'a'}", "{a: 'b'}", "{0: 'a', 0: 'b'}",
                          "{0: 'unterminated}", "{0: 'a'} trailing", "{-1: 'a'}"}) {
    auto n = parse_class_names(bad);
    EXPECT_FALSE(n.ok()) << bad;
    if (!n.ok()) EXPECT_NE(n.status().message().find("at character"), std::string::npos) << bad;
  }
}

TEST(ClassNames, NamesFileOnePerLine) {
  std::string path = testing::TempDir() + "/fungen_names.txt";
  std::ofstream(path) << "face\r\nhand\n\nfoot\n\n";
  auto n = read_class_names_file(path);
  ASSERT_TRUE(n.ok()) << n.status().message();
  EXPECT_EQ(n->size(), 4u);
  EXPECT_EQ(n->at(0), "face");
  EXPECT_EQ(n->at(2), "");
  EXPECT_EQ(n->at(3), "foot");
  EXPECT_FALSE(read_class_names_file(path + ".missing").ok());
}

}  // namespace
}  // namespace fungen
