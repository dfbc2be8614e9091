// The depthwise row-run kernel (conv_depthwise.cuh) against the reference backend on fresh
// random inputs and weights, fp32 and fp16, batches 1 and 3 prepared in one engine, three runs
// each (eager, graph capture, replay):
//  - 3x3 stride 1 (YOLO11's head) on 80x80 and 20x20 maps, C 8 to 128; widths that are not a
//    multiple of the run (13x21, 9x11, 10x37); 3x3 and 5x5 stride 2, 5x5 and 7x7 stride 1;
//  - bias + SiLU, or neither; the residual (Add fused as the conv's z); the output written into
//    its Concat slice (rows of 8 + C after a 1x1 conv's 8 channels);
//  - FUNGEN_CUDA_DW unset (the run length the lowering picks, or the first kernel on small
//    maps), forced to 8, 4 and 2 (the row-run kernel on every case: counted), and old (the first
//    kernel everywhere: counted as none).
// Compiled only with -DFUNGEN_CUDA=ON; skipped when no GPU is present.
#ifdef FUNGEN_HAVE_CUDA

#include <gtest/gtest.h>

#include <iterator>
#include <string>
#include <vector>

#include "backends/cuda/conv_depthwise.cuh"
#include "cuda_test_util.h"
#include "fungen/engine.h"
#include "model_builder.h"
#include "op_test_util.h"
#include "runtime/backend.h"

namespace fungen::test {
namespace {

struct Case {
  const char* name;
  int64_t c, h, w, k, stride;
  bool silu;      // bias + SiLU, else neither
  bool residual;  // + x (stride 1 only)
  bool concat;    // written into a Concat slice at channel 8
};

const Case kCases[] = {
    {"c8_80x80_res", 8, 80, 80, 3, 1, true, true, false},
    {"c64_20x20", 64, 20, 20, 3, 1, true, false, false},
    {"c80_80x80_concat", 80, 80, 80, 3, 1, true, false, true},
    {"c128_13x21_res_concat", 128, 13, 21, 3, 1, true, true, true},
    {"c40_10x37_plain", 40, 10, 37, 3, 1, false, false, false},
    {"c24_9x11_s2", 24, 9, 11, 3, 2, true, false, false},
    {"c16_17x19_k5s2", 16, 17, 19, 5, 2, true, false, true},
    {"c32_15x23_k5_res", 32, 15, 23, 5, 1, false, true, false},
    {"c16_12x13_k7", 16, 12, 13, 7, 1, true, false, true},
};

const char* const kModes[] = {"auto", "8", "4", "2", "old"};

// x [N,C,h,w] -> depthwise d (-> + x) ; with concat: Concat(1x1 conv of x to 8, d) -> 1x1 conv.
std::string depthwise_model(std::mt19937& rng, const Case& c) {
  ModelBuilder b(17);
  b.input("x", DType::kFloat32, {"N", c.c, c.h, c.w});
  if (c.silu) {
    conv_silu(b, rng, "x", "d", c.c, c.c, c.k, c.stride, c.c);
  } else {
    b.initializer("d_w", random_tensor({c.c, 1, c.k, c.k}, rng, -0.5f, 0.5f));
    b.node("Conv", {"x", "d_w"}, {"d"}, conv_attrs(c.k, c.stride, c.c));
  }
  std::string y = "d";
  if (c.residual) {
    b.node("Add", {"d", "x"}, {"r"});  // fused as the convolution's z input
    y = "r";
  }
  if (c.concat) {
    conv_silu(b, rng, "x", "p", c.c, 8, 1, c.stride, 1);  // same output size as d
    b.node("Concat", {"p", y}, {"cat"}, {{"axis", attr_int(1)}});
    conv_silu(b, rng, "cat", "out", 8 + c.c, 8, 1, 1, 1);
    b.output("cat");
    b.output("out");
  } else {
    b.output(y);
  }
  return b.build();
}

class CudaDepthwiseTest : public ::testing::TestWithParam<std::tuple<int, const char*, int>> {
 protected:
  void SetUp() override {
    if (cuda_device_count() == 0)
      GTEST_SKIP() << "no CUDA device: the cuda backend tests need a GPU";
  }
};

TEST_P(CudaDepthwiseTest, MatchesReference) {
  const Case& c = kCases[std::get<0>(GetParam())];
  const std::string precision = std::get<1>(GetParam());
  const std::string mode = kModes[std::get<2>(GetParam())];
  ScopedEnv env("FUNGEN_CUDA_DW", mode == "auto" ? nullptr : mode.c_str());
  const uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  const std::string bytes = depthwise_model(rng, c);
  std::span<const uint8_t> span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  const int rows = cuda::depthwise_rows_lowered();
  auto ref = Engine::load_from_memory(span, {.backend = "reference"});
  auto gpu = Engine::load_from_memory(span, {.backend = "cuda", .precision = precision});
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  ASSERT_TRUE(gpu.ok()) << gpu.status().message();
  const double tol = precision == "fp16" ? 1e-2 : 1e-4;
  for (int64_t batch : {1, 3}) {
    const std::string at = std::string(c.name) + " " + precision + " FUNGEN_CUDA_DW=" + mode +
                           " batch " + std::to_string(batch) + " seed " + std::to_string(seed);
    for (int rep = 0; rep < 3; ++rep) {  // eager, capture, replay
      Tensor input = random_tensor({batch, c.c, c.h, c.w}, rng, -2.0f, 2.0f);
      std::vector<Tensor> want, got;
      ASSERT_TRUE(ref->run({&input, 1}, want).ok());
      Status s = gpu->run({&input, 1}, got);
      ASSERT_TRUE(s.ok()) << s.message() << " " << at;
      ASSERT_EQ(got.size(), want.size());
      for (size_t o = 0; o < want.size(); ++o)
        EXPECT_LE(rel_l2(got[o], want[o]), tol) << at << " output " << o << " run " << rep;
    }
  }
  EXPECT_EQ(gpu->nodes_on("reference") + gpu->nodes_on("cpu"), 0u)
      << c.name << ": every node should run on the GPU";
  const int lowered = cuda::depthwise_rows_lowered() - rows;
  if (mode == "old") {
    EXPECT_EQ(lowered, 0) << c.name << " " << precision << ": FUNGEN_CUDA_DW=old";
  } else if (mode != "auto") {
    EXPECT_GT(lowered, 0) << c.name << " " << precision << ": FUNGEN_CUDA_DW=" << mode
                          << " should run the row-run kernel";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Depthwise, CudaDepthwiseTest,
    ::testing::Combine(::testing::Range(0, static_cast<int>(std::size(kCases))),
                       ::testing::Values("fp32", "fp16"),
                       ::testing::Range(0, static_cast<int>(std::size(kModes)))),
    [](const ::testing::TestParamInfo<std::tuple<int, const char*, int>>& info) {
      const std::string mode = kModes[std::get<2>(info.param)];
      return std::string(kCases[std::get<0>(info.param)].name) + "_" + std::get<1>(info.param) +
             "_" + (mode == "auto" || mode == "old" ? mode : "run" + mode);
    });

}  // namespace
}  // namespace fungen::test

#endif  // FUNGEN_HAVE_CUDA
