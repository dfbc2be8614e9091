// YOLO's DFL head as one kernel on the cuda backend (lower_dfl.cpp): both export forms (opset 13+:
// Transpose(0,2,1,3) -> Softmax(axis 1) -> Conv; opset 12: Transpose(0,3,1,2) -> Softmax(last) ->
// Transpose(0,3,2,1) -> Conv), with and without a conv bias, batch 1 and 3, odd anchor counts,
// against the reference backend on fresh random inputs (three runs: eager, capture, replay), and
// the cases that must NOT fuse (an intermediate read elsewhere, an activation on the conv, a
// Softmax over several axes) still right. Each case checks how many heads were fused.
// Compiled only with -DFUNGEN_CUDA=ON; skipped when no GPU is present.
#ifdef FUNGEN_HAVE_CUDA

#include <gtest/gtest.h>

#include <iterator>
#include <string>

#include "backends/cuda/cuda_run.h"
#include "cuda_test_util.h"
#include "model_builder.h"
#include "op_test_util.h"
#include "runtime/backend.h"

namespace fungen::test {
namespace {

enum class Form { kOpset13, kOpset12 };
enum class Twist { kNone, kSoftmaxAlsoOutput, kConvSilu };

struct Case {
  const char* name;
  Form form;
  int64_t batch, anchors;
  bool bias;
  Twist twist;
  int fused;  // heads the lowering must fuse
};

std::string dfl_model(std::mt19937& rng, const Case& c) {
  const int opset = c.form == Form::kOpset13 ? 17 : 12;
  ModelBuilder b(opset);
  b.input("x", DType::kFloat32, {c.batch, 64, c.anchors});
  b.initializer("shape", int64_tensor({4}, {c.batch, 4, 16, c.anchors}));
  b.initializer("shape2", int64_tensor({3}, {c.batch, 4, c.anchors}));
  // YOLO's weights are the bin indices 0..15; random ones check the kernel uses the real weights.
  b.initializer("dw", random_tensor({1, 16, 1, 1}, rng, 0.0f, 15.0f));
  b.node("Reshape", {"x", "shape"}, {"r"});
  std::string feed;
  if (c.form == Form::kOpset13) {
    b.node("Transpose", {"r"}, {"t"}, {{"perm", attr_ints({0, 2, 1, 3})}});
    b.node("Softmax", {"t"}, {"s"}, {{"axis", attr_int(1)}});
    feed = "s";
  } else {
    b.node("Transpose", {"r"}, {"t"}, {{"perm", attr_ints({0, 3, 1, 2})}});
    b.node("Softmax", {"t"}, {"s"}, {{"axis", attr_int(3)}});
    b.node("Transpose", {"s"}, {"t1"}, {{"perm", attr_ints({0, 3, 2, 1})}});
    feed = "t1";
  }
  std::vector<std::string> conv_in = {feed, "dw"};
  if (c.bias) {
    b.initializer("db", random_tensor({1}, rng));
    conv_in.push_back("db");
  }
  b.node("Conv", conv_in, {"c"});
  std::string head = "c";
  if (c.twist == Twist::kConvSilu) {  // the fused pass makes this a FusedConv with SiLU
    b.node("Sigmoid", {"c"}, {"cs"});
    b.node("Mul", {"c", "cs"}, {"cm"});
    head = "cm";
  }
  b.node("Reshape", {head, "shape2"}, {"box"});
  b.output("box");
  if (c.twist == Twist::kSoftmaxAlsoOutput) b.output("s");
  return b.build();
}

const Case kCases[] = {
    {"opset13_b1", Form::kOpset13, 1, 8400, false, Twist::kNone, 1},
    {"opset13_b3_bias", Form::kOpset13, 3, 701, true, Twist::kNone, 1},
    {"opset12_b1", Form::kOpset12, 1, 8400, false, Twist::kNone, 1},
    {"opset12_b3_bias", Form::kOpset12, 3, 333, true, Twist::kNone, 1},
    {"softmax_also_output", Form::kOpset13, 2, 97, false, Twist::kSoftmaxAlsoOutput, 0},
    {"conv_with_silu", Form::kOpset13, 2, 97, true, Twist::kConvSilu, 0},
};

class CudaDflTest : public ::testing::TestWithParam<std::tuple<int, const char*>> {
 protected:
  void SetUp() override {
    if (cuda_device_count() == 0)
      GTEST_SKIP() << "no CUDA device: the cuda backend tests need a GPU";
  }
};

TEST_P(CudaDflTest, MatchesReference) {
  const Case& c = kCases[std::get<0>(GetParam())];
  const std::string precision = std::get<1>(GetParam());
  const uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  const std::string bytes = dfl_model(rng, c);
  const int before = cuda::dfl_fusions_lowered();
  expect_cuda_matches_reference(bytes, precision, rng, 3, c.name, seed, true);
  EXPECT_EQ(cuda::dfl_fusions_lowered() - before, c.fused) << c.name;
}

INSTANTIATE_TEST_SUITE_P(Dfl, CudaDflTest,
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
