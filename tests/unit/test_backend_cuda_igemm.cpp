// The implicit-GEMM tensor-core convolution (FUNGEN_CUDA_IGEMM=1, conv_igemm.cuh) against the
// reference backend, fp16, fresh random inputs on each of three runs (eager, graph capture,
// replay), batch 1 and 3, on shapes from YOLO11n / YOLO12s:
//  - 1x1 and 3x3 convs, stride 1 and 2, odd spatial sizes, K not a multiple of the 32-wide K tile
//    (3x3 x 16 channels), C_out not a multiple of the N tile (24, 80), wide layers (256 -> 512,
//    512 -> 256, 3x3 s2 256 -> 256), with and without bias / SiLU;
//  - a residual (FusedConv z), outputs written into Concat slices (offsets 0 and 48 of 72; C2f's
//    Split -> Concat with a residual bottleneck), a slice at offset 5 (not a multiple of 8: that
//    conv stays on cuDNN), head convs read by a Reshape (NCHW written by the kernel);
//  - Split pieces read in their Concat slice (strided input and residual) vs copied out;
//  - the persistent 1x1 kernel (FUNGEN_CUDA_PERSIST=1) on all of the above.
// Each case also checks that the kernel was taken for at least the convs it should take, and
// fp32 checks that the switch leaves fp32 on cuDNN. The same cases run with the 3x3 halo kernel
// (FUNGEN_CUDA_TILE3=1, CudaTile3Test) taking exactly the 3x3 convs it supports, and the Split
// pieces read in place by it (CudaTile3.SplitPiecesReadInPlace: strided input and residual).
// Compiled only with -DFUNGEN_CUDA=ON; skipped when no GPU is present.
#ifdef FUNGEN_HAVE_CUDA

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <iterator>
#include <string>

#include "backends/cuda/conv_igemm.cuh"
#include "backends/cuda/conv_igemm_1x1.cuh"
#include "backends/cuda/conv_tile3.cuh"
#include "backends/cuda/cuda_run.h"
#include "cuda_test_util.h"
#include "fungen/engine.h"
#include "model_builder.h"
#include "op_test_util.h"
#include "runtime/backend.h"

