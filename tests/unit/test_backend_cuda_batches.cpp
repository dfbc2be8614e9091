// The cuda backend with several batch sizes prepared in one engine (what plans and servers do;
// the per-case engines of test_backend_cuda_kernels.cpp see one batch each), each run against
// the reference backend at its own batch:
//  - batches 1, 2, 1, 2 of a model with the layout machinery YOLO uses (C2f split/concat in
//    place, 1x1 and 3x3 convs, a head conv read by a Reshape)
//  - YOLOv8's C2f with two bottlenecks at batches 1, 3, 2 in mixed order, fresh inputs each run,
//    the activation arena poisoned with NaN before every run (FUNGEN_CUDA_POISON=1)
// Compiled only with -DFUNGEN_CUDA=ON; skipped when no GPU is present.
#ifdef FUNGEN_HAVE_CUDA

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>

#include "cuda_test_util.h"
#include "fungen/engine.h"
#include "model_builder.h"
#include "op_test_util.h"
#include "runtime/backend.h"

namespace fungen::test {
namespace {

// One engine, batches 1, 2, 1, 2 of a dynamic-batch model with the layout machinery YOLO uses
// (C2f split/concat in place, 1x1 and 3x3 convs, a head conv read by a Reshape): each run
// against the reference at its own batch.
TEST(CudaSeveralBatches, OneEngineMatchesReference) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: the cuda backend tests need a GPU";
  const uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  ModelBuilder b(17);
  b.input("x", DType::kFloat32, {"N", 8, 12, 10});
  conv_silu(b, rng, "x", "cv1", 8, 16, 1, 1, 1);
  b.initializer("split", int64_tensor({2}, {8, 8}));
  b.node("Split", {"cv1", "split"}, {"p", "q"}, {{"axis", attr_int(1)}});
  conv_silu(b, rng, "q", "m1", 8, 8, 3, 1, 1);
  b.node("Add", {"q", "m1"}, {"m"});
  b.node("Concat", {"p", "q", "m"}, {"cat"}, {{"axis", attr_int(1)}});
  conv_silu(b, rng, "cat", "out", 24, 16, 3, 2, 1);
  b.initializer("hw", random_tensor({12, 16, 1, 1}, rng, -0.5f, 0.5f));
  b.initializer("shape", int64_tensor({3}, {-1, 12, 30}));
  b.node("Conv", {"out", "hw"}, {"hc"});
  b.node("Reshape", {"hc", "shape"}, {"head"});
  b.output("out");
  b.output("head");
  const std::string bytes = b.build();
  std::span<const uint8_t> span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  for (const char* precision : {"fp32", "fp16"}) {
    auto ref = Engine::load_from_memory(span, {.backend = "reference"});
    auto gpu = Engine::load_from_memory(span, {.backend = "cuda", .precision = precision});
    ASSERT_TRUE(ref.ok()) << ref.status().message();
    ASSERT_TRUE(gpu.ok()) << gpu.status().message();
    std::vector<Tensor> inputs = {random_tensor({1, 8, 12, 10}, rng, -2.0f, 2.0f),
                                  random_tensor({2, 8, 12, 10}, rng, -2.0f, 2.0f)};
    const double tol = precision == std::string("fp16") ? 1e-2 : 1e-4;
    for (int i : {0, 1, 0, 1, 0}) {
      std::vector<Tensor> want, got;
      ASSERT_TRUE(ref->run({&inputs[static_cast<size_t>(i)], 1}, want).ok());
      Status s = gpu->run({&inputs[static_cast<size_t>(i)], 1}, got);
      ASSERT_TRUE(s.ok()) << s.message();
      ASSERT_EQ(got.size(), want.size());
      for (size_t o = 0; o < want.size(); ++o) {
        EXPECT_LE(rel_l2(got[o], want[o]), tol)
            << precision << " batch " << i + 1 << " output " << o << " seed " << seed;
      }
    }
  }
}

// YOLOv8's C2f with two bottlenecks (n = 2): Split(cv1) -> m0 (two convs + residual from the
// split half) -> m1 (two convs + residual from m0) -> Concat[p, q, m0, m1] -> cv2, then an
// upsampled copy concatenated with cv1 and a head conv read by a Reshape. m0 is read by the
// concat, m1's first conv and m1's residual; m1 is written into its concat slice with m0 as the
// residual. Batches 1, 3 and 2 prepared in one engine and run in mixed order, fresh inputs each
// run, with the activation arena poisoned with NaN before every run (FUNGEN_CUDA_POISON=1): any
// read of bytes this run did not write (a buffer placed over a live one, a slice nobody wrote,
// a residual read at the wrong offset) makes the output NaN or wrong.
TEST(CudaSeveralBatches, C2fTwoBottlenecksPoisonedArena) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: the cuda backend tests need a GPU";
  ScopedEnv poison("FUNGEN_CUDA_POISON", "1");
  const uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  ModelBuilder b(17);
  b.input("x", DType::kFloat32, {"N", 8, 12, 10});
  conv_silu(b, rng, "x", "cv1", 8, 32, 1, 1, 1);
  b.initializer("split", int64_tensor({2}, {16, 16}));
  b.node("Split", {"cv1", "split"}, {"p", "q"}, {{"axis", attr_int(1)}});
  conv_silu(b, rng, "q", "m0a", 16, 16, 3, 1, 1);
  conv_silu(b, rng, "m0a", "m0b", 16, 16, 3, 1, 1);
  b.node("Add", {"q", "m0b"}, {"m0"});
  conv_silu(b, rng, "m0", "m1a", 16, 16, 3, 1, 1);
  conv_silu(b, rng, "m1a", "m1b", 16, 16, 3, 1, 1);
  b.node("Add", {"m0", "m1b"}, {"m1"});
  b.node("Concat", {"p", "q", "m0", "m1"}, {"cat"}, {{"axis", attr_int(1)}});
  conv_silu(b, rng, "cat", "cv2", 64, 16, 1, 1, 1);
  conv_silu(b, rng, "cv2", "down", 16, 16, 3, 2, 1);
  b.initializer("scales", [] {
    Tensor t(DType::kFloat32, {4});
    float v[4] = {1, 1, 2, 2};
    std::copy(v, v + 4, t.data<float>());
    return t;
  }());
  b.node("Resize", {"down", "", "scales"}, {"up"},
         {{"mode", attr_string("nearest")},
          {"coordinate_transformation_mode", attr_string("asymmetric")},
          {"nearest_mode", attr_string("floor")}});
  b.node("Concat", {"up", "cv2"}, {"cat2"}, {{"axis", attr_int(1)}});
  conv_silu(b, rng, "cat2", "neck", 32, 16, 3, 1, 1);
  b.initializer("hw", random_tensor({12, 16, 1, 1}, rng, -0.5f, 0.5f));
  b.initializer("shape", int64_tensor({3}, {-1, 12, 120}));
  b.node("Conv", {"neck", "hw"}, {"hc"});
  b.node("Reshape", {"hc", "shape"}, {"head"});
  b.output("cat");  // a run output: m1 (read once, by the concat) is still written in place
  b.output("head");
  const std::string bytes = b.build();
  std::span<const uint8_t> span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  for (const char* precision : {"fp32", "fp16"}) {
    auto ref = Engine::load_from_memory(span, {.backend = "reference"});
    auto gpu = Engine::load_from_memory(span, {.backend = "cuda", .precision = precision});
    ASSERT_TRUE(ref.ok()) << ref.status().message();
    ASSERT_TRUE(gpu.ok()) << gpu.status().message();
    const double tol = precision == std::string("fp16") ? 1e-2 : 1e-4;
    expect_batches_match(*ref, *gpu, {8, 12, 10}, {1, 3, 2, 3, 1, 2, 2, 1}, tol, rng,
                         std::string(precision) + " seed " + std::to_string(seed));
    EXPECT_EQ(gpu->nodes_on("reference") + gpu->nodes_on("cpu"), 0u)
        << "every node should run on the GPU";
  }
}

}  // namespace
}  // namespace fungen::test

#endif  // FUNGEN_HAVE_CUDA
