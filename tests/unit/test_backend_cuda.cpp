// The cuda backend against the reference kernels: a small YOLO-like block (conv + SiLU fused,
// split, residual add, concat, maxpool, nearest resize, softmax, matmul) built as an ONNX model,
// run by Engine with backend "cuda" in fp32 (tight) and fp16 (loose), fresh random inputs each
// run. Compiled only with -DFUNGEN_CUDA=ON; skipped when no GPU is present.
#ifdef FUNGEN_HAVE_CUDA

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>

#include "backends/cuda/cuda_run.h"
#include "fungen/engine.h"
#include "model_builder.h"
#include "op_test_util.h"
#include "runtime/backend.h"

namespace fungen::test {
namespace {

std::string block_model(std::mt19937& rng) {
  ModelBuilder b(17);
  b.input("x", DType::kFloat32, {2, 3, 16, 16});
  b.initializer("w1", random_tensor({8, 3, 3, 3}, rng, -0.5f, 0.5f));
  b.initializer("b1", random_tensor({8}, rng));
  b.initializer("w2", random_tensor({4, 4, 1, 1}, rng, -0.5f, 0.5f));
  b.initializer("split", int64_tensor({2}, {4, 4}));
  b.initializer("scales", [] {
    Tensor t(DType::kFloat32, {4});
    float v[4] = {1, 1, 2, 2};
    std::copy(v, v + 4, t.data<float>());
    return t;
  }());
  b.initializer("shape", int64_tensor({3}, {2, 4, 64}));
  b.node("Conv", {"x", "w1", "b1"}, {"c1"},
         {{"pads", attr_ints({1, 1, 1, 1})}, {"strides", attr_ints({2, 2})}});
  b.node("Sigmoid", {"c1"}, {"s1"});
  b.node("Mul", {"c1", "s1"}, {"a1"});  // SiLU: fused into the conv
  b.node("Split", {"a1", "split"}, {"p", "q"}, {{"axis", attr_int(1)}});
  b.node("Conv", {"q", "w2"}, {"c2"});
  b.node("Add", {"p", "c2"}, {"r"});  // residual
  b.node("Concat", {"r", "a1", "q"}, {"cat"}, {{"axis", attr_int(1)}});
  b.node("MaxPool", {"cat"}, {"mp"},
         {{"kernel_shape", attr_ints({3, 3})}, {"pads", attr_ints({1, 1, 1, 1})}});
  b.node("Resize", {"mp", "", "scales"}, {"up"},
         {{"mode", attr_string("nearest")},
          {"coordinate_transformation_mode", attr_string("asymmetric")},
          {"nearest_mode", attr_string("floor")}});
  b.node("Reshape", {"r", "shape"}, {"flat"});
  b.node("Softmax", {"flat"}, {"sm"}, {{"axis", attr_int(-1)}});
  b.node("Transpose", {"flat"}, {"ft"}, {{"perm", attr_ints({0, 2, 1})}});
  b.node("MatMul", {"sm", "ft"}, {"att"});
  b.output("up");
  b.output("att");
  return b.build();
}

// MatMuls reading last-two-axes Transposes (folded into cuBLAS's transpose op): A transposed, both
// transposed, a transposed 2-D operand, and a Transpose with a second reader (not folded).
std::string transposed_matmul_model() {
  ModelBuilder b(17);
  b.input("a", DType::kFloat32, {3, 5, 7});
  b.input("y", DType::kFloat32, {3, 5, 6});
  b.input("u", DType::kFloat32, {3, 4, 7});
  b.input("v", DType::kFloat32, {3, 9, 4});
  b.input("w", DType::kFloat32, {6, 9});
  b.node("Transpose", {"a"}, {"at"}, {{"perm", attr_ints({0, 2, 1})}});
  b.node("MatMul", {"at", "y"}, {"o1"});  // [3,7,5] x [3,5,6]
  b.node("Transpose", {"u"}, {"ut"}, {{"perm", attr_ints({0, 2, 1})}});
  b.node("Transpose", {"v"}, {"vt"}, {{"perm", attr_ints({0, 2, 1})}});
  b.node("MatMul", {"ut", "vt"}, {"o2"});  // [3,7,4] x [3,4,9]
  b.node("Transpose", {"w"}, {"wt"}, {{"perm", attr_ints({1, 0})}});
  b.node("MatMul", {"o2", "wt"}, {"o3"});  // [3,7,9] x [9,6]
  b.node("Transpose", {"y"}, {"yt"}, {{"perm", attr_ints({0, 2, 1})}});
  b.node("MatMul", {"o1", "yt"}, {"o4"});  // [3,7,6] x [3,6,5]; yt is an output too
  b.output("o3");
  b.output("o4");
  b.output("yt");
  return b.build();
}

class CudaBackendTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (cuda_device_count() == 0)
      GTEST_SKIP() << "no CUDA device: the cuda backend tests need a GPU";
  }
};

