// Loading a stale plan: another machine's fingerprint (real or faked), an older format version,
// a changed or moved source model, a damaged file — each rebuilt with one log line and rewritten;
// and ModelManager taking fungen plans.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "fungen/engine.h"
#include "fungen/image.h"
#include "fungen/model_manager.h"
#include "plan_test_util.h"
#include "runtime/plan_file.h"

namespace fungen {
namespace {
using namespace fungen::test;

TEST(PlanRebuild, OtherMachineIsRebuiltWithOneLogLineAndRewritten) {
  std::string dir = make_dir("fingerprint");
  std::string path = converted(dir);
  auto plan = read_plan_file(path);
  ASSERT_TRUE(plan.ok());
  plan->fingerprint.device = "Imaginary GPU 9000";
  plan->fingerprint.cudnn = "8.0.0";
  ASSERT_TRUE(write_plan_file(path, plan.value()).ok());
  LogCapture logs;
  auto engine = Engine::load(path, {.threads = 1});
  ASSERT_TRUE(engine.ok()) << engine.status().message();
  EXPECT_EQ(logs.count("rebuilding"), 1u);
  EXPECT_EQ(logs.count("Imaginary GPU 9000"), 1u) << "the line names what differs";
  auto rewritten = read_plan_file(path);
  ASSERT_TRUE(rewritten.ok());
  EXPECT_EQ(rewritten->fingerprint, current_fingerprint(cpu_backend()).value());
  // Loading again: up to date, nothing rebuilt.
  auto again = Engine::load(path, {.threads = 1});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(logs.count("rebuilding"), 1u);
  // The rebuilt plan computes what the model computes.
  auto onnx = Engine::load(dir + "/m.onnx", {.threads = 1, .backend = cpu_backend()});
  std::mt19937 rng(test::test_seed());
  Tensor in = test::random_tensor({2, 3, 16, 16}, rng, 0.f, 1.f);
  Tensor a = run_once(again.value(), in), b = run_once(onnx.value(), in);
  EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.nbytes()), 0);
}

TEST(PlanRebuild, FakeMachineFingerprintTriggersTheRebuild) {
  std::string dir = make_dir("fake_machine");
  std::string path = converted(dir);
  PlanFingerprint fake = current_fingerprint(cpu_backend()).value();
  fake.fungen_version = "99.0.0";
  LogCapture logs;
  auto engine = load_plan(path, {.threads = 1, .machine = &fake});
  ASSERT_TRUE(engine.ok()) << engine.status().message();
  EXPECT_EQ(logs.count("99.0.0"), 1u);
  EXPECT_EQ(read_plan_file(path)->fingerprint.fungen_version, "99.0.0");
  auto same = load_plan(path, {.threads = 1, .machine = &fake});
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(logs.count("rebuilding"), 1u);
}

TEST(PlanRebuild, OlderFormatVersionIsRebuilt) {
  std::string dir = make_dir("version");
  std::string path = converted(dir);
  std::string bytes = read(path);
  const uint32_t old_version = 0;
  std::memcpy(&bytes[8], &old_version, 4);  // right after the magic
  write(path, bytes);
  EXPECT_EQ(read_plan_file(path).status().code(), StatusCode::kUnsupported);
  LogCapture logs;
  auto engine = Engine::load(path, {.threads = 1});
  ASSERT_TRUE(engine.ok()) << engine.status().message();
  EXPECT_EQ(logs.count("format version 0"), 1u);
  EXPECT_EQ(read_plan_header(path)->format_version, kPlanFormatVersion);
}

TEST(PlanRebuild, ChangedSourceModelIsRebuilt) {
  std::string dir = make_dir("source");
  std::string path = converted(dir, 3);
  write(dir + "/m.onnx", conv_model(4));  // retrained: other weights
  LogCapture logs;
  auto engine = Engine::load(path, {.threads = 1});
  ASSERT_TRUE(engine.ok()) << engine.status().message();
  EXPECT_EQ(logs.count("changed"), 1u);
  auto onnx = Engine::load(dir + "/m.onnx", {.threads = 1, .backend = cpu_backend()});
  std::mt19937 rng(test::test_seed());
  Tensor in = test::random_tensor({1, 3, 16, 16}, rng, 0.f, 1.f);
  Tensor a = run_once(engine.value(), in), b = run_once(onnx.value(), in);
  EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.nbytes()), 0);
}

