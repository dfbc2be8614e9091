// The stem band kernel (conv_stem.cuh: 3 -> 16/32, 3x3 stride 2 pads 1, W a multiple of 8)
// against the reference backend on fresh random inputs and weights, fp32 and fp16, batches 1
// and 3 prepared in one engine, three runs each (eager, graph capture, replay):
//  - image sizes 384x640 (YOLO's rectangle), 33x40 (odd height), 64x72, and 321x333 (odd width:
//    the first stem kernel after the input cast), C_out 16 with bias + SiLU and 32 without;
//  - in fp16 runs the band kernel reads the fp32 input staging (the input cast skipped) under
//    Engine::run, and the fp16 input the caller wrote under DeviceRun::enqueue (both paths
//    interleaved in one engine);
//  - the model input also read by another conv: the cast must stay;
//  - FUNGEN_CUDA_STEM=old: the first kernel, as before.
// Compiled only with -DFUNGEN_CUDA=ON; skipped when no GPU is present.
#ifdef FUNGEN_HAVE_CUDA

#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstring>

#include <iterator>
#include <string>
#include <vector>

#include "backends/cuda/conv_stem.cuh"
#include "backends/cuda/cuda_run.h"
#include "cuda_enqueue_util.h"
#include "cuda_test_util.h"
#include "fungen/engine.h"
#include "model_builder.h"
#include "op_test_util.h"
#include "runtime/backend.h"
#include "runtime/device_run.h"

