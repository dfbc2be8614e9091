// ModelManager on small ONNX models written by the test: discovery priority (.engine skipped,
// .onnx loaded, .pt converted by an external command that the test fakes), predict_batch on
// mixed sizes, concurrent callers, OOM halving, batch sizing, statistics and memory.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "fungen/config.h"
#include "fungen/model_manager.h"
#include "model_builder.h"
#include "op_test_util.h"

namespace fungen {
namespace {
namespace fs = std::filesystem;

// images [N,3,32,32] -> a constant raw head (4 + 2 classes, 512 anchors): one box centred at
// (16,16), 8×8, class 1, score 0.9.
std::string tiny_model() {
  const int A = 512;
  std::vector<float> head(6 * A, 0.f);
  head[0] = 16, head[A] = 16, head[2 * A] = 8, head[3 * A] = 8, head[5 * A] = 0.9f;
  test::ModelBuilder b(17);
  b.input("images", DType::kFloat32, {std::string("N"), int64_t{3}, int64_t{32}, int64_t{32}});
  b.initializer("shape", test::int64_tensor({3}, {0, 6, A}));
  b.initializer("zero", Tensor(DType::kFloat32, {1}));
  Tensor h(DType::kFloat32, {1, 6, A});
  std::memcpy(h.data<float>(), head.data(), head.size() * sizeof(float));
  b.initializer("head", h);
  b.node("Reshape", {"images", "shape"}, {"r"});
  b.node("Mul", {"r", "zero"}, {"z"});
  b.node("Add", {"z", "head"}, {"output0"});
  b.output("output0");
  b.metadata("names", "{0: 'face', 1: 'hand'}");
  return b.build();
}

std::string make_dir(const std::string& name) {
  std::string dir = testing::TempDir() + "/fungen_mm_" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(ModelManager, LoadsOnnxAndSkipsForeignEngine) {
  std::string dir = make_dir("engine");
  write(dir + "/det.onnx", tiny_model());
  write(dir + "/det.engine", "not a fungen engine");
  ModelManager mm(dir, "cpu", 4, true, false);
  Status s = mm.load_model("det");
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(fs::path(mm.model_path()).filename(), "det.onnx");
  auto notes = mm.load_notes();
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("det.engine"), std::string::npos);
  EXPECT_NE(notes[0].find("foreign"), std::string::npos);
}

TEST(ModelManager, EngineAloneIsRefusedAndMissingIsNotFound) {
  std::string dir = make_dir("engine_only");
  write(dir + "/det.engine", "x");
  ModelManager mm(dir);
  Status s = mm.load_model("det");
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.message();
  EXPECT_NE(s.message().find("det.onnx"), std::string::npos);
  Status e = mm.load_model("det.engine");
  EXPECT_EQ(e.code(), StatusCode::kUnsupported);
  EXPECT_NE(e.message().find("foreign"), std::string::npos);
}

TEST(ModelManager, PtWithoutUltralyticsGivesTheExactCommand) {
  std::string dir = make_dir("pt_missing");
  write(dir + "/det.pt", "pickle bytes fungen must never read");
  setenv("FUNGEN_PYTHON", "/bin/false", 1);
  ModelManager mm(dir);
  Status s = mm.load_model("det");
  unsetenv("FUNGEN_PYTHON");
  EXPECT_EQ(s.code(), StatusCode::kUnsupported) << s.message();
  EXPECT_NE(s.message().find("from ultralytics import YOLO"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(dir + "/det.pt"), std::string::npos) << s.message();
  EXPECT_FALSE(fs::exists(dir + "/det.onnx"));
}

TEST(ModelManager, PtIsConvertedOnceBesideItself) {
  std::string dir = make_dir("pt_convert");
  write(dir + "/det.pt", "pickle bytes");
  write(dir + "/prepared.bin", tiny_model());
  // A stand-in for python: gets (-c, code, pt_path) and writes <pt without .pt>.onnx, as the
  // Ultralytics exporter does; it counts its runs.
  std::string fake = dir + "/fake_python.sh";
  write(fake, "#!/bin/sh\necho run >> '" + dir + "/runs'\ncp '" + dir +
                  "/prepared.bin' \"${3%.pt}.onnx\"\n");
  chmod(fake.c_str(), 0755);
  setenv("FUNGEN_PYTHON", fake.c_str(), 1);
  ModelManager mm(dir);
  Status s = mm.load_model("det");
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(fs::exists(dir + "/det.onnx"));
  ModelManager again(dir);
  ASSERT_TRUE(again.load_model("det").ok());  // the .onnx now wins: no second conversion
  unsetenv("FUNGEN_PYTHON");
  std::ifstream runs(dir + "/runs");
  std::string line;
  int n = 0;
  while (std::getline(runs, line)) ++n;
  EXPECT_EQ(n, 1);
}

TEST(ModelManager, PredictBatchMixedSizesAndStats) {
  std::string dir = make_dir("predict");
  write(dir + "/det.onnx", tiny_model());
  ModelManager mm(dir, "auto", 2);
  ASSERT_TRUE(mm.load_model("det").ok());
  Image a(64, 64), b(64, 32), c(16, 16);
  std::vector<Frame> frames = {a.frame(), b.frame(), c.frame(), a.frame(), b.frame()};
  auto r = mm.predict_batch(frames, 0.25f, 0.45f, 300);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 5u);
  EXPECT_EQ((*r)[0][0].class_name, "hand");
  EXPECT_FLOAT_EQ((*r)[0][0].x1, 24);
  EXPECT_FLOAT_EQ((*r)[1][0].y1, 8);
  EXPECT_FLOAT_EQ((*r)[2][0].x2, 10);
  PerformanceStats st = mm.performance_stats();
  EXPECT_EQ(st.frames, 5u);
  EXPECT_GE(st.batches, 3u);  // batch <= max_batch_size 2
  EXPECT_GT(st.avg_fps, 0);
  EXPECT_LE(st.latency_p50_ms, st.latency_p95_ms);
  EXPECT_GT(st.memory_gb, 0);
  EXPECT_GE(st.peak_memory_gb, st.memory_gb);
  mm.reset_stats();
  EXPECT_EQ(mm.performance_stats().frames, 0u);
}

TEST(ModelManager, OptimalBatchIsCappedAndPositive) {
  std::string dir = make_dir("batch");
  write(dir + "/det.onnx", tiny_model());
  ModelManager mm(dir, "cpu", 3, false);
  ASSERT_TRUE(mm.load_model("det").ok());
  int n = mm.optimal_batch_size();
  EXPECT_GE(n, 1);
  EXPECT_LE(n, 3);
}

TEST(ModelManager, OutOfMemoryHalvesTheBatchAndRetries) {
  std::string dir = make_dir("oom");
  write(dir + "/det.onnx", tiny_model());
  ModelManager mm(dir, "cpu", 8, false);
  ASSERT_TRUE(mm.load_model("det").ok());
  int first = mm.batch_size();
  mm.set_fault_injector_for_testing([](int batch) {
    return batch > 2 ? out_of_memory("injected: no memory above batch 2") : Status();
  });
  std::vector<Image> imgs(7, Image(40, 30));
  std::vector<Frame> frames;
  for (auto& i : imgs) frames.push_back(i.frame());
  auto r = mm.predict_batch(frames);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->size(), 7u);
  for (const auto& d : *r) EXPECT_EQ(d.size(), 1u);
  EXPECT_LE(mm.batch_size(), 2);
  if (first > 2) EXPECT_GE(mm.performance_stats().oom_retries, 1u);
  mm.set_fault_injector_for_testing([](int) { return out_of_memory("injected: always"); });
  auto fail = mm.predict_batch(frames);
  ASSERT_FALSE(fail.ok());
  EXPECT_EQ(fail.status().code(), StatusCode::kOutOfMemory);
  EXPECT_EQ(mm.batch_size(), 1);
}

TEST(ModelManager, ConcurrentCallersGetTheirOwnResults) {
  std::string dir = make_dir("threads");
  write(dir + "/det.onnx", tiny_model());
  ModelManager mm(dir, "cpu", 4);
  ASSERT_TRUE(mm.load_model("det").ok());
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Image img(32 * (t + 1), 32 * (t + 1));
      for (int i = 0; i < 10; ++i) {
        Frame f = img.frame();
        auto r = mm.predict_batch({&f, 1});
        if (!r.ok() || (*r)[0].size() != 1 || (*r)[0][0].x1 != 12.f * (t + 1)) ++bad;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(mm.performance_stats().frames, 40u);
}

TEST(ModelManager, CudaDeviceWithoutCudaBuildIsAClearError) {
  BuildInfo b = build_info();
  if (b.cuda) GTEST_SKIP() << "this build has CUDA";
  std::string dir = make_dir("cuda");
  write(dir + "/det.onnx", tiny_model());
  ModelManager mm(dir, "cuda:0");
  Status s = mm.load_model("det");
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  EXPECT_NE(s.message().find("-DFUNGEN_CUDA=ON"), std::string::npos);
}

}  // namespace
}  // namespace fungen
