// Upsampled Concats read by their 1x1 conv (lower_upfuse.cpp, FUNGEN_CUDA_UPFUSE): YOLO's neck
// pattern Concat(Resize2x(a), b) -> 1x1 conv (+ SiLU), the reversed order, three pieces, odd
// source maps (7x9), b also read by another conv (as YOLO's /model.4 is), against the reference
// backend on fresh random inputs at batches 1, 2 and 3 (three runs each: eager, capture,
// replay), fp16 and fp32, with the switch forced on (=1), measured (default) and off (=0),
// counting the convs that read the pieces (fp16 with =1: one per lowering; fp32 and =0: none)
// and requiring that no Concat is materialized after all. Patterns that must not take it: the
// Concat also read elsewhere (a graph output), a Resize of scale 3, a linear Resize, a 3x3 conv
// reading the Concat. A saved plan replays the measured choice without measuring. And YOLO11n
// (FUNGEN_TEST_YOLO11N, default /opt/models/yolo11n_640_dyn.onnx) with =1: two Concats read in
// place (/model.12, /model.15), the outputs the CPU backend's.
// Compiled only with -DFUNGEN_CUDA=ON; skipped when no GPU is present.
#ifdef FUNGEN_HAVE_CUDA

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include "backends/cuda/conv_autotune.cuh"
#include "backends/cuda/cuda_run.h"
#include "cuda_test_util.h"
#include "fungen/engine.h"
#include "model_builder.h"
#include "op_test_util.h"
#include "runtime/backend.h"
#include "runtime/plan_file.h"

namespace fungen::test {
namespace {

Tensor scales(float s) {
  Tensor t(DType::kFloat32, {4});
  const float v[4] = {1, 1, s, s};
  std::copy(v, v + 4, t.data<float>());
  return t;
}

enum class Variant { kUpFirst, kUpLast, kThree, kReadTwice, kScale3, kLinear, kConv3x3 };

// x [N, 8, 14, 18] -> a (3x3 s2: 16 ch @7x9) -> up = Resize(a) x2 -> 16 ch @14x18 (kScale3:
// x 15x18, a (3x3 s3) 5x6, up x3);
// b (3x3 s1: 24 ch @14x18), also read by `side` (1x1); Concat of up and b (order per variant;
// kThree: a second upsampled piece of 8 channels) -> out (1x1 + SiLU, 16 ch).
std::string upfuse_model(std::mt19937& rng, Variant v) {
  ModelBuilder b(17);
  const bool three = v == Variant::kThree, scale3 = v == Variant::kScale3;
  b.input("x", DType::kFloat32, {"N", 8, scale3 ? 15 : 14, 18});
  conv_silu(b, rng, "x", "a", 8, 16, 3, scale3 ? 3 : 2, 1);  // scale 3: x 15x18, a 5x6
  conv_silu(b, rng, "x", "bb", 8, 24, 3, 1, 1);
  conv_silu(b, rng, "bb", "side", 24, 8, 1, 1, 1);
  b.initializer("scales", scales(scale3 ? 3.0f : 2.0f));
  AttrList attrs = {{"mode", attr_string(v == Variant::kLinear ? "linear" : "nearest")},
                    {"coordinate_transformation_mode", attr_string("asymmetric")},
                    {"nearest_mode", attr_string("floor")}};
  b.node("Resize", {"a", "", "scales"}, {"up"}, attrs);
  std::vector<std::string> pieces = {"up", "bb"};
  if (v == Variant::kUpLast) pieces = {"bb", "up"};
  if (three) {
    conv_silu(b, rng, "x", "a2", 8, 8, 3, 2, 1);
    b.node("Resize", {"a2", "", "scales"}, {"up2"}, attrs);
    pieces = {"bb", "up", "up2"};
  }
  int64_t cin = three ? 48 : 40;
  b.node("Concat", pieces, {"cat"}, {{"axis", attr_int(1)}});
  conv_silu(b, rng, "cat", "out", cin, 16, v == Variant::kConv3x3 ? 3 : 1, 1, 1);
  b.output("out");
  b.output("side");
  if (v == Variant::kReadTwice) b.output("cat");
  return b.build();
}

// Loads the model on the reference and cuda backends and compares batches 1, 2, 3 (three fresh
// inputs each); returns how many convs read pieces (-1 when a check failed).
int run_and_count(const std::string& bytes, const std::string& precision, std::mt19937& rng,
                  const std::string& label) {
  std::span<const uint8_t> span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  auto ref = Engine::load_from_memory(span, {.backend = "reference"});
  auto gpu = Engine::load_from_memory(span, {.backend = "cuda", .precision = precision});
  EXPECT_TRUE(ref.ok()) << ref.status().message();
  EXPECT_TRUE(gpu.ok()) << gpu.status().message();
  if (!ref.ok() || !gpu.ok()) return -1;
  const int reads = cuda::upfuse_reads_lowered(), mat = cuda::upfuse_materialized();
  const double tol = precision == "fp16" ? 1e-2 : 1e-4;
  for (int64_t batch : {1, 2, 3}) {
    for (int rep = 0; rep < 3; ++rep) {
      Shape shape = ref->inputs()[0].shape;
      shape[0] = batch;
      std::vector<Tensor> in = {random_tensor(shape, rng, -2.0f, 2.0f)}, want, got;
      EXPECT_TRUE(ref->run(in, want).ok());
      Status s = gpu->run(in, got);
      EXPECT_TRUE(s.ok()) << label << ": " << s.message();
      if (!s.ok() || got.size() != want.size()) return -1;
      for (size_t o = 0; o < want.size(); ++o)
        EXPECT_LE(rel_l2(got[o], want[o]), tol)
            << label << " batch " << batch << " output " << o << " run " << rep;
    }
  }
  EXPECT_EQ(cuda::upfuse_materialized() - mat, 0) << label << ": a Concat was materialized";
  return cuda::upfuse_reads_lowered() - reads;
}

// variant, precision, FUNGEN_CUDA_UPFUSE ("1", "auto": unset, "0")
using Param = std::tuple<int, const char*, const char*>;
class CudaUpfuse : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    if (cuda_device_count() == 0)
      GTEST_SKIP() << "no CUDA device: the cuda backend tests need a GPU";
  }
};