namespace fungen::test {
namespace {

struct Case {
  const char* name;
  int64_t h, w, cout;
  bool silu;         // bias + SiLU (YOLO), else neither
  bool input_twice;  // the input also read by a 1x1 conv: its cast stays
  bool band;         // the band kernel takes it
};

const Case kCases[] = {
    {"yolo_384x640", 384, 640, 16, true, false, true},
    {"odd_h_33x40_c32", 33, 40, 32, false, false, true},
    {"64x72_c32_silu", 64, 72, 32, true, false, true},
    {"odd_w_321x333", 321, 333, 16, true, false, false},
    {"input_read_twice", 40, 48, 16, true, true, true},
};

// x [N,3,h,w] -> stem s -> 1x1 conv t; outputs s (NHWC -> plain) and t (and u when the input is
// also read by a 1x1 conv).
std::string stem_model(std::mt19937& rng, const Case& c) {
  ModelBuilder b(17);
  b.input("x", DType::kFloat32, {"N", 3, c.h, c.w});
  if (c.silu) {
    conv_silu(b, rng, "x", "s", 3, c.cout, 3, 2, 1);
  } else {
    b.initializer("s_w", random_tensor({c.cout, 3, 3, 3}, rng, -0.5f, 0.5f));
    b.node("Conv", {"x", "s_w"}, {"s"}, conv_attrs(3, 2));
  }
  conv_silu(b, rng, "s", "t", c.cout, 8, 1, 1, 1);
  b.output("s");
  b.output("t");
  if (c.input_twice) {
    b.initializer("u_w", random_tensor({16, 3, 1, 1}, rng, -0.5f, 0.5f));
    b.node("Conv", {"x", "u_w"}, {"u"}, conv_attrs(1, 1));
    b.output("u");
  }
  return b.build();
}

class CudaStemTest : public ::testing::TestWithParam<std::tuple<int, const char*>> {
 protected:
  void SetUp() override {
    if (cuda_device_count() == 0)
      GTEST_SKIP() << "no CUDA device: the cuda backend tests need a GPU";
  }
};

void check_case(const Case& c, const std::string& precision, bool old, std::mt19937& rng,
                uint32_t seed) {
  const std::string bytes = stem_model(rng, c);
  std::span<const uint8_t> span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  auto ref = Engine::load_from_memory(span, {.backend = "reference"});
  auto gpu = Engine::load_from_memory(span, {.backend = "cuda", .precision = precision});
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  ASSERT_TRUE(gpu.ok()) << gpu.status().message();
  const double tol = precision == "fp16" ? 1e-2 : 1e-4;
  const bool band = c.band && !old;
  const bool fused = band && precision == "fp16" && !c.input_twice;
  for (int64_t batch : {1, 3}) {
    const std::string at = std::string(c.name) + " " + precision + (old ? " old" : "") + " batch " +
                           std::to_string(batch) + " seed " + std::to_string(seed);
    const int bands = cuda::stem_band_convs_lowered(), skipped = cuda::input_casts_skipped();
    for (int rep = 0; rep < 3; ++rep) {  // eager, capture, replay
      Tensor input = random_tensor({batch, 3, c.h, c.w}, rng, -2.0f, 2.0f);
      std::vector<Tensor> want, got;
      ASSERT_TRUE(ref->run({&input, 1}, want).ok());
      Status s = gpu->run({&input, 1}, got);
      ASSERT_TRUE(s.ok()) << s.message();
      ASSERT_EQ(got.size(), want.size());
      for (size_t o = 0; o < want.size(); ++o)
        EXPECT_LE(rel_l2(got[o], want[o]), tol) << at << " output " << o << " run " << rep;
    }
    EXPECT_EQ(cuda::stem_band_convs_lowered() - bands, band ? 1 : 0) << at;
    EXPECT_EQ(cuda::input_casts_skipped() - skipped, fused ? 1 : 0) << at;
    // The same plan under DeviceRun::enqueue (the fp16 input written by the caller), then run()
    // again: the step picks its input per path.
    const Shape shape = {batch, 3, c.h, c.w};
    auto dr = device_run_of(*gpu, {&shape, 1});
    ASSERT_TRUE(dr.ok()) << dr.status().message();
    ASSERT_NE(dr.value(), nullptr) << at;
    for (int rep = 0; rep < 3; ++rep) {
      Tensor input = random_tensor(shape, rng, -2.0f, 2.0f);
      std::vector<__half> bits;
      const Tensor fed = precision == "fp16" ? round_to_half(input, bits) : input;
      std::vector<Tensor> want, got;
      ASSERT_TRUE(ref->run({rep == 1 ? &input : &fed, 1}, want).ok());
      if (rep == 1) {
        Status s = gpu->run({&input, 1}, got);
        ASSERT_TRUE(s.ok()) << s.message();
      } else {
        got = enqueue_once(*dr.value(), fed, want.size());
      }
      ASSERT_EQ(got.size(), want.size());
      for (size_t o = 0; o < want.size(); ++o) {
        EXPECT_LE(rel_l2(got[o], want[o]), tol)
            << at << (rep == 1 ? " run()" : " enqueue") << " output " << o << " pass " << rep;
      }
    }
    // The two paths agree bit for bit: run() reading the fp32 staging rounds it as the cast
    // does, and enqueue() gets that rounding from its caller (the detector pipeline's letterbox).
    Tensor input = random_tensor(shape, rng, -2.0f, 2.0f);
    std::vector<__half> bits;
    const Tensor fed = precision == "fp16" ? round_to_half(input, bits) : input;
    std::vector<Tensor> by_run;
    ASSERT_TRUE(gpu->run({&input, 1}, by_run).ok());
    const std::vector<Tensor> by_enqueue = enqueue_once(*dr.value(), fed, by_run.size());
    for (size_t o = 0; o < by_run.size(); ++o) {
      EXPECT_EQ(std::memcmp(by_run[o].raw(), by_enqueue[o].raw(), by_run[o].nbytes()), 0)
          << at << " output " << o << ": run() and enqueue() differ";
    }
  }
}

TEST_P(CudaStemTest, MatchesReference) {
  const Case& c = kCases[std::get<0>(GetParam())];
  const std::string precision = std::get<1>(GetParam());
  const uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  check_case(c, precision, false, rng, seed);
}

// FUNGEN_CUDA_STEM=old: the first stem kernel after the input cast, still right.
TEST_P(CudaStemTest, OldKernelMatchesReference) {
  const Case& c = kCases[std::get<0>(GetParam())];
  const std::string precision = std::get<1>(GetParam());
  const uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  ScopedEnv env("FUNGEN_CUDA_STEM", "old");
  check_case(c, precision, true, rng, seed);
}

INSTANTIATE_TEST_SUITE_P(Stem, CudaStemTest,
                         ::testing::Combine(::testing::Range(0,
                                                             static_cast<int>(std::size(kCases))),
                                            ::testing::Values("fp32", "fp16")),
                         [](const ::testing::TestParamInfo<std::tuple<int, const char*>>& info) {
                           return std::string(kCases[std::get<0>(info.param)].name) + "_" +
                                  std::get<1>(info.param);
                         });

}  // namespace
}  // namespace fungen::test

#endif  // FUNGEN_HAVE_CUDA
