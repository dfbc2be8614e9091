// Detector end to end on tiny ONNX models written in the test (the real importer and engine):
// the model ignores its pixels (× 0) and adds a constant head output, so every box the Detector
// reports can be predicted exactly: batching, static batches, frames of different sizes,
// metadata names and imgsz, both head layouts.
#include <gtest/gtest.h>

#include <cstring>

#include "fungen/detector.h"
#include "model_builder.h"
#include "op_test_util.h"

namespace fungen {
namespace {

std::span<const uint8_t> as_bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// images [batch,3,32,32] -> Reshape [N, rows, cols] -> ×0 -> + head (1×rows×cols).
std::string constant_head_model(std::variant<int64_t, std::string> batch, int rows, int cols,
                                const std::vector<float>& head,
                                const std::vector<std::pair<std::string, std::string>>& meta) {
  test::ModelBuilder b(17);
  b.input("images", DType::kFloat32, {batch, int64_t{3}, int64_t{32}, int64_t{32}});
  b.initializer("shape", test::int64_tensor({3}, {0, rows, cols}));
  Tensor zero(DType::kFloat32, {1});
  Tensor h(DType::kFloat32, {1, rows, cols});
  std::memcpy(h.data<float>(), head.data(), head.size() * sizeof(float));
  b.initializer("zero", zero);
  b.initializer("head", h);
  b.node("Reshape", {"images", "shape"}, {"r"});
  b.node("Mul", {"r", "zero"}, {"z"});
  b.node("Add", {"z", "head"}, {"output0"});
  b.output("output0");
  for (const auto& [k, v] : meta) b.metadata(k, v);
  return b.build();
}

// Raw head: 4 + 2 classes, 512 anchors (3·32·32 = 6·512). Anchor 0: box centred (16,16) 8×8,
// class 0 at 0.9; anchor 1: the same box moved 1 px, class 0 at 0.8 (suppressed); anchor 2: the
// same box, class 1 at 0.7 (kept unless agnostic); anchor 3: class 1 at 0.2 (below conf).
std::vector<float> raw_head() {
  const int A = 512;
  std::vector<float> h(6 * A, 0.f);
  auto set = [&](int a, float cx, float cy, float w, float hh, int cls, float score) {
    h[0 * A + a] = cx, h[1 * A + a] = cy, h[2 * A + a] = w, h[3 * A + a] = hh;
    h[(4 + cls) * A + a] = score;
  };
  set(0, 16, 16, 8, 8, 0, 0.9f);
  set(1, 17, 16, 8, 8, 0, 0.8f);
  set(2, 16, 16, 8, 8, 1, 0.7f);
  set(3, 4, 4, 4, 4, 1, 0.2f);
  return h;
}

Result<Detector> make_detector(const std::string& bytes, DetectorOptions opt = {}) {
  auto engine = Engine::load_from_memory(as_bytes(bytes), {.threads = 1});
  if (!engine.ok()) return engine.status();
  return Detector::from_engine(std::move(engine).value(), opt);
}

TEST(DetectorPipeline, RawHeadMapsBoxesIntoEachFramesPixels) {
  std::string model = constant_head_model(
      std::string("N"), 6, 512, raw_head(),
      {{"names", "{0: 'cat', 1: \"dog's\"}"}, {"imgsz", "[32, 32]"}, {"task", "detect"}});
  auto det = make_detector(model);
  ASSERT_TRUE(det.ok()) << det.status().message();
  EXPECT_EQ(det->input_width(), 32);
  EXPECT_EQ(det->static_batch(), 0);
  EXPECT_EQ(det->layout(), HeadLayout::kRaw);
  Image square(64, 64), wide(64, 32), tiny(16, 16);
  std::vector<Frame> frames = {square.frame(), wide.frame(), tiny.frame()};
  auto r = det->detect(frames);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 3u);
  for (const auto& dets : *r) {
    ASSERT_EQ(dets.size(), 2u);
    EXPECT_EQ(dets[0].class_name, "cat");
    EXPECT_FLOAT_EQ(dets[0].confidence, 0.9f);
    EXPECT_EQ(dets[1].class_name, "dog's");
    EXPECT_FLOAT_EQ(dets[1].confidence, 0.7f);
  }
  // 64×64: r = 0.5, no padding: (12..20) / 0.5.
  EXPECT_FLOAT_EQ((*r)[0][0].x1, 24);
  EXPECT_FLOAT_EQ((*r)[0][0].y2, 40);
  // 64×32: resized 32×16, top = round(7.9) = 8: y = (12 - 8) / 0.5.
  EXPECT_FLOAT_EQ((*r)[1][0].x1, 24);
  EXPECT_FLOAT_EQ((*r)[1][0].y1, 8);
  EXPECT_FLOAT_EQ((*r)[1][0].y2, 24);
  // 16×16 scaled up ×2.
  EXPECT_FLOAT_EQ((*r)[2][0].x1, 6);
  EXPECT_FLOAT_EQ((*r)[2][0].x2, 10);