TEST_P(CudaBackendTest, BlockMatchesReference) {
  const std::string precision = GetParam();
  uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  std::string bytes = block_model(rng);
  std::span<const uint8_t> span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  auto ref = Engine::load_from_memory(span, {.backend = "reference"});
  auto gpu = Engine::load_from_memory(span, {.backend = "cuda", .precision = precision});
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  ASSERT_TRUE(gpu.ok()) << gpu.status().message();
  Tensor x = random_tensor({2, 3, 16, 16}, rng);
  std::vector<Tensor> want, got;
  ASSERT_TRUE(ref->run({&x, 1}, want).ok());
  const double tol = precision == "fp16" ? 1e-2 : 1e-4;
  const int multi_lane = cuda::multi_lane_captures();
  for (int rep = 0; rep < 3; ++rep) {  // eager, graph capture, graph replay
    Status s = gpu->run({&x, 1}, got);
    ASSERT_TRUE(s.ok()) << s.message();
    for (size_t o = 0; o < want.size(); ++o) {
      EXPECT_LE(rel_l2(got[o], want[o]), tol)
          << "output " << o << " run " << rep << " seed " << seed;
    }
  }
  EXPECT_EQ(gpu->nodes_on("reference") + gpu->nodes_on("cpu"), 0u)
      << "every node should run on the GPU";
  // The resize branch and the attention branch are independent: the capture used two streams
  // or more (unless FUNGEN_CUDA_LANES=1 or graphs are off).
  const char* lanes = std::getenv("FUNGEN_CUDA_LANES");
  const char* graphs = std::getenv("FUNGEN_CUDA_GRAPHS");
  if (!(lanes && std::string(lanes) == "1") && !(graphs && std::string(graphs) == "0")) {
    EXPECT_GT(cuda::multi_lane_captures(), multi_lane);
  }
}

TEST_P(CudaBackendTest, TransposedMatMulOperandsMatchReference) {
  const std::string precision = GetParam();
  uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  std::string bytes = transposed_matmul_model();
  std::span<const uint8_t> span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  auto ref = Engine::load_from_memory(span, {.backend = "reference"});
  auto gpu = Engine::load_from_memory(span, {.backend = "cuda", .precision = precision});
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  ASSERT_TRUE(gpu.ok()) << gpu.status().message();
  const double tol = precision == "fp16" ? 1e-2 : 1e-5;
  for (int rep = 0; rep < 3; ++rep) {  // fresh inputs: eager, graph capture, graph replay
    std::vector<Tensor> in = {random_tensor({3, 5, 7}, rng), random_tensor({3, 5, 6}, rng),
                              random_tensor({3, 4, 7}, rng), random_tensor({3, 9, 4}, rng),
                              random_tensor({6, 9}, rng)};
    std::vector<Tensor> want, got;
    ASSERT_TRUE(ref->run(in, want).ok());
    Status s = gpu->run(in, got);
    ASSERT_TRUE(s.ok()) << s.message();
    for (size_t o = 0; o < want.size(); ++o) {
      EXPECT_LE(rel_l2(got[o], want[o]), tol)
          << "output " << o << " run " << rep << " seed " << seed;
    }
  }
  EXPECT_EQ(gpu->nodes_on("reference") + gpu->nodes_on("cpu"), 0u);
}

INSTANTIATE_TEST_SUITE_P(Precisions, CudaBackendTest, ::testing::Values("fp32", "fp16"));

}  // namespace
}  // namespace fungen::test

#endif  // FUNGEN_HAVE_CUDA
