// Dual store (CudaRun::dual_placement): a value read by an NHWC Concat and by other nodes is
// written by its producer (the cuDNN conv's epilogue pass, the MaxPool kernel) into its own
// buffer and its concat slice in one pass, so the Concat copies nothing for it; the last MaxPool
// of an SPPF (read by the Concat only) writes straight into its slice. Against the reference
// backend on fresh random inputs, fp32 and fp16, batches 1 and 3 (three runs each: eager,
// capture, replay), with the pieces each Concat still copies counted, and the same models with
// FUNGEN_CUDA_DUAL=0 (the copies as before); each with FUNGEN_CUDA_IGEMM=0 (the convs on cuDNN
// and its epilogue pass), =1 (fp16: the igemm kernel's epilogue where it takes the conv) and
// tile3 (FUNGEN_CUDA_IGEMM=0 with FUNGEN_CUDA_TILE3=1, fp16: the 3x3 halo kernel's epilogue for
// the 3x3 convs, the rest on cuDNN).
// Also YOLO11n itself when its export is there (FUNGEN_TEST_YOLO11N, default
// /opt/models/yolo11n_640_dyn.onnx): fewer Concat copies, the outputs still the CPU backend's.
// Compiled only with -DFUNGEN_CUDA=ON; skipped when no GPU is present.
#ifdef FUNGEN_HAVE_CUDA

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <string>
#include <vector>

#include "backends/cuda/conv_igemm.cuh"
#include "backends/cuda/conv_tile3.cuh"
#include "backends/cuda/cuda_run.h"
#include "cuda_test_util.h"
#include "fungen/engine.h"
#include "model_builder.h"
#include "op_test_util.h"
#include "runtime/backend.h"

