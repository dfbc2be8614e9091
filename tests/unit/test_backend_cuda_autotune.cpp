// FUNGEN_CUDA_IGEMM=auto (the default, conv_autotune.h): per convolution the faster of cuDNN and
// the implicit-GEMM kernel, measured when the plan is built and recorded in its tuning cache.
//  - whatever was chosen matches the reference backend (fp16, fresh random inputs on each of
//    three runs: eager, graph capture, replay; batch 1 and 3) on a model with every output kind
//    (packed, Concat slices at offsets 0 and 80 of 104, a residual, NCHW for a Reshape), and each
//    eligible problem was timed and recorded;
//  - a plan saved to a file and read back holds the same choices and replays them without timing
//    anything (conv_autotune_timings) and with the same number of convs on the kernel;
//  - every branch of a replayed choice, whatever the device measured: the plan's entries forced
//    to the kernel (tile 64x16, every conv), to the persistent 1x1 kernel (conv_igemm_1x1.cuh,
//    the 1x1 convs; the rest on the kernel), to the 3x3 halo kernel tile3 (tile 128x32, the four
//    3x3 convs; FUNGEN_CUDA_TILE3=auto makes them candidates, their keys end in " tile3"), to
//    tile3 as the tile3 branch's plans recorded it before the persistent kernel took 2 (algorithm
//    2 on " tile3" keys), and to cuDNN, each matching the reference.
// Compiled only with -DFUNGEN_CUDA=ON; skipped when no GPU is present.
#ifdef FUNGEN_HAVE_CUDA

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include "backends/cuda/conv_autotune.cuh"
#include "backends/cuda/conv_igemm.cuh"
#include "backends/cuda/conv_igemm_1x1.cuh"
#include "backends/cuda/conv_tile3.cuh"
#include "cuda_test_util.h"
#include "fungen/engine.h"
#include "model_builder.h"
#include "op_test_util.h"
#include "runtime/engine_impl.h"
#include "runtime/plan_file.h"

namespace fungen::test {
namespace {

// x [N,16,h,w]: 3x3 s2 16->32, 1x1 32->64, 3x3 64->64 + residual, 1x1 64->16 and 3x3 64->24
// into a 104-channel Concat (with the residual conv's output between them), a head 1x1
// 104->80 (bias only) read by a Reshape, a 3x3 s2 104->128 without bias or SiLU. 7 convs the
// kernel can take, each of its own geometry.
constexpr int kEligibleConvs = 7;
constexpr int kTile3Convs = 4;  // a, c, p2, f: 3x3, pad 1, stride 1 or 2
std::string auto_model(std::mt19937& rng, int64_t h, int64_t w) {
  ModelBuilder b(17);
  b.input("x", DType::kFloat32, {std::string("N"), int64_t{16}, h, w});
  scaled_conv(b, rng, "x", "a", 16, 32, 3, 2, true, true);
  scaled_conv(b, rng, "a", "b", 32, 64, 1, 1, true, true);
  scaled_conv(b, rng, "b", "c", 64, 64, 3, 1, true, true);
  b.node("Add", {"c", "b"}, {"r"});
  scaled_conv(b, rng, "r", "p1", 64, 16, 1, 1, true, true);
  scaled_conv(b, rng, "r", "p2", 64, 24, 3, 1, true, true);
  b.node("Concat", {"p1", "r", "p2"}, {"cat"}, {{"axis", attr_int(1)}});
  scaled_conv(b, rng, "cat", "e", 104, 80, 1, 1, true, false);
  b.initializer("shape", int64_tensor({3}, {0, 80, -1}));
  b.node("Reshape", {"e", "shape"}, {"e_r"});
  b.initializer("f_w", random_tensor({128, 104, 3, 3}, rng, -0.05f, 0.05f));
  b.node("Conv", {"cat", "f_w"}, {"f"}, conv_attrs(3, 2));
  b.output("e_r");
  b.output("f");
  std::string imgsz = "[";  // appended piecewise: GCC 12's -Wrestrict misfires on "[" + string
  imgsz += std::to_string(h);
  imgsz += ", ";
  imgsz += std::to_string(w);
  imgsz += "]";
  b.metadata("imgsz", imgsz);
  return b.build();
}

bool is_igemm_entry(const std::string& key) {
  return key.rfind("igemm ", 0) == 0;
}
bool is_tile3_candidate(const std::string& key) {
  return key.size() > 6 && key.compare(key.size() - 6, 6, " tile3") == 0;
}

// Runs `gpu` and the reference on three fresh random inputs at `batch` (eager, capture,
// replay) and expects fp16's tolerance on every output.
void expect_matches_reference(Engine& gpu, const std::string& bytes, int64_t batch,
                              std::mt19937& rng, const std::string& label, uint32_t seed) {
  std::span<const uint8_t> span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  auto ref = Engine::load_from_memory(span, {.backend = "reference"});
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  for (int rep = 0; rep < 3; ++rep) {
    Shape shape = ref->inputs()[0].shape;
    shape[0] = batch;
    std::vector<Tensor> inputs = {random_tensor(shape, rng, -2.0f, 2.0f)}, want, got;
    ASSERT_TRUE(ref->run(inputs, want).ok());
    Status s = gpu.run(inputs, got);
    ASSERT_TRUE(s.ok()) << label << ": " << s.message();
    ASSERT_EQ(got.size(), want.size());
    for (size_t o = 0; o < want.size(); ++o) {
      EXPECT_LE(rel_l2(got[o], want[o]), 1e-2)
          << label << " output " << o << " run " << rep << " seed " << seed;
    }
  }
  EXPECT_EQ(gpu.nodes_on("reference") + gpu.nodes_on("cpu"), 0u) << label;
}

class CudaIgemmAutotune : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda_device_count() == 0)
      GTEST_SKIP() << "no CUDA device: the cuda backend tests need a GPU";
    dir_ = testing::TempDir() + "/fungen_autotune";
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  // Writes the model to dir_/m.onnx and returns its bytes.
  std::string write_model(std::mt19937& rng, int64_t h, int64_t w) {
    const std::string bytes = auto_model(rng, h, w);
    std::ofstream(dir_ + "/m.onnx", std::ios::binary) << bytes;
    return bytes;
  }
  std::string dir_;
};

