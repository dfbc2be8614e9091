// 3x3 depthwise convolutions computed by the 1x1 conv reading them (lower_dwfuse.cpp,
// FUNGEN_CUDA_DWFUSE): YOLO's head pattern dw 3x3 + SiLU -> 1x1 + SiLU, twice in a chain, and a
// depthwise conv without bias or SiLU, on C 16, 24, 64, 80 and odd maps (7x9, 20x20, 13x21,
// 80x80), against the reference backend on fresh random inputs at batches 1, 2 and 3 (three runs
// each: eager, capture, replay), fp16 and fp32, with the switch forced on (=1), measured
// (default) and off (=0), counting the fused reads (fp16 with =1: one per pattern and lowering;
// fp32 and =0: none) and requiring that no depthwise output is lowered after all. With the 1x1
// forced on igemm (FUNGEN_CUDA_IGEMM=1, PERSIST=0) the fused engine's fp16 outputs equal the
// separate one's bit for bit. Patterns that must not fuse: the depthwise output also a graph
// output, stride 2, 5x5, a 3x3 reader. A saved plan replays the measured choice without
// measuring. And YOLO11n (FUNGEN_TEST_YOLO11N, default /opt/models/yolo11n_640_dyn.onnx) with
// =1: the six head depthwise convs fused, the outputs the CPU backend's.
// Compiled only with -DFUNGEN_CUDA=ON; skipped when no GPU is present.
#ifdef FUNGEN_HAVE_CUDA

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
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

enum class Variant { kSilu, kChain, kPlain, kReadTwice, kStride2, kK5, kConv3x3 };
constexpr int kVariants = 7;

struct Map {
  int64_t c, h, w, cout;
};
const Map kMaps[] = {{16, 7, 9, 24}, {64, 20, 20, 80}, {80, 13, 21, 80}, {24, 80, 80, 16}};

bool fuses(Variant v) {
  return v == Variant::kSilu || v == Variant::kChain || v == Variant::kPlain;
}
int patterns(Variant v) {
  return v == Variant::kChain ? 2 : fuses(v) ? 1 : 0;
}

// x [N, C, H, W] -> d (depthwise 3x3 s1 + bias + SiLU; kPlain: no bias, no SiLU; kStride2: s2;
// kK5: 5x5) -> out (1x1 + SiLU to cout; kConv3x3: 3x3); kChain: out -> d2 (dw) -> out2 (1x1).
std::string dwfuse_model(std::mt19937& rng, Variant v, const Map& m) {
  ModelBuilder b(17);
  b.input("x", DType::kFloat32, {"N", m.c, m.h, m.w});
  const int64_t k = v == Variant::kK5 ? 5 : 3, s = v == Variant::kStride2 ? 2 : 1;
  if (v == Variant::kPlain) {
    b.initializer("d_w", random_tensor({m.c, 1, 3, 3}, rng, -0.5f, 0.5f));
    b.node("Conv", {"x", "d_w"}, {"d"}, conv_attrs(3, 1, m.c));
  } else {
    conv_silu(b, rng, "x", "d", m.c, m.c, k, s, m.c);
  }
  conv_silu(b, rng, "d", "out", m.c, m.cout, v == Variant::kConv3x3 ? 3 : 1, 1, 1);
  if (v == Variant::kChain) {
    conv_silu(b, rng, "out", "d2", m.cout, m.cout, 3, 1, m.cout);
    conv_silu(b, rng, "d2", "out2", m.cout, 16, 1, 1, 1);
    b.output("out2");
  } else {
    b.output("out");
  }
  if (v == Variant::kReadTwice) b.output("d");
  return b.build();
}

// Runs the model on `gpu` for batches 1, 2, 3 (three fresh inputs each) against `ref`; returns
// the outputs of every run (for the bit-for-bit comparison), empty when a run failed.
std::vector<Tensor> run_all(Engine& ref, Engine& gpu, double tol, std::mt19937& rng,
                            const std::string& label) {
  std::vector<Tensor> all;
  for (int64_t batch : {1, 2, 3}) {
    for (int rep = 0; rep < 3; ++rep) {
      Shape shape = ref.inputs()[0].shape;
      shape[0] = batch;
      std::vector<Tensor> in = {random_tensor(shape, rng, -2.0f, 2.0f)}, want, got;
      EXPECT_TRUE(ref.run(in, want).ok());
      Status s = gpu.run(in, got);
      EXPECT_TRUE(s.ok()) << label << ": " << s.message();
      if (!s.ok() || got.size() != want.size()) return {};
      for (size_t o = 0; o < want.size(); ++o) {
        EXPECT_LE(rel_l2(got[o], want[o]), tol)
            << label << " batch " << batch << " output " << o << " run " << rep;
        all.push_back(std::move(got[o]));
      }
    }
  }
  return all;
}