namespace fungen::test {
namespace {

// A chain of YOLO11n-like layers: 3x3 s2 16 -> 32 (K = 144), 1x1 32 -> 64, 3x3 64 -> 64 with a
// residual, 3x3 s2 64 -> 128 without bias or SiLU, 1x1 128 -> 24 (partial N tile). 5 igemm convs.
std::string chain_model(std::mt19937& rng, int64_t n, int64_t h, int64_t w) {
  ModelBuilder b(17);
  b.input("x", DType::kFloat32, {n, 16, h, w});
  scaled_conv(b, rng, "x", "a", 16, 32, 3, 2, true, true);
  scaled_conv(b, rng, "a", "b", 32, 64, 1, 1, true, true);
  scaled_conv(b, rng, "b", "c", 64, 64, 3, 1, true, true);
  b.node("Add", {"c", "b"}, {"r"});  // residual: the conv's z input
  b.initializer("d_w", random_tensor({128, 64, 3, 3}, rng, -0.07f, 0.07f));
  b.node("Conv", {"r", "d_w"}, {"d"}, conv_attrs(3, 2));
  scaled_conv(b, rng, "d", "e", 128, 24, 1, 1, true, true);
  b.output("r");
  b.output("d");
  b.output("e");
  return b.build();
}

// YOLO12s-like wide layers at small maps: 1x1 256 -> 512, 1x1 512 -> 256, 3x3 s2 256 -> 256.
std::string wide_model(std::mt19937& rng, int64_t n, int64_t h, int64_t w) {
  ModelBuilder b(17);
  b.input("x", DType::kFloat32, {n, 256, h, w});
  scaled_conv(b, rng, "x", "a", 256, 512, 1, 1, true, true);
  scaled_conv(b, rng, "a", "b", 512, 256, 1, 1, true, true);
  scaled_conv(b, rng, "b", "c", 256, 256, 3, 2, true, true);
  b.output("b");
  b.output("c");
  return b.build();
}

// Convs written into Concat slices: p1 at offset 0 and p2 at 48 of a 72-channel row (igemm);
// q at offset 5 of a 21-channel row (not a multiple of 8: cuDNN and its epilogue). 3 igemm convs
// (p1, p2, out; the 21-channel consumer is cuDNN's).
std::string concat_model(std::mt19937& rng, int64_t n, int64_t h, int64_t w) {
  ModelBuilder b(17);
  b.input("x", DType::kFloat32, {n, 32, h, w});
  b.input("x5", DType::kFloat32, {n, 5, h, w});
  scaled_conv(b, rng, "x", "p1", 32, 16, 1, 1, true, true);
  scaled_conv(b, rng, "x", "p2", 32, 24, 3, 1, true, true);
  b.node("Concat", {"p1", "x", "p2"}, {"cat"}, {{"axis", attr_int(1)}});
  scaled_conv(b, rng, "cat", "out", 72, 32, 1, 1, true, true);
  scaled_conv(b, rng, "x", "q", 32, 16, 3, 1, true, true);
  b.node("Concat", {"x5", "q"}, {"cat2"}, {{"axis", attr_int(1)}});
  scaled_conv(b, rng, "cat2", "out2", 21, 8, 1, 1, true, true);
  b.output("out");
  b.output("out2");
  return b.build();
}

// C2f / C3k2: cv1 (1x1) writes both Split halves into the Concat in place; a bottleneck of two
// 3x3 convs with a residual; cv2 reads the 48-channel concat. 4 igemm convs.
std::string c2f_model(std::mt19937& rng, int64_t n, int64_t h, int64_t w) {
  ModelBuilder b(17);
  b.input("x", DType::kFloat32, {n, 32, h, w});
  scaled_conv(b, rng, "x", "cv1", 32, 32, 1, 1, true, true);
  b.initializer("split", int64_tensor({2}, {16, 16}));
  b.node("Split", {"cv1", "split"}, {"p", "q"}, {{"axis", attr_int(1)}});
  scaled_conv(b, rng, "q", "m1", 16, 16, 3, 1, true, true);
  scaled_conv(b, rng, "m1", "m2", 16, 16, 3, 1, true, true);
  b.node("Add", {"q", "m2"}, {"m"});
  b.node("Concat", {"p", "q", "m"}, {"cat"}, {{"axis", attr_int(1)}});
  scaled_conv(b, rng, "cat", "out", 48, 32, 1, 1, true, true);
  b.output("out");
  return b.build();
}

// C2f / C3k2 with Split pieces of p and q channels (cv1: 32 -> p + q), the bottleneck reading q
// in its Concat slice (FUNGEN_CUDA_STRIDED_IN): c3k false: two 3x3 convs and a residual (q as
// the z of the second); true: C3k (two 1x1 convs both reading q, a 3x3, a Concat, a 1x1).
// sigmoid: q also read by a Sigmoid (not a conv: get() makes the packed copy, after the convs).
std::string split_model(std::mt19937& rng, int64_t n, int64_t h, int64_t w, int64_t p, int64_t q,
                        bool c3k, bool sigmoid) {
  ModelBuilder b(17);
  b.input("x", DType::kFloat32, {n, 32, h, w});
  scaled_conv(b, rng, "x", "cv1", 32, p + q, 1, 1, true, true);
  b.initializer("split", int64_tensor({2}, {p, q}));
  b.node("Split", {"cv1", "split"}, {"p", "q"}, {{"axis", attr_int(1)}});
  if (c3k) {
    scaled_conv(b, rng, "q", "a", q, 16, 1, 1, true, true);
    scaled_conv(b, rng, "q", "bb", q, 16, 1, 1, true, true);
    scaled_conv(b, rng, "a", "mm", 16, 16, 3, 1, true, true);
    b.node("Concat", {"mm", "bb"}, {"cat3"}, {{"axis", attr_int(1)}});
    scaled_conv(b, rng, "cat3", "m", 32, 16, 1, 1, true, true);
  } else {
    scaled_conv(b, rng, "q", "m1", q, 16, 3, 1, true, true);
    scaled_conv(b, rng, "m1", "m2", 16, q, 3, 1, true, true);
    b.node("Add", {"q", "m2"}, {"m"});
  }
  b.node("Concat", {"p", "q", "m"}, {"cat"}, {{"axis", attr_int(1)}});
  scaled_conv(b, rng, "cat", "out", p + q + (c3k ? 16 : q), 32, 1, 1, true, true);
  b.output("out");
  if (sigmoid) {
    b.node("Sigmoid", {"q"}, {"s"});
    b.output("s");
  }
  return b.build();
}

// YOLO's head: 3x3 64 -> 64 then 1x1 64 -> 80 with bias only, read by a Reshape (the kernel
// writes NCHW); a 3x3 64 -> 64 read by a Reshape too (SiLU, NCHW). 3 igemm convs.
std::string head_model(std::mt19937& rng, int64_t n, int64_t h, int64_t w) {
  ModelBuilder b(17);
  b.input("x", DType::kFloat32, {n, 64, h, w});
  scaled_conv(b, rng, "x", "a", 64, 64, 3, 1, true, true);
  scaled_conv(b, rng, "a", "cls", 64, 80, 1, 1, true, false);
  b.initializer("shape", int64_tensor({3}, {n, 80, h * w}));
  b.node("Reshape", {"cls", "shape"}, {"cls_r"});
  scaled_conv(b, rng, "x", "box", 64, 64, 3, 1, true, true);
  b.initializer("shape2", int64_tensor({3}, {n, 64, h * w}));
  b.node("Reshape", {"box", "shape2"}, {"box_r"});
  b.output("cls_r");
  b.output("box_r");
  return b.build();
}

struct Case {
  const char* name;
  std::function<std::string(std::mt19937&, int64_t)> model;
  int igemm_convs;  // at least this many convs must take the kernel
  int tile3_convs;  // the 3x3 convs the halo kernel takes (FUNGEN_CUDA_TILE3=1)
};

const Case kCases[] = {
    {"chain_13x17", [](std::mt19937& r, int64_t n) { return chain_model(r, n, 13, 17); }, 5, 3},
    {"chain_40x40", [](std::mt19937& r, int64_t n) { return chain_model(r, n, 40, 40); }, 5, 3},
    {"wide_10x10", [](std::mt19937& r, int64_t n) { return wide_model(r, n, 10, 10); }, 3, 1},
    {"wide_7x9", [](std::mt19937& r, int64_t n) { return wide_model(r, n, 7, 9); }, 3, 1},
    {"concat_11x9", [](std::mt19937& r, int64_t n) { return concat_model(r, n, 11, 9); }, 3, 1},
    {"c2f_20x20", [](std::mt19937& r, int64_t n) { return c2f_model(r, n, 20, 20); }, 4, 2},
    {"c2f_15x21", [](std::mt19937& r, int64_t n) { return c2f_model(r, n, 15, 21); }, 4, 2},
    {"head_20x20", [](std::mt19937& r, int64_t n) { return head_model(r, n, 20, 20); }, 3, 2},
    {"head_12x20", [](std::mt19937& r, int64_t n) { return head_model(r, n, 12, 20); }, 3, 2},
};

class CudaIgemmTest : public ::testing::TestWithParam<std::tuple<int, int>> {
 protected:
  void SetUp() override {
    if (cuda_device_count() == 0)
      GTEST_SKIP() << "no CUDA device: the cuda backend tests need a GPU";
  }
};

TEST_P(CudaIgemmTest, MatchesReference) {
  const Case& c = kCases[std::get<0>(GetParam())];
  const int64_t batch = std::get<1>(GetParam());
  ScopedEnv igemm("FUNGEN_CUDA_IGEMM", "1");
  const uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  const int before = cuda::igemm_convs_lowered();
  expect_cuda_matches_reference(c.model(rng, batch), "fp16", rng, 3, c.name, seed, true);
  EXPECT_GE(cuda::igemm_convs_lowered() - before, c.igemm_convs)
      << c.name << ": fewer convolutions than expected took the igemm kernel";
}

INSTANTIATE_TEST_SUITE_P(Igemm, CudaIgemmTest,
                         ::testing::Combine(::testing::Range(0,
                                                             static_cast<int>(std::size(kCases))),
                                            ::testing::Values(1, 3)),
                         [](const ::testing::TestParamInfo<std::tuple<int, int>>& info) {
                           return std::string(kCases[std::get<0>(info.param)].name) + "_b" +
                                  std::to_string(std::get<1>(info.param));
                         });

// The 3x3 halo kernel (FUNGEN_CUDA_TILE3=1, conv_tile3.cuh) on the same models, every other conv
// on cuDNN (FUNGEN_CUDA_IGEMM=0): stride 1 and 2, residual, Concat slices, NCHW for a Reshape.
class CudaTile3Test : public CudaIgemmTest {};

TEST_P(CudaTile3Test, MatchesReference) {
  const Case& c = kCases[std::get<0>(GetParam())];
  const int64_t batch = std::get<1>(GetParam());
  ScopedEnv igemm("FUNGEN_CUDA_IGEMM", "0");
  ScopedEnv tile3("FUNGEN_CUDA_TILE3", "1");
  const uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  const int before = cuda::tile3_convs_lowered(), igemm_before = cuda::igemm_convs_lowered();
  expect_cuda_matches_reference(c.model(rng, batch), "fp16", rng, 3, c.name, seed, true);
  EXPECT_GE(cuda::tile3_convs_lowered() - before, c.tile3_convs)
      << c.name << ": fewer 3x3 convolutions than expected took the tile3 kernel";
  EXPECT_EQ(cuda::igemm_convs_lowered() - igemm_before, 0) << c.name;
}

INSTANTIATE_TEST_SUITE_P(Tile3, CudaTile3Test,
                         ::testing::Combine(::testing::Range(0,
                                                             static_cast<int>(std::size(kCases))),
                                            ::testing::Values(1, 3)),
                         [](const ::testing::TestParamInfo<std::tuple<int, int>>& info) {
                           return std::string(kCases[std::get<0>(info.param)].name) + "_b" +
                                  std::to_string(std::get<1>(info.param));
                         });

// Grids of >= 4096 tiles, where the kernel gives each CTA several tiles (4 with one 16-channel
// chunk, its weights loaded once per CTA): 8 x 1367 x 23 maps (8x8 tiles: 8 * 171 * 3 = 4104),
// 3x3 8 -> 16, then 16 -> 16 with a residual, then a stride-2 16 -> 32 (one tile per CTA).
std::string many_tiles_model(std::mt19937& rng) {
  ModelBuilder b(17);
  b.input("x", DType::kFloat32, {8, 8, 1367, 23});
  scaled_conv(b, rng, "x", "a", 8, 16, 3, 1, true, true);
  scaled_conv(b, rng, "a", "b0", 16, 16, 3, 1, true, true);
  b.node("Add", {"b0", "a"}, {"b"});
  scaled_conv(b, rng, "b", "c", 16, 32, 3, 2, true, true);
  b.output("b");
  b.output("c");
  return b.build();
}

TEST(CudaTile3, ManyTilesPerCta) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: the cuda backend tests need a GPU";
  ScopedEnv igemm("FUNGEN_CUDA_IGEMM", "0");
  ScopedEnv tile3("FUNGEN_CUDA_TILE3", "1");
  const uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  const int before = cuda::tile3_convs_lowered();
  expect_cuda_matches_reference(many_tiles_model(rng), "fp16", rng, 2, "many tiles", seed, true);
  EXPECT_GE(cuda::tile3_convs_lowered() - before, 3);
}

// Split pieces read in place (FUNGEN_CUDA_STRIDED_IN, default on) vs copied out (=0): both match
// the reference; with it on, no piece is copied when only convs read it, and a piece whose slice
// the kernel cannot read (offset 12 of 44-channel rows) or that a Sigmoid reads is still copied.
TEST(CudaIgemm, SplitPiecesReadInPlace) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: the cuda backend tests need a GPU";
  ScopedEnv igemm("FUNGEN_CUDA_IGEMM", "1");
  struct SplitCase {
    const char* name;
    int64_t h, w, p, q;
    bool c3k, sigmoid;
    int copies_on;  // -1: at least one
    int igemm;      // convs that must take the kernel
  };
  const SplitCase cases[] = {
      {"c2f 15x21", 15, 21, 16, 16, false, false, 0, 4},
      {"c2f offset 8 of 40, 20x20", 20, 20, 8, 16, false, false, 0, 4},
      {"c3k 11x9", 11, 9, 16, 16, true, false, 0, 6},
      {"c2f offset 12 of 44 (copied)", 9, 13, 12, 16, false, false, -1, 1},
      {"c2f + sigmoid (copied)", 10, 10, 16, 16, false, true, -1, 4},
  };
  for (const SplitCase& c : cases) {
    for (int64_t batch : {1, 3}) {
      for (const char* strided : {"1", "0"}) {
        ScopedEnv env("FUNGEN_CUDA_STRIDED_IN", strided);
        const uint32_t seed = test_seed();
        std::mt19937 rng(seed);
        const std::string label = std::string(c.name) + " b" + std::to_string(batch) + " strided " +
                                  strided + " seed " + std::to_string(seed);
        const int before = cuda::split_piece_copies();
        const int convs_before = cuda::igemm_convs_lowered();
        expect_cuda_matches_reference(split_model(rng, batch, c.h, c.w, c.p, c.q, c.c3k, c.sigmoid),
                                      "fp16", rng, 3, label, seed, true);
        const int copies = cuda::split_piece_copies() - before;
        if (*strided == '0' || c.copies_on < 0) {
          EXPECT_GE(copies, 1) << label;
        } else {
          EXPECT_EQ(copies, c.copies_on) << label << ": a Split piece was copied out";
        }
        EXPECT_GE(cuda::igemm_convs_lowered() - convs_before, c.igemm) << label;
      }
    }
  }
}