TEST_P(CudaUpfuse, MatchesReference) {
  const auto v = static_cast<Variant>(std::get<0>(GetParam()));
  const std::string precision = std::get<1>(GetParam()), mode = std::get<2>(GetParam());
  const uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  ScopedEnv up("FUNGEN_CUDA_UPFUSE", mode == "auto" ? nullptr : mode.c_str());
  if (mode == "auto") unsetenv("FUNGEN_CUDA_UPFUSE");  // ScopedEnv puts back what was there
  const std::string label = "variant " + std::to_string(static_cast<int>(v)) + " " + precision +
                            " UPFUSE=" + mode + " seed " + std::to_string(seed);
  const int reads = run_and_count(upfuse_model(rng, v), precision, rng, label);
  ASSERT_GE(reads, 0) << label;
  const bool pattern = v == Variant::kUpFirst || v == Variant::kUpLast || v == Variant::kThree;
  // One lowering per batch size (1, 2, 3).
  if (pattern && precision == "fp16" && mode == "1") {
    EXPECT_EQ(reads, 3) << label;
  }
  if (!pattern || precision == "fp32" || mode == "0") {
    EXPECT_EQ(reads, 0) << label;
  }
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  static const char* const kNames[] = {"up_first", "up_last", "three",  "read_twice",
                                       "scale3",   "linear",  "conv3x3"};
  const std::string m = std::get<2>(info.param);
  return std::string(kNames[std::get<0>(info.param)]) + "_" + std::get<1>(info.param) + "_" +
         (m == "1"   ? "on"
          : m == "0" ? "off"
                     : "auto");
}