Result<Engine> load(const std::string& bytes, const std::string& backend,
                    const std::string& precision) {
  std::span<const uint8_t> span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  return Engine::load_from_memory(span, {.backend = backend, .precision = precision});
}

// variant, map, precision, FUNGEN_CUDA_DWFUSE ("1", "auto": unset, "0")
using Param = std::tuple<int, int, const char*, const char*>;
class CudaDwfuse : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    if (cuda_device_count() == 0)
      GTEST_SKIP() << "no CUDA device: the cuda backend tests need a GPU";
  }
};

TEST_P(CudaDwfuse, MatchesReference) {
  const auto v = static_cast<Variant>(std::get<0>(GetParam()));
  const Map& m = kMaps[std::get<1>(GetParam())];
  const std::string precision = std::get<2>(GetParam()), mode = std::get<3>(GetParam());
  const uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  ScopedEnv dw("FUNGEN_CUDA_DWFUSE", mode == "auto" ? nullptr : mode.c_str());
  if (mode == "auto") unsetenv("FUNGEN_CUDA_DWFUSE");  // ScopedEnv puts back what was there
  const std::string label = "variant " + std::to_string(static_cast<int>(v)) + " C " +
                            std::to_string(m.c) + " @" + std::to_string(m.h) + "x" +
                            std::to_string(m.w) + " " + precision + " DWFUSE=" + mode + " seed " +
                            std::to_string(seed);
  const std::string bytes = dwfuse_model(rng, v, m);
  auto ref = load(bytes, "reference", "fp32");
  auto gpu = load(bytes, "cuda", precision);
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  ASSERT_TRUE(gpu.ok()) << gpu.status().message();
  const int reads = cuda::dwfuse_reads_lowered(), mat = cuda::dwfuse_materialized();
  const std::vector<Tensor> got =
      run_all(ref.value(), gpu.value(), precision == "fp16" ? 1e-2 : 1e-4, rng, label);
  ASSERT_FALSE(got.empty()) << label;
  EXPECT_EQ(cuda::dwfuse_materialized() - mat, 0) << label << ": a depthwise output was lowered";
  const int fused = cuda::dwfuse_reads_lowered() - reads;
  // One lowering per batch size (1, 2, 3).
  if (precision == "fp16" && mode == "1") {
    EXPECT_EQ(fused, 3 * patterns(v)) << label;
  }
  if (!fuses(v) || precision == "fp32" || mode == "0") {
    EXPECT_EQ(fused, 0) << label;
  }
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  static const char* const kNames[] = {"silu", "chain", "plain",  "read_twice",
                                       "s2",   "k5",    "conv3x3"};
  const Map& m = kMaps[std::get<1>(info.param)];
  const std::string mode = std::get<3>(info.param);
  return std::string(kNames[std::get<0>(info.param)]) + "_c" + std::to_string(m.c) + "_" +
         std::to_string(m.h) + "x" + std::to_string(m.w) + "_" + std::get<2>(info.param) + "_" +
         (mode == "1"   ? "on"
          : mode == "0" ? "off"
                        : "auto");
}

INSTANTIATE_TEST_SUITE_P(Dwfuse, CudaDwfuse,
                         ::testing::Combine(::testing::Range(0, kVariants), ::testing::Range(0, 4),
                                            ::testing::Values("fp16", "fp32"),
                                            ::testing::Values("1", "auto", "0")),
                         param_name);

// Fused and separate with the same 1x1 kernel and tile (igemm forced, not persistent): the fp16
// outputs bit for bit (the loader's values are the depthwise kernels' bits).
TEST(CudaDwfuseBits, FusedEqualsSeparate) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: the cuda backend tests need a GPU";
  ScopedEnv igemm("FUNGEN_CUDA_IGEMM", "1"), persist("FUNGEN_CUDA_PERSIST", "0");
  for (int mi = 0; mi < 4; ++mi) {
    for (Variant v : {Variant::kSilu, Variant::kChain, Variant::kPlain}) {
      const uint32_t seed = test_seed();
      std::mt19937 rng(seed);
      const std::string bytes = dwfuse_model(rng, v, kMaps[mi]);
      const std::string label = "variant " + std::to_string(static_cast<int>(v)) + " map " +
                                std::to_string(mi) + " seed " + std::to_string(seed);
      auto ref = load(bytes, "reference", "fp32");
      ASSERT_TRUE(ref.ok()) << ref.status().message();
      std::vector<Tensor> outs[2];
      for (int on = 0; on < 2; ++on) {
        ScopedEnv dw("FUNGEN_CUDA_DWFUSE", on ? "1" : "0");
        auto gpu = load(bytes, "cuda", "fp16");
        ASSERT_TRUE(gpu.ok()) << gpu.status().message();
        std::mt19937 in_rng(seed + 1);  // the same inputs for both engines
        const int reads = cuda::dwfuse_reads_lowered();
        outs[on] = run_all(ref.value(), gpu.value(), 1e-2, in_rng, label);
        EXPECT_EQ(cuda::dwfuse_reads_lowered() - reads, on ? 3 * patterns(v) : 0) << label;
      }
      ASSERT_EQ(outs[0].size(), outs[1].size()) << label;
      for (size_t i = 0; i < outs[0].size(); ++i) {
        ASSERT_EQ(outs[0][i].nbytes(), outs[1][i].nbytes()) << label;
        EXPECT_EQ(std::memcmp(outs[0][i].raw(), outs[1][i].raw(), outs[0][i].nbytes()), 0)
            << label << ": output " << i << " differs fused vs separate";
      }
    }
  }
}