namespace fungen::test {
namespace {

AttrList pool_attrs() {
  return {{"kernel_shape", attr_ints({5, 5})},
          {"strides", attr_ints({1, 1})},
          {"pads", attr_ints({2, 2, 2, 2})}};
}

// YOLO's SPPF: cv1 -> three chained 5x5 max pools -> Concat[cv1, m1, m2, m3] -> cv2. cv1, m1
// and m2 are read by the next pool too (dual), m3 only by the Concat (into its slice).
std::string sppf_model(std::mt19937& rng, int64_t c) {
  ModelBuilder b(17);
  b.input("x", DType::kFloat32, {"N", 8, 12, 10});
  conv_silu(b, rng, "x", "y0", 8, c, 1, 1, 1);
  b.node("MaxPool", {"y0"}, {"m1"}, pool_attrs());
  b.node("MaxPool", {"m1"}, {"m2"}, pool_attrs());
  b.node("MaxPool", {"m2"}, {"m3"}, pool_attrs());
  b.node("Concat", {"y0", "m1", "m2", "m3"}, {"cat"}, {{"axis", attr_int(1)}});
  conv_silu(b, rng, "cat", "out", 4 * c, 8, 1, 1, 1);
  b.output("out");
  return b.build();
}

// YOLO's neck: a (read by the next conv and, upsampled later, by the Concat: dual) -> b (3x3
// s2) -> Resize x2 -> Concat[up, a] -> conv; a is also a graph output.
std::string neck_model(std::mt19937& rng, int64_t c) {
  ModelBuilder b(17);
  b.input("x", DType::kFloat32, {"N", 8, 12, 10});
  conv_silu(b, rng, "x", "a", 8, c, 3, 1, 1);
  conv_silu(b, rng, "a", "bb", c, 16, 3, 2, 1);
  b.initializer("scales", [] {
    Tensor t(DType::kFloat32, {4});
    const float v[4] = {1, 1, 2, 2};
    std::copy(v, v + 4, t.data<float>());
    return t;
  }());
  b.node("Resize", {"bb", "", "scales"}, {"up"},
         {{"mode", attr_string("nearest")},
          {"coordinate_transformation_mode", attr_string("asymmetric")},
          {"nearest_mode", attr_string("floor")}});
  b.node("Concat", {"up", "a"}, {"cat"}, {{"axis", attr_int(1)}});
  conv_silu(b, rng, "cat", "out", 16 + c, 8, 1, 1, 1);
  b.output("out");
  b.output("a");
  return b.build();
}

// a read by a conv and two Concats: the first gets the dual slice, the second copies it. The
// conv without bias or activation: its dual store is a plain copy pass.
std::string two_concats_model(std::mt19937& rng) {
  ModelBuilder b(17);
  b.input("x", DType::kFloat32, {"N", 8, 12, 10});
  b.initializer("a_w", random_tensor({16, 8, 3, 3}, rng, -0.3f, 0.3f));
  b.node("Conv", {"x", "a_w"}, {"a"}, conv_attrs(3, 1));
  conv_silu(b, rng, "a", "bb", 16, 16, 3, 1, 1);
  b.node("Concat", {"a", "bb"}, {"cat1"}, {{"axis", attr_int(1)}});
  conv_silu(b, rng, "cat1", "c", 32, 8, 1, 1, 1);
  b.node("Concat", {"c", "a"}, {"cat2"}, {{"axis", attr_int(1)}});
  conv_silu(b, rng, "cat2", "out", 24, 8, 1, 1, 1);
  b.output("out");
  return b.build();
}

struct Case {
  const char* name;
  int model;  // 0 sppf, 1 neck, 2 two concats
  int64_t c;  // channels of the dual value (12: not a multiple of 8, the scalar paths)
  int duals;  // per lowering, dual on
  int copies_on, copies_off;
};

const Case kCases[] = {
    {"sppf_c16", 0, 16, 3, 0, 4}, {"sppf_c12", 0, 12, 3, 0, 4},    {"neck_c16", 1, 16, 1, 0, 1},
    {"neck_c12", 1, 12, 1, 0, 1}, {"two_concats", 2, 16, 1, 1, 2},
};

std::string build(std::mt19937& rng, const Case& c) {
  if (c.model == 0) return sppf_model(rng, c.c);
  if (c.model == 1) return neck_model(rng, c.c);
  return two_concats_model(rng);
}

// case, precision, dual, igemm ("0", "1" or "tile3": IGEMM=0 with TILE3=1)
using DualParam = std::tuple<int, const char*, bool, const char*>;
class CudaDualTest : public ::testing::TestWithParam<DualParam> {
 protected:
  void SetUp() override {
    if (cuda_device_count() == 0)
      GTEST_SKIP() << "no CUDA device: the cuda backend tests need a GPU";
  }
};

TEST_P(CudaDualTest, MatchesReference) {
  const Case& c = kCases[std::get<0>(GetParam())];
  const std::string precision = std::get<1>(GetParam());
  const bool dual = std::get<2>(GetParam());
  const std::string igemm_mode = std::get<3>(GetParam());
  const uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  const bool tile3_mode = igemm_mode == "tile3";
  ScopedEnv igemm("FUNGEN_CUDA_IGEMM", tile3_mode ? "0" : igemm_mode.c_str());
  ScopedEnv tile3("FUNGEN_CUDA_TILE3", tile3_mode ? "1" : "0");
  const int igemm_before = cuda::igemm_convs_lowered(), tile3_before = cuda::tile3_convs_lowered();
  ScopedEnv off("FUNGEN_CUDA_DUAL", dual ? nullptr : "0");
  // The neck's Concat is read by a 1x1 conv: not materialized at all by default (upfuse).
  ScopedEnv upfuse("FUNGEN_CUDA_UPFUSE", "0");
  const std::string bytes = build(rng, c);
  std::span<const uint8_t> span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  auto ref = Engine::load_from_memory(span, {.backend = "reference"});
  auto gpu = Engine::load_from_memory(span, {.backend = "cuda", .precision = precision});
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  ASSERT_TRUE(gpu.ok()) << gpu.status().message();
  const double tol = precision == "fp16" ? 1e-2 : 1e-4;
  for (int64_t batch : {1, 3}) {
    const std::string at = std::string(c.name) + " " + precision + (dual ? "" : " dual off") +
                           " igemm " + igemm_mode + " batch " + std::to_string(batch) + " seed " +
                           std::to_string(seed);
    const int duals = cuda::dual_stores_lowered(), copies = cuda::concat_copies_lowered();
    for (int rep = 0; rep < 3; ++rep) {
      Tensor input = random_tensor({batch, 8, 12, 10}, rng, -2.0f, 2.0f);
      std::vector<Tensor> want, got;
      ASSERT_TRUE(ref->run({&input, 1}, want).ok());
      Status s = gpu->run({&input, 1}, got);
      ASSERT_TRUE(s.ok()) << s.message();
      ASSERT_EQ(got.size(), want.size());
      for (size_t o = 0; o < want.size(); ++o)
        EXPECT_LE(rel_l2(got[o], want[o]), tol) << at << " output " << o << " run " << rep;
    }
    EXPECT_EQ(cuda::dual_stores_lowered() - duals, dual ? c.duals : 0) << at;
    EXPECT_EQ(cuda::concat_copies_lowered() - copies, dual ? c.copies_on : c.copies_off) << at;
  }
  // The dual values' convs of C_out 16 are the igemm kernel's when it is forced (fp16); none is
  // with FUNGEN_CUDA_IGEMM=0.
  const int igemm_convs = cuda::igemm_convs_lowered() - igemm_before;
  const int tile3_convs = cuda::tile3_convs_lowered() - tile3_before;
  if (igemm_mode == "0" || tile3_mode) {
    EXPECT_EQ(igemm_convs, 0) << c.name << " " << precision;
  }
  if (!tile3_mode) {
    EXPECT_EQ(tile3_convs, 0) << c.name << " " << precision;
  }
  // The 3x3 dual values (neck's a, two_concats' a) are the halo kernel's under tile3 (fp16).
  if (tile3_mode && precision == "fp16" && c.model != 0 && c.c % 8 == 0) {
    EXPECT_GT(tile3_convs, 0) << c.name << " " << precision;
  }
  if (igemm_mode == "1" && precision == "fp16" && c.c % 8 == 0) {
    EXPECT_GT(igemm_convs, 0) << c.name << " " << precision;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Dual, CudaDualTest,
    ::testing::Combine(::testing::Range(0, static_cast<int>(std::size(kCases))),
                       ::testing::Values("fp32", "fp16"), ::testing::Bool(),
                       ::testing::Values("0", "1", "tile3")),
    [](const ::testing::TestParamInfo<DualParam>& info) {
      return std::string(kCases[std::get<0>(info.param)].name) + "_" + std::get<1>(info.param) +
             (std::get<2>(info.param) ? "_dual" : "_copies") + "_igemm" + std::get<3>(info.param);
    });

// YOLO11n (fp16, batch 2): with the dual store the Concats copy at least 8 pieces fewer (SPPF's
// four, the neck's /model.12, .15, .18, .21), and the outputs match the CPU backend's.
void yolo11n_case(const char* igemm, int fewer_at_least) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: the cuda backend tests need a GPU";
  const char* env = std::getenv("FUNGEN_TEST_YOLO11N");
  const std::string path = env ? env : "/opt/models/yolo11n_640_dyn.onnx";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not there";
  ScopedEnv mode("FUNGEN_CUDA_IGEMM", igemm);
  ScopedEnv upfuse("FUNGEN_CUDA_UPFUSE", "0");  // /model.12 and .15 would not be copied at all
  const uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  Tensor input = random_tensor({2, 3, 640, 640}, rng, 0.0f, 1.0f);
  auto cpu = Engine::load(path, {.backend = "cpu"});
  ASSERT_TRUE(cpu.ok()) << cpu.status().message();
  std::vector<Tensor> want;
  ASSERT_TRUE(cpu->run({&input, 1}, want).ok());
  int copies[2] = {0, 0};
  for (int on = 0; on < 2; ++on) {
    ScopedEnv off("FUNGEN_CUDA_DUAL", on ? nullptr : "0");
    auto gpu = Engine::load(path, {.backend = "cuda", .precision = "fp16"});
    ASSERT_TRUE(gpu.ok()) << gpu.status().message();
    const int before = cuda::concat_copies_lowered();
    for (int rep = 0; rep < 3; ++rep) {
      std::vector<Tensor> got;
      Status s = gpu->run({&input, 1}, got);
      ASSERT_TRUE(s.ok()) << s.message();
      ASSERT_EQ(got.size(), want.size());
      for (size_t o = 0; o < want.size(); ++o)
        EXPECT_LE(rel_l2(got[o], want[o]), 1e-2)
            << "dual " << on << " output " << o << " run " << rep << " seed " << seed;
    }
    copies[on] = cuda::concat_copies_lowered() - before;
  }
  std::printf(
      "yolo11n (FUNGEN_CUDA_IGEMM=%s): concat pieces copied %d with the dual store, %d "
      "without\n",
      igemm, copies[1], copies[0]);
  EXPECT_LE(copies[1], copies[0] - fewer_at_least);
}

TEST(CudaDualYolo, Yolo11nFewerConcatCopiesCudnn) {
  yolo11n_case("0", 8);
}

// The default: per conv the faster of cuDNN and igemm (the neck's /model.4, .6, .13 outputs come
// from igemm convs on the H100).
TEST(CudaDualYolo, Yolo11nFewerConcatCopiesAuto) {
  yolo11n_case("auto", 8);
}

}  // namespace
}  // namespace fungen::test

#endif  // FUNGEN_HAVE_CUDA