INSTANTIATE_TEST_SUITE_P(Upfuse, CudaUpfuse,
                         ::testing::Combine(::testing::Range(0, 7),
                                            ::testing::Values("fp16", "fp32"),
                                            ::testing::Values("1", "auto", "0")),
                         param_name);

// The measured choice is a tuning entry ("upfuse ..."), kept by a saved plan; the engine of
// the plan read back measures nothing and reads the pieces as often as the build did.
TEST(CudaUpfusePlan, ChoiceRecordedAndReplayed) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: the cuda backend tests need a GPU";
  ScopedEnv up("FUNGEN_CUDA_UPFUSE", nullptr);
  unsetenv("FUNGEN_CUDA_UPFUSE");  // measured (ScopedEnv puts back an exported value)
  const uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  const std::string dir = testing::TempDir() + "/fungen_upfuse";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/m.onnx", std::ios::binary) << upfuse_model(rng, Variant::kUpFirst);
  const int reads0 = cuda::upfuse_reads_lowered();
  auto plan = build_plan(dir + "/m.onnx", {.backend = "cuda", .batches = {2}});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  const int built_reads = cuda::upfuse_reads_lowered() - reads0;
  ASSERT_TRUE(write_plan_file(dir + "/m.engine", plan.value()).ok());
  auto read = read_plan_file(dir + "/m.engine");
  ASSERT_TRUE(read.ok()) << read.status().message();
  int entries = 0, chose = 0;
  for (const auto& [key, choice] : read->tuning) {
    if (key.rfind("upfuse ", 0) != 0) continue;
    ++entries;
    chose += choice.algorithm != 0;
  }
  EXPECT_EQ(entries, 1) << "one upfuse entry per pattern and batch";
  EXPECT_EQ(chose, built_reads) << "convs reading the pieces vs entries choosing it";
  const int timed = cuda::conv_autotune_timings(), reads1 = cuda::upfuse_reads_lowered();
  auto engine = engine_from_plan(read.value());
  ASSERT_TRUE(engine.ok()) << engine.status().message();
  Tensor in = random_tensor({2, 8, 14, 18}, rng, -2.0f, 2.0f);
  std::vector<Tensor> got;
  ASSERT_TRUE(engine->run({&in, 1}, got).ok());
  EXPECT_EQ(cuda::conv_autotune_timings() - timed, 0) << "the plan's choices measured again";
  EXPECT_EQ(cuda::upfuse_reads_lowered() - reads1, built_reads);
}

TEST(CudaUpfuseYolo, Yolo11nReadsTwoConcatsInPlace) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: the cuda backend tests need a GPU";
  const char* env = std::getenv("FUNGEN_TEST_YOLO11N");
  const std::string path = env ? env : "/opt/models/yolo11n_640_dyn.onnx";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not there";
  ScopedEnv up("FUNGEN_CUDA_UPFUSE", "1");
  const uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  Tensor input = random_tensor({2, 3, 640, 640}, rng, 0.0f, 1.0f);
  auto cpu = Engine::load(path, {.backend = "cpu"});
  ASSERT_TRUE(cpu.ok()) << cpu.status().message();
  std::vector<Tensor> want;
  ASSERT_TRUE(cpu->run({&input, 1}, want).ok());
  auto gpu = Engine::load(path, {.backend = "cuda", .precision = "fp16"});
  ASSERT_TRUE(gpu.ok()) << gpu.status().message();
  const int reads = cuda::upfuse_reads_lowered();
  for (int rep = 0; rep < 3; ++rep) {
    std::vector<Tensor> got;
    Status s = gpu->run({&input, 1}, got);
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_EQ(got.size(), want.size());
    for (size_t o = 0; o < want.size(); ++o)
      EXPECT_LE(rel_l2(got[o], want[o]), 1e-2)
          << "output " << o << " run " << rep << " seed " << seed;
  }
  EXPECT_EQ(cuda::upfuse_reads_lowered() - reads, 2) << "/model.13/cv1 and /model.16/cv1";
}

}  // namespace
}  // namespace fungen::test

#endif  // FUNGEN_HAVE_CUDA