// The measured choice is a tuning entry ("dwfuse ..."), kept by a saved plan; the engine of the
// plan read back measures nothing and fuses as often as the build did.
TEST(CudaDwfusePlan, ChoiceRecordedAndReplayed) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: the cuda backend tests need a GPU";
  ScopedEnv dw("FUNGEN_CUDA_DWFUSE", nullptr);
  unsetenv("FUNGEN_CUDA_DWFUSE");  // measured (ScopedEnv puts back an exported value)
  const uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  const std::string dir = testing::TempDir() + "/fungen_dwfuse";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/m.onnx", std::ios::binary) << dwfuse_model(rng, Variant::kChain, kMaps[3]);
  const int reads0 = cuda::dwfuse_reads_lowered();
  auto plan = build_plan(dir + "/m.onnx", {.backend = "cuda", .batches = {2}});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  const int built = cuda::dwfuse_reads_lowered() - reads0;
  ASSERT_TRUE(write_plan_file(dir + "/m.engine", plan.value()).ok());
  auto read = read_plan_file(dir + "/m.engine");
  ASSERT_TRUE(read.ok()) << read.status().message();
  int entries = 0, chose = 0;
  for (const auto& [key, choice] : read->tuning) {
    if (key.rfind("dwfuse ", 0) != 0) continue;
    ++entries;
    chose += choice.algorithm != 0;
  }
  EXPECT_EQ(entries, 2) << "one dwfuse entry per pattern and batch";
  EXPECT_EQ(chose, built) << "fused convs vs entries choosing it";
  const int timed = cuda::conv_autotune_timings(), reads1 = cuda::dwfuse_reads_lowered();
  auto engine = engine_from_plan(read.value());
  ASSERT_TRUE(engine.ok()) << engine.status().message();
  Tensor in = random_tensor({2, kMaps[3].c, kMaps[3].h, kMaps[3].w}, rng, -2.0f, 2.0f);
  std::vector<Tensor> got;
  ASSERT_TRUE(engine->run({&in, 1}, got).ok());
  EXPECT_EQ(cuda::conv_autotune_timings() - timed, 0) << "the plan's choices measured again";
  EXPECT_EQ(cuda::dwfuse_reads_lowered() - reads1, built);
}

TEST(CudaDwfuseYolo, Yolo11nFusesTheHeadDepthwiseConvs) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: the cuda backend tests need a GPU";
  const char* env = std::getenv("FUNGEN_TEST_YOLO11N");
  const std::string path = env ? env : "/opt/models/yolo11n_640_dyn.onnx";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not there";
  ScopedEnv dw("FUNGEN_CUDA_DWFUSE", "1");
  const uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  Tensor input = random_tensor({2, 3, 640, 640}, rng, 0.0f, 1.0f);
  auto cpu = Engine::load(path, {.backend = "cpu"});
  ASSERT_TRUE(cpu.ok()) << cpu.status().message();
  std::vector<Tensor> want;
  ASSERT_TRUE(cpu->run({&input, 1}, want).ok());
  auto gpu = Engine::load(path, {.backend = "cuda", .precision = "fp16"});
  ASSERT_TRUE(gpu.ok()) << gpu.status().message();
  const int reads = cuda::dwfuse_reads_lowered();
  for (int rep = 0; rep < 3; ++rep) {
    std::vector<Tensor> got;
    Status s = gpu->run({&input, 1}, got);
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_EQ(got.size(), want.size());
    for (size_t o = 0; o < want.size(); ++o)
      EXPECT_LE(rel_l2(got[o], want[o]), 1e-2)
          << "output " << o << " run " << rep << " seed " << seed;
  }
  EXPECT_EQ(cuda::dwfuse_reads_lowered() - reads, 6) << "cv3.l.0.0 and cv3.l.1.0 of 3 levels";
}

}  // namespace
}  // namespace fungen::test

#endif  // FUNGEN_HAVE_CUDA