// The same Split pieces read in place by the 3x3 halo kernel (FUNGEN_CUDA_TILE3=1, the 1x1s on
// igemm): C2f's bottleneck reads its piece as the first 3x3's input and as the residual of the
// second (strided input and residual), C3k's 3x3 writes into a Concat slice; no piece copied.
TEST(CudaTile3, SplitPiecesReadInPlace) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: the cuda backend tests need a GPU";
  ScopedEnv igemm("FUNGEN_CUDA_IGEMM", "1");
  ScopedEnv tile3("FUNGEN_CUDA_TILE3", "1");
  ScopedEnv strided("FUNGEN_CUDA_STRIDED_IN", "1");
  struct SplitCase {
    const char* name;
    int64_t h, w, p, q;
    bool c3k;
    int tile3;  // 3x3 convs that must take the halo kernel
  };
  const SplitCase cases[] = {
      {"c2f 15x21", 15, 21, 16, 16, false, 2},
      {"c2f offset 8 of 40, 20x20", 20, 20, 8, 16, false, 2},
      {"c3k 11x9", 11, 9, 16, 16, true, 1},
  };
  for (const SplitCase& c : cases) {
    for (int64_t batch : {1, 3}) {
      const uint32_t seed = test_seed();
      std::mt19937 rng(seed);
      const std::string label = std::string(c.name) + " b" + std::to_string(batch) +
                                " tile3 seed " + std::to_string(seed);
      const int copies = cuda::split_piece_copies(), before = cuda::tile3_convs_lowered();
      expect_cuda_matches_reference(split_model(rng, batch, c.h, c.w, c.p, c.q, c.c3k, false),
                                    "fp16", rng, 3, label, seed, true);
      EXPECT_EQ(cuda::split_piece_copies() - copies, 0) << label << ": a Split piece was copied";
      EXPECT_GE(cuda::tile3_convs_lowered() - before, c.tile3) << label;
    }
  }
}

