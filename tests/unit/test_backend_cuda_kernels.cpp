// The cuda backend's own kernels against the reference backend, one small model per kernel
// family, odd sizes on purpose (vector and scalar paths both), fresh random inputs and weights
// each run, fp32 (tight) and fp16 (loose), three runs each (eager, graph capture, replay):
//  - depthwise conv (3x3 s1, 5x5 s2; C 24 -> 16-byte path, C 5 -> scalar) with bias, SiLU, residual
//  - small-C_in conv (the 3-channel first layer) reading the plain input: the stem kernel
//    (3x3, 16 or 32 channels, weights in the kernel parameters) and the generic one
//  - convolutions writing straight into their Concat slice (row length 45: scalar epilogue),
//    a Split(conv) -> Concat pair (C2f) and an upsampled map (Resize) written in place
//  - Transpose / layout changes of odd sizes (tiled transpose, row gather, generic walk), and
//    YOLO's DFL chain (Transpose writing NHWC for its conv, Transpose reading a conv's NHWC), and
//    a head conv read by a Reshape (epilogue writing NCHW)
//  - Softmax on the last axis (long rows, rows of 16) and on an inner axis; Sigmoid
//  - pointwise convs (odd C_in / C_out, residual, bias-less); every case runs twice, the second
//    time with FUNGEN_CUDA_GEMM1X1=1 (1x1 convs as cuBLAS GEMMs instead of cuDNN)
//  (several batch sizes in one engine, on a poisoned arena: test_backend_cuda_batches.cpp)
// Compiled only with -DFUNGEN_CUDA=ON; skipped when no GPU is present.
#ifdef FUNGEN_HAVE_CUDA

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <string>

#include "cuda_test_util.h"
#include "fungen/engine.h"
#include "model_builder.h"
#include "op_test_util.h"
#include "runtime/backend.h"