  DetectOptions agnostic;
  agnostic.agnostic = true;
  auto a = det->detect(std::span<const Frame>(frames.data(), 1), agnostic);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ((*a)[0].size(), 1u);
  DetectOptions low;
  low.conf = 0.1f;
  low.classes = {1};
  auto l = det->detect(std::span<const Frame>(frames.data(), 1), low);
  ASSERT_TRUE(l.ok());
  ASSERT_EQ((*l)[0].size(), 2u);
  EXPECT_EQ((*l)[0][1].class_id, 1);
  EXPECT_FLOAT_EQ((*l)[0][1].confidence, 0.2f);
}

TEST(DetectorPipeline, StaticBatchRunsInChunksAndPads) {
  std::string model = constant_head_model(int64_t{2}, 6, 512, raw_head(), {});
  DetectorOptions opt;
  auto det = make_detector(model, opt);
  ASSERT_TRUE(det.ok()) << det.status().message();
  EXPECT_EQ(det->static_batch(), 2);
  Image a(32, 32), b(40, 20), c(20, 40);
  std::vector<Frame> frames = {a.frame(), b.frame(), c.frame()};
  auto r = det->detect(frames);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 3u);
  for (const auto& d : *r) ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ((*r)[0][0].class_name, "class0");  // no names metadata
  EXPECT_FLOAT_EQ((*r)[0][0].x1, 12);
}

TEST(DetectorPipeline, DynamicBatchHonoursMaxBatch) {
  std::string model = constant_head_model(std::string("N"), 6, 512, raw_head(), {});
  DetectorOptions opt;
  opt.max_batch = 2;
  auto det = make_detector(model, opt);
  ASSERT_TRUE(det.ok()) << det.status().message();
  std::vector<Image> imgs(5, Image(32, 32));
  std::vector<Frame> frames;
  for (auto& i : imgs) frames.push_back(i.frame());
  auto r = det->detect(frames);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->size(), 5u);
  auto bytes = det->activation_bytes(2);
  EXPECT_TRUE(bytes.ok()) << bytes.status().message();
}

TEST(DetectorPipeline, EndToEndHeadFromMetadata) {
  std::vector<float> head(512 * 6, 0.f);
  const float rows[][6] = {{8, 8, 24, 24, 0.6f, 2},
                           {0, 0, 4, 4, 0.95f, 0},
                           {1, 1, 2, 2, 0.1f, 1},
                           {30, 30, 40, 40, 0.5f, 1}};
  for (int i = 0; i < 4; ++i) std::memcpy(&head[i * 6], rows[i], sizeof(rows[i]));
  std::string model = constant_head_model(std::string("N"), 512, 6, head, {{"end2end", "True"}});
  auto det = make_detector(model);
  ASSERT_TRUE(det.ok()) << det.status().message();
  EXPECT_EQ(det->layout(), HeadLayout::kEndToEnd);
  Image img(64, 64);
  Frame f = img.frame();
  auto r = det->detect({&f, 1});
  ASSERT_TRUE(r.ok()) << r.status().message();
  const auto& d = (*r)[0];
  ASSERT_EQ(d.size(), 3u);
  EXPECT_FLOAT_EQ(d[0].confidence, 0.95f);  // sorted by confidence
  EXPECT_FLOAT_EQ(d[1].confidence, 0.6f);
  EXPECT_FLOAT_EQ(d[1].x1, 16);
  EXPECT_FLOAT_EQ(d[1].x2, 48);
  EXPECT_FLOAT_EQ(d[2].x2, 64);  // 40 / 0.5 = 80, clipped to the frame
}

TEST(DetectorPipeline, RejectsBadFramesAndThresholds) {
  std::string model = constant_head_model(std::string("N"), 6, 512, raw_head(), {});
  auto det = make_detector(model);
  ASSERT_TRUE(det.ok()) << det.status().message();
  Frame empty;
  EXPECT_EQ(det->detect({&empty, 1}).status().code(), StatusCode::kInvalidArgument);
  Image img(8, 8);
  Frame f = img.frame();
  DetectOptions bad;
  bad.conf = 1.5f;
  auto r = det->detect({&f, 1}, bad);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("conf"), std::string::npos);
}

TEST(DetectorPipeline, RejectsNonDetectTask) {
  std::string model =
      constant_head_model(std::string("N"), 6, 512, raw_head(), {{"task", "segment"}});
  auto det = make_detector(model);
  ASSERT_FALSE(det.ok());
  EXPECT_NE(det.status().message().find("segment"), std::string::npos);
}

}  // namespace
}  // namespace fungen