// The persistent 1x1 kernel (FUNGEN_CUDA_PERSIST=1: every 1x1 the igemm path takes) on every
// model above and on C3k's Split piece read in place by two 1x1s: matches the reference, takes
// at least one conv per model, and copies no Split piece.
TEST(CudaIgemm, PersistentMatchesReference) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: the cuda backend tests need a GPU";
  ScopedEnv igemm("FUNGEN_CUDA_IGEMM", "1");
  ScopedEnv persist("FUNGEN_CUDA_PERSIST", "1");
  for (int64_t batch : {1, 3}) {
    for (size_t i = 0; i <= std::size(kCases); ++i) {
      const uint32_t seed = test_seed();
      std::mt19937 rng(seed);
      const bool c3k = i == std::size(kCases);
      const std::string label = std::string(c3k ? "c3k split" : kCases[i].name) + " b" +
                                std::to_string(batch) + " persistent";
      const int before = cuda::igemm_1x1_persist_convs_lowered();
      const int copies = cuda::split_piece_copies();
      expect_cuda_matches_reference(
          c3k ? split_model(rng, batch, 13, 11, 16, 16, true, false) : kCases[i].model(rng, batch),
          "fp16", rng, 3, label, seed, true);
      EXPECT_GE(cuda::igemm_1x1_persist_convs_lowered() - before, 1) << label;
      if (c3k) {
        EXPECT_EQ(cuda::split_piece_copies() - copies, 0) << label;
      }
    }
  }
}

// fp32 stays on cuDNN with the switch on (and still matches).
TEST(CudaIgemm, Fp32LeftToCudnn) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: the cuda backend tests need a GPU";
  ScopedEnv igemm("FUNGEN_CUDA_IGEMM", "1");
  const uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  const int before = cuda::igemm_convs_lowered();
  expect_cuda_matches_reference(chain_model(rng, 2, 13, 17), "fp32", rng, 2, "chain fp32", seed,
                                true);
  EXPECT_EQ(cuda::igemm_convs_lowered() - before, 0);
}

}  // namespace
}  // namespace fungen::test

#endif  // FUNGEN_HAVE_CUDA