TEST_F(CudaIgemmAutotune, ChoiceMatchesReferenceAndIsRecorded) {
  ScopedEnv mode("FUNGEN_CUDA_IGEMM", "auto");
  ScopedEnv mode3("FUNGEN_CUDA_TILE3", "auto");
  const uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  for (int64_t batch : {1, 3}) {
    const std::string bytes = auto_model(rng, 21, 19);  // odd maps: M tails everywhere
    std::span<const uint8_t> span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    const int timed = cuda::conv_autotune_timings();
    auto gpu = Engine::load_from_memory(span, {.backend = "cuda", .precision = "fp16"});
    ASSERT_TRUE(gpu.ok()) << gpu.status().message();
    expect_matches_reference(gpu.value(), bytes, batch, rng, "auto b" + std::to_string(batch),
                             seed);
    EXPECT_EQ(cuda::conv_autotune_timings() - timed, kEligibleConvs) << "batch " << batch;
    int entries = 0, tile3_keys = 0;
    for (const auto& [key, choice] : EngineAccess::impl(gpu.value()).tuning->entries()) {
      if (!is_igemm_entry(key)) continue;
      ++entries;
      tile3_keys += is_tile3_candidate(key);
      // 1 igemm, 2 persistent (1x1 only), 3 tile3 (its candidates only), 0 cuDNN.
      EXPECT_TRUE(choice.algorithm >= 0 && choice.algorithm <= 3) << key;
      if (choice.algorithm == 2) {
        EXPECT_NE(key.find(" k=1,1 "), std::string::npos) << key;
      }
      if (choice.algorithm == 3) {
        EXPECT_TRUE(is_tile3_candidate(key)) << key;
      }
    }
    EXPECT_EQ(entries, kEligibleConvs) << "batch " << batch;
    EXPECT_EQ(tile3_keys, kTile3Convs) << "batch " << batch;
  }
}

TEST_F(CudaIgemmAutotune, SavedPlanReplaysTheChoicesWithoutTiming) {
  ScopedEnv mode("FUNGEN_CUDA_IGEMM", "auto");
  ScopedEnv mode3("FUNGEN_CUDA_TILE3", "auto");
  const uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  const std::string bytes = write_model(rng, 24, 20);
  const int lowered0 = cuda::igemm_convs_lowered(), timed0 = cuda::conv_autotune_timings();
  const int tile3_0 = cuda::tile3_convs_lowered();
  auto plan = build_plan(dir_ + "/m.onnx", {.backend = "cuda", .batches = {2}});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  const int built_igemm = cuda::igemm_convs_lowered() - lowered0;
  const int built_tile3 = cuda::tile3_convs_lowered() - tile3_0;
  EXPECT_EQ(cuda::conv_autotune_timings() - timed0, kEligibleConvs);
  ASSERT_TRUE(write_plan_file(dir_ + "/m.engine", plan.value()).ok());
  auto read = read_plan_file(dir_ + "/m.engine");
  ASSERT_TRUE(read.ok()) << read.status().message();
  int entries = 0;
  for (const auto& [key, choice] : plan->tuning) {
    if (!is_igemm_entry(key)) continue;
    ++entries;
    auto it = read->tuning.find(key);
    ASSERT_NE(it, read->tuning.end()) << key;
    EXPECT_EQ(it->second, choice) << key;
  }
  EXPECT_EQ(entries, kEligibleConvs);

  const int lowered1 = cuda::igemm_convs_lowered(), timed1 = cuda::conv_autotune_timings();
  const int tile3_1 = cuda::tile3_convs_lowered();
  auto engine = engine_from_plan(read.value());
  ASSERT_TRUE(engine.ok()) << engine.status().message();
  expect_matches_reference(engine.value(), bytes, 2, rng, "replayed plan", seed);
  EXPECT_EQ(cuda::conv_autotune_timings() - timed1, 0) << "the loaded plan measured again";
  EXPECT_EQ(cuda::igemm_convs_lowered() - lowered1, built_igemm)
      << "the loaded plan put another number of convs on the kernel";
  EXPECT_EQ(cuda::tile3_convs_lowered() - tile3_1, built_tile3)
      << "the loaded plan put another number of convs on tile3";
  int chose_igemm = 0, chose_tile3 = 0;
  for (const auto& [key, choice] : read->tuning) {
    // igemm_convs_lowered counts the persistent kernel's convs too.
    chose_igemm += is_igemm_entry(key) && (choice.algorithm == 1 || choice.algorithm == 2);
    chose_tile3 += is_igemm_entry(key) && choice.algorithm == 3;
  }
  EXPECT_EQ(built_igemm, chose_igemm) << "convs on the kernel vs entries choosing it";
  EXPECT_EQ(built_tile3, chose_tile3) << "convs on tile3 vs entries choosing it";
}