namespace fungen::test {
namespace {

std::string depthwise_model(std::mt19937& rng, int64_t c) {
  ModelBuilder b(17);
  b.input("x", DType::kFloat32, {2, c, 9, 11});
  conv_silu(b, rng, "x", "d1", c, c, 3, 1, c);
  b.node("Add", {"d1", "x"}, {"r1"});  // residual: fused as the convolution's z input
  conv_silu(b, rng, "r1", "d2", c, c, 5, 2, c);
  b.initializer("d3_w", random_tensor({c, 1, 3, 3}, rng, -0.5f, 0.5f));
  b.node("Conv", {"d2", "d3_w"}, {"d3"}, conv_attrs(3, 1, c));  // no bias, no activation
  b.output("r1");
  b.output("d3");
  return b.build();
}

std::string small_cin_model(std::mt19937& rng) {
  ModelBuilder b(17);
  b.input("x", DType::kFloat32, {2, 3, 17, 19});
  conv_silu(b, rng, "x", "c1", 3, 16, 3, 2, 1);
  b.initializer("c2_w", random_tensor({32, 3, 1, 1}, rng, -0.5f, 0.5f));
  b.node("Conv", {"x", "c2_w"}, {"c2"}, conv_attrs(1, 1));
  // The stem kernel's other cases: 32 channels (two chunks), stride 1, no bias, no SiLU; and 48
  // channels (too many for it: the generic small-C_in kernel).
  b.initializer("c3_w", random_tensor({32, 3, 3, 3}, rng, -0.5f, 0.5f));
  b.node("Conv", {"x", "c3_w"}, {"c3"}, conv_attrs(3, 1));
  conv_silu(b, rng, "x", "c4", 3, 48, 3, 2, 1);
  b.output("c1");
  b.output("c2");
  b.output("c3");
  b.output("c4");
  return b.build();
}

std::string concat_model(std::mt19937& rng) {
  ModelBuilder b(17);
  b.input("x", DType::kFloat32, {2, 3, 16, 14});
  conv_silu(b, rng, "x", "a", 3, 16, 3, 1, 1);     // read by b, c, d and the concat: copied
  conv_silu(b, rng, "a", "pb", 16, 8, 1, 1, 1);    // cuDNN, into the slice at 0
  conv_silu(b, rng, "a", "pc", 16, 16, 3, 1, 16);  // depthwise, into the slice at 8
  b.initializer("pd_w", random_tensor({5, 16, 3, 3}, rng, -0.5f, 0.5f));
  b.node("Conv", {"a", "pd_w"}, {"pd"}, conv_attrs(3, 1));  // cuDNN, no epilogue, at 40
  b.node("Concat", {"pb", "pc", "a", "pd"}, {"cat"}, {{"axis", attr_int(1)}});
  conv_silu(b, rng, "cat", "out", 45, 8, 1, 1, 1);
  b.output("cat");
  b.output("out");
  return b.build();
}

// C2f / C3k2: Split(conv) feeding the Concat in order; the conv writes both halves into place,
// the Split copies only the half the bottleneck also reads.
std::string split_concat_model(std::mt19937& rng) {
  ModelBuilder b(17);
  b.input("x", DType::kFloat32, {2, 8, 12, 10});
  conv_silu(b, rng, "x", "cv1", 8, 16, 1, 1, 1);
  b.initializer("split", int64_tensor({2}, {8, 8}));
  b.node("Split", {"cv1", "split"}, {"p", "q"}, {{"axis", attr_int(1)}});
  conv_silu(b, rng, "q", "m1", 8, 8, 3, 1, 1);
  conv_silu(b, rng, "m1", "m2", 8, 8, 3, 1, 1);
  b.node("Add", {"q", "m2"}, {"m"});  // residual
  b.node("Concat", {"p", "q", "m"}, {"cat"}, {{"axis", attr_int(1)}});
  conv_silu(b, rng, "cat", "out", 24, 16, 1, 1, 1);
  b.output("out");
  return b.build();
}

// A Split half read by two Concats: the first takes the Split's outputs in place, the second
// must still copy the half (it was skipped there once, leaving its slice unwritten).
std::string split_two_concats_model(std::mt19937& rng) {
  ModelBuilder b(17);
  b.input("x", DType::kFloat32, {2, 8, 12, 10});
  conv_silu(b, rng, "x", "cv1", 8, 16, 1, 1, 1);
  b.initializer("split", int64_tensor({2}, {8, 8}));
  b.node("Split", {"cv1", "split"}, {"p", "q"}, {{"axis", attr_int(1)}});
  conv_silu(b, rng, "q", "m", 8, 8, 3, 1, 1);
  b.node("Concat", {"p", "q", "m"}, {"cat"}, {{"axis", attr_int(1)}});
  conv_silu(b, rng, "cat", "c2", 24, 8, 1, 1, 1);
  b.node("Concat", {"c2", "q"}, {"cat2"}, {{"axis", attr_int(1)}});
  conv_silu(b, rng, "cat2", "out", 16, 8, 1, 1, 1);
  b.output("out");
  return b.build();
}

// Upsampled map written by the Resize straight into its Concat slice (row length 16 + c).
std::string resize_concat_model(std::mt19937& rng, int64_t c) {
  ModelBuilder b(17);
  b.input("x", DType::kFloat32, {2, c, 10, 14});
  conv_silu(b, rng, "x", "c1", c, 16, 3, 2, 1);
  b.initializer("scales", [] {
    Tensor t(DType::kFloat32, {4});
    float v[4] = {1, 1, 2, 2};
    std::copy(v, v + 4, t.data<float>());
    return t;
  }());
  b.node("Resize", {"c1", "", "scales"}, {"up"},
         {{"mode", attr_string("nearest")},
          {"coordinate_transformation_mode", attr_string("asymmetric")},
          {"nearest_mode", attr_string("floor")}});
  b.node("Concat", {"up", "x"}, {"cat"}, {{"axis", attr_int(1)}});
  conv_silu(b, rng, "cat", "out", 16 + c, 8, 1, 1, 1);
  b.output("out");
  return b.build();
}

// YOLO's DFL as exported: Reshape -> Transpose -> Softmax (rows of 16) -> Transpose -> 1x1 Conv
// (the second Transpose writes NHWC for the conv); plus a conv output (NHWC) read by a Transpose.
std::string dfl_model(std::mt19937& rng) {
  ModelBuilder b(17);
  b.input("x", DType::kFloat32, {2, 64, 40});
  b.input("i", DType::kFloat32, {2, 8, 5, 7});
  b.initializer("shape", int64_tensor({4}, {2, 4, 16, 40}));
  b.initializer("shape2", int64_tensor({3}, {2, 4, 40}));
  b.initializer("dw", random_tensor({1, 16, 1, 1}, rng));
  b.node("Reshape", {"x", "shape"}, {"r"});
  b.node("Transpose", {"r"}, {"t"}, {{"perm", attr_ints({0, 3, 1, 2})}});
  b.node("Softmax", {"t"}, {"s"}, {{"axis", attr_int(3)}});
  b.node("Transpose", {"s"}, {"t1"}, {{"perm", attr_ints({0, 3, 2, 1})}});
  b.node("Conv", {"t1", "dw"}, {"c"});
  b.node("Reshape", {"c", "shape2"}, {"box"});
  conv_silu(b, rng, "i", "ci", 8, 8, 3, 1, 1);
  b.node("Transpose", {"ci"}, {"ti"}, {{"perm", attr_ints({0, 2, 3, 1})}});
  // A head conv read only by a Reshape: its epilogue writes NCHW (12 channels x 35 pixels).
  b.initializer("hw", random_tensor({12, 8, 1, 1}, rng, -0.5f, 0.5f));
  b.initializer("hb", random_tensor({12}, rng));
  b.initializer("shape3", int64_tensor({3}, {2, 12, 35}));
  b.node("Conv", {"i", "hw", "hb"}, {"hc"});
  b.node("Reshape", {"hc", "shape3"}, {"hr"});
  b.output("box");
  b.output("ti");
  b.output("hr");
  return b.build();
}

std::string transpose_model() {
  ModelBuilder b(17);
  b.input("x", DType::kFloat32, {2, 3, 5, 7});
  b.input("y", DType::kFloat32, {2, 4, 6, 40});
  b.node("Transpose", {"x"}, {"t1"}, {{"perm", attr_ints({0, 2, 3, 1})}});
  b.node("Transpose", {"x"}, {"t2"}, {{"perm", attr_ints({3, 1, 0, 2})}});
  b.node("Transpose", {"y"}, {"t3"}, {{"perm", attr_ints({0, 1, 3, 2})}});
  b.node("Transpose", {"y"}, {"t4"}, {{"perm", attr_ints({0, 2, 1, 3})}});
  b.node("Transpose", {"y"}, {"t5"}, {{"perm", attr_ints({2, 0, 3, 1})}});
  for (const char* o : {"t1", "t2", "t3", "t4", "t5"}) b.output(o);
  return b.build();
}

std::string softmax_model() {
  ModelBuilder b(17);
  b.input("x", DType::kFloat32, {3, 2, 37, 403});
  b.input("y", DType::kFloat32, {2, 16, 4, 37});
  b.node("Softmax", {"x"}, {"s1"}, {{"axis", attr_int(-1)}});
  b.input("z", DType::kFloat32, {2, 5, 16});
  b.node("Softmax", {"y"}, {"s2"}, {{"axis", attr_int(1)}});
  b.node("Softmax", {"z"}, {"s3"}, {{"axis", attr_int(-1)}});  // rows of 16: vector path
  b.node("Sigmoid", {"z"}, {"g1"});                            // 16-byte vectors
  b.node("Sigmoid", {"x"}, {"g2"});                            // 89466 elements: scalar
  for (const char* o : {"s1", "s2", "s3", "g1", "g2"}) b.output(o);
  return b.build();
}

// Pointwise (1x1) convs: odd channel counts (13 -> 7: no 8-element rows), a residual 1x1 conv
// (FusedConv with z), one without bias or activation, one read by a Reshape (NCHW out).
std::string pointwise_model(std::mt19937& rng) {
  ModelBuilder b(17);
  b.input("x", DType::kFloat32, {2, 13, 9, 11});
  conv_silu(b, rng, "x", "p1", 13, 7, 1, 1, 1);
  conv_silu(b, rng, "p1", "p2", 7, 24, 1, 1, 1);
  conv_silu(b, rng, "p2", "p3", 24, 24, 1, 1, 1);
  b.node("Add", {"p3", "p2"}, {"r"});  // residual: the conv's z input
  b.initializer("p4_w", random_tensor({16, 24, 1, 1}, rng, -0.5f, 0.5f));
  b.node("Conv", {"r", "p4_w"}, {"p4"}, conv_attrs(1, 1));
  b.initializer("p5_w", random_tensor({5, 16, 1, 1}, rng, -0.5f, 0.5f));
  b.initializer("p5_b", random_tensor({5}, rng));
  b.initializer("shape", int64_tensor({3}, {2, 5, 99}));
  b.node("Conv", {"p4", "p5_w", "p5_b"}, {"p5"}, conv_attrs(1, 1));
  b.node("Reshape", {"p5", "shape"}, {"head"});
  b.output("p1");
  b.output("r");
  b.output("head");
  return b.build();
}

struct Case {
  const char* name;
  std::function<std::string(std::mt19937&)> model;
};

const Case kCases[] = {
    {"depthwise24", [](std::mt19937& rng) { return depthwise_model(rng, 24); }},
    {"depthwise5", [](std::mt19937& rng) { return depthwise_model(rng, 5); }},
    {"small_cin", [](std::mt19937& rng) { return small_cin_model(rng); }},
    {"concat_in_place", [](std::mt19937& rng) { return concat_model(rng); }},
    {"split_concat", [](std::mt19937& rng) { return split_concat_model(rng); }},
    {"split_two_concats", [](std::mt19937& rng) { return split_two_concats_model(rng); }},
    {"resize_concat8", [](std::mt19937& rng) { return resize_concat_model(rng, 8); }},
    {"resize_concat5", [](std::mt19937& rng) { return resize_concat_model(rng, 5); }},
    {"transpose", [](std::mt19937&) { return transpose_model(); }},
    {"dfl", [](std::mt19937& rng) { return dfl_model(rng); }},
    {"softmax_sigmoid", [](std::mt19937&) { return softmax_model(); }},
    {"pointwise", [](std::mt19937& rng) { return pointwise_model(rng); }},
};

class CudaKernelTest : public ::testing::TestWithParam<std::tuple<int, const char*, bool>> {
 protected:
  void SetUp() override {
    if (cuda_device_count() == 0)
      GTEST_SKIP() << "no CUDA device: the cuda backend tests need a GPU";
  }
};

TEST_P(CudaKernelTest, MatchesReference) {
  const Case& c = kCases[std::get<0>(GetParam())];
  const std::string precision = std::get<1>(GetParam());
  ScopedEnv gemm("FUNGEN_CUDA_GEMM1X1", std::get<2>(GetParam()) ? "1" : nullptr);
  const uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  expect_cuda_matches_reference(c.model(rng), precision, rng, 3, c.name, seed, true);
}

INSTANTIATE_TEST_SUITE_P(
    Kernels, CudaKernelTest,
    ::testing::Combine(::testing::Range(0, static_cast<int>(std::size(kCases))),
                       ::testing::Values("fp32", "fp16"), ::testing::Bool()),
    [](const ::testing::TestParamInfo<std::tuple<int, const char*, bool>>& info) {
      return std::string(kCases[std::get<0>(info.param)].name) + "_" + std::get<1>(info.param) +
             (std::get<2>(info.param) ? "_gemm1x1" : "");
    });

}  // namespace
}  // namespace fungen::test

#endif  // FUNGEN_HAVE_CUDA