TEST(PlanRebuild, DamagedPlanIsRebuiltOrNamesTheMissingSource) {
  std::string dir = make_dir("damaged");
  std::string path = converted(dir);
  std::string bytes = read(path);
  bytes[bytes.size() / 2] ^= 0x55;
  write(path, bytes);
  EXPECT_EQ(read_plan_file(path).status().code(), StatusCode::kCorrupt);
  {
    LogCapture logs;
    ASSERT_TRUE(Engine::load(path, {.threads = 1}).ok());
    EXPECT_EQ(logs.count("damaged"), 1u);
  }
  ASSERT_TRUE(read_plan_file(path).ok()) << "rewritten";
  write(path, bytes);
  fs::remove(dir + "/m.onnx");
  auto e = Engine::load(path, {.threads = 1});
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("missing"), std::string::npos) << e.status().message();
}

TEST(PlanRebuild, SourceMovedBesideThePlanIsFound) {
  std::string dir = make_dir("moved");
  std::string path = converted(dir);
  std::string moved = make_dir("moved_to");
  fs::rename(path, moved + "/m.engine");
  fs::rename(dir + "/m.onnx", moved + "/m.onnx");
  auto plan = read_plan_file(moved + "/m.engine");
  ASSERT_TRUE(plan.ok());
  plan->fingerprint.driver = "1.0";
  ASSERT_TRUE(write_plan_file(moved + "/m.engine", plan.value()).ok());
  LogCapture logs;
  auto e = Engine::load(moved + "/m.engine", {.threads = 1});
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(logs.count(moved + "/m.onnx"), 1u);
}

std::vector<std::vector<Detection>> predict(ModelManager& mm, const Image& img) {
  Frame f = img.frame();
  auto r = mm.predict_batch({&f, 1}, 0.0f, 0.45f, 300);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? r.value() : std::vector<std::vector<Detection>>{};
}

TEST(PlanRebuild, ModelManagerPrefersAFungenPlanAndRebuildsAStaleOne) {
  std::string dir = make_dir("model_manager");
  std::string path = converted(dir);
  Image img(16, 16);
  std::mt19937 rng(test::test_seed());
  for (int i = 0; i < 16 * 16 * 3; ++i) img.data()[i] = static_cast<uint8_t>(rng() % 256);
  ModelManager from_onnx(dir, "cpu", 2, false, false);
  ASSERT_TRUE(from_onnx.load_model("m.onnx").ok());
  auto want = predict(from_onnx, img);

  ModelManager mm(dir, "cpu", 2, false, false);
  Status s = mm.load_model("m");
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(fs::path(mm.model_path()).filename(), "m.engine");
  EXPECT_TRUE(mm.load_notes().empty());
  auto got = predict(mm, img);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_FALSE(want.empty());
  ASSERT_EQ(got[0].size(), want[0].size());
  ASSERT_FALSE(got[0].empty()) << "conf 0 keeps boxes: the comparison compares something";
  for (size_t i = 0; i < got[0].size(); ++i) {
    EXPECT_EQ(got[0][i].class_id, want[0][i].class_id);
    EXPECT_EQ(got[0][i].confidence, want[0][i].confidence);
    EXPECT_EQ(got[0][i].x1, want[0][i].x1);
    EXPECT_EQ(got[0][i].y2, want[0][i].y2);
  }

  auto plan = read_plan_file(path);
  ASSERT_TRUE(plan.ok());
  plan->fingerprint.compute_capability = "7.5";
  ASSERT_TRUE(write_plan_file(path, plan.value()).ok());
  LogCapture logs;
  ASSERT_TRUE(mm.load_model("m").ok());
  EXPECT_EQ(logs.count("rebuilding"), 1u);
  EXPECT_EQ(read_plan_file(path)->fingerprint.compute_capability, "");
}

TEST(PlanRebuild, ModelManagerOnTheCpuRunsAGpuPlansSource) {
  std::string dir = make_dir("model_manager_gpu_plan");
  std::string path = converted(dir);
  auto plan = read_plan_file(path);
  ASSERT_TRUE(plan.ok());
  plan->backend = "cuda";
  ASSERT_TRUE(write_plan_file(path, plan.value()).ok());
  ModelManager mm(dir, "cpu", 2, false, false);
  Status s = mm.load_model("m");
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(fs::path(mm.model_path()).filename(), "m.onnx");
  ASSERT_EQ(mm.load_notes().size(), 1u);
  EXPECT_NE(mm.load_notes()[0].find("GPU plan"), std::string::npos);
}

}  // namespace
}  // namespace fungen