// Every branch of a replayed choice, whatever this device measured: every entry forced to igemm
// 64x16 (every conv on it); the 1x1 entries forced to the persistent kernel (3 convs on it, the
// rest igemm); the tile3 candidates forced to tile3 128x32 (the rest igemm), once as algorithm 3
// and once as 2 (the tile3 branch's plans before the persistent kernel); every entry forced to
// cuDNN (none on any kernel).
TEST_F(CudaIgemmAutotune, ForcedChoicesReplayAndMatch) {
  ScopedEnv mode("FUNGEN_CUDA_IGEMM", "auto");
  ScopedEnv mode3("FUNGEN_CUDA_TILE3", "auto");
  const uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  const std::string bytes = write_model(rng, 17, 23);
  auto plan = build_plan(dir_ + "/m.onnx", {.backend = "cuda", .batches = {1}});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  enum Forced { kCudnn, kIgemm, kPersist, kTile3, kTile3Before };
  for (Forced f : {kIgemm, kPersist, kTile3, kTile3Before, kCudnn}) {
    PlanFile forced = plan.value();
    for (auto& [key, choice] : forced.tuning) {
      if (!is_igemm_entry(key)) continue;
      const bool one = key.find(" k=1,1 ") != std::string::npos;
      if ((f == kTile3 || f == kTile3Before) && is_tile3_candidate(key)) {
        choice = {.algorithm = f == kTile3 ? 3 : 2, .math_type = 128, .workspace = 32};
      } else if (f == kPersist && one) {
        choice = {.algorithm = 2, .math_type = 64, .workspace = 16};
      } else {
        choice = {.algorithm = f == kCudnn ? 0 : 1, .math_type = 64, .workspace = 16};
      }
    }
    const int lowered = cuda::igemm_convs_lowered(), timed = cuda::conv_autotune_timings();
    const int lowered3 = cuda::tile3_convs_lowered();
    const int persisted = cuda::igemm_1x1_persist_convs_lowered();
    auto engine = engine_from_plan(forced);
    ASSERT_TRUE(engine.ok()) << engine.status().message();
    const char* label = f == kIgemm         ? "forced igemm 64x16"
                        : f == kPersist     ? "forced persistent 1x1 64x16"
                        : f == kTile3       ? "forced tile3"
                        : f == kTile3Before ? "forced tile3 (algorithm 2, before persistent)"
                                            : "forced cudnn";
    expect_matches_reference(engine.value(), bytes, 1, rng, label, seed);
    EXPECT_EQ(cuda::conv_autotune_timings() - timed, 0) << label;
    if (f == kIgemm || f == kPersist) {
      EXPECT_GE(cuda::igemm_convs_lowered() - lowered, kEligibleConvs);
    } else if (f == kTile3 || f == kTile3Before) {
      EXPECT_GE(cuda::tile3_convs_lowered() - lowered3, kTile3Convs) << label;
      EXPECT_GE(cuda::igemm_convs_lowered() - lowered, kEligibleConvs - kTile3Convs);
    } else {
      EXPECT_EQ(cuda::igemm_convs_lowered() - lowered, 0);
      EXPECT_EQ(cuda::tile3_convs_lowered() - lowered3, 0);
    }
    EXPECT_EQ(cuda::igemm_1x1_persist_convs_lowered() - persisted, f == kPersist ? 3 : 0) << label;
  }
}

}  // namespace
}  // namespace fungen::test

#endif  // FUNGEN_HAVE_CUDA
