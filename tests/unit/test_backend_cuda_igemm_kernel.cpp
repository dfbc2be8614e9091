// The implicit-GEMM kernel (conv_igemm.cuh) launched directly, every CTA tile forced in turn (the
// model tests of test_backend_cuda_igemm.cpp see only the tiles choose_igemm_tile picks for their
// small maps), against a host convolution in double of the same fp16-rounded inputs, fresh random
// values each run:
//  - 3x3 s1 into a Concat-like slice (row 16 longer, offset 8) with bias, SiLU and a residual:
//    K = 216 (a partial last K tile), C_out = 2 * tile_n - 8 (a partial N tile), M tails;
//  - 3x3 s2 with NCHW output, no bias, no SiLU;
//  - 1x1 over 40 channels (K tiles 32 + 8), odd map 19x23;
//  - strided input and residual (a Split piece read in its Concat slice: x_ld / z_ld longer rows,
//    the pointers at channel offsets 8 / 16), 3x3 s1 and 1x1; the rest of those rows holds NaN,
//    so a read outside the slice shows in the outputs;
//  - 1x1 into a slice with the dual store (out2: the same rows into a second slice).
// The C_out-sized tiles (tile_n 48, 80, 96) take only C_out multiples of tile_n: there the first
// case has C_out = 2 * tile_n (two N tiles) and the second C_out = tile_n; igemm_tile_fits must
// refuse the others.
// The persistent 1x1 kernel (conv_igemm_1x1.cuh) runs the 1x1 problems with every tile.
// Bytes outside the written slice must keep their sentinel (a NaN pattern).
// Compiled only with -DFUNGEN_CUDA=ON; skipped when no GPU is present.
#ifdef FUNGEN_HAVE_CUDA

#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "backends/cuda/conv_igemm.cuh"
#include "backends/cuda/conv_igemm_1x1.cuh"
#include "cuda_conv_kernel_check.h"
#include "op_test_util.h"
#include "runtime/backend.h"

namespace fungen::test {
namespace {

const ConvKernelUnderTest kIgemm{cuda::pack_igemm_weights, cuda::launch_conv_igemm,
                                 cuda::igemm_supports};

// The persistent 1x1 kernel with `walkers` CTAs per N tile (0: as many as fit); no dual store.
ConvKernelUnderTest persist_kernel(int walkers) {
  return {cuda::pack_igemm_weights,
          [walkers](const cuda::IgemmDesc& d, const void* x, const void* w, const float* b,
                    const void* z, void* out, cudaStream_t s, void* out2) {
            return out2 ? cudaErrorInvalidValue
                        : cuda::launch_conv_igemm_1x1_persist(d, x, w, b, z, out, s, walkers);
          },
          [](const cuda::IgemmDesc& d) {
            return cuda::igemm_supports(d) && cuda::igemm_1x1_persist_supports(d, 0);
          }};
}

struct Problem : ConvProblem {
  bool persist = false;  // the persistent 1x1 kernel (conv_igemm_1x1.cuh)
  int walkers = 0;       // persistent: CTAs per N tile (0: as many as fit)
};

void check(const Problem& p, std::mt19937& rng, const std::string& label) {
  check_conv_kernel(p, rng, label, p.persist ? persist_kernel(p.walkers) : kIgemm);
}

class CudaIgemmKernel : public ::testing::TestWithParam<std::tuple<int, int>> {
 protected:
  void SetUp() override {
    if (cuda_device_count() == 0)
      GTEST_SKIP() << "no CUDA device: the cuda backend tests need a GPU";
  }
};

TEST_P(CudaIgemmKernel, MatchesHostConvolution) {
  const int tm = std::get<0>(GetParam()), tn = std::get<1>(GetParam());
  const uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  const std::string tile =
      "tile " + std::to_string(tm) + "x" + std::to_string(tn) + " seed " + std::to_string(seed);
  const bool exact = tn == 48 || tn == 80 || tn == 96;  // C_out must be a multiple of tile_n
  if (exact) {
    cuda::IgemmDesc d = conv_desc(1, 16, 8, 8, tn + 16, 1, 1);
    d.tile_m = tm;
    d.tile_n = tn;
    EXPECT_FALSE(cuda::igemm_tile_fits(d)) << tile << ": C_out " << d.cout;
    d.cout = 3 * tn;
    EXPECT_TRUE(cuda::igemm_tile_fits(d)) << tile << ": C_out " << d.cout;
  }
  {
    ConvProblem p;  // 3x3 s1 into a slice, bias + SiLU + residual
    p.d = conv_desc(2, 24, 13, 11, exact ? 2 * tn : 2 * tn - 8, 3, 1);
    p.d.silu = true;
    p.d.out_ld = p.d.cout + 16;
    p.offset = 8;
    p.d.tile_m = tm;
    p.d.tile_n = tn;
    check_conv_kernel(p, rng, "3x3s1 slice " + tile, kIgemm);
  }
  {
    ConvProblem p;  // 3x3 s2, NCHW out, no bias / SiLU / residual
    p.d = conv_desc(3, 16, 17, 9, exact ? tn : tn + 8, 3, 2);
    p.d.nchw_out = true;
    p.bias = false;
    p.residual = false;
    p.d.tile_m = tm;
    p.d.tile_n = tn;
    check_conv_kernel(p, rng, "3x3s2 nchw " + tile, kIgemm);
  }
  {
    ConvProblem p;  // 1x1 over 40 channels, bias + SiLU, packed output
    p.d = conv_desc(1, 40, 19, 23, tn, 1, 1);
    p.d.silu = true;
    p.residual = false;
    p.d.tile_m = tm;
    p.d.tile_n = tn;
    check_conv_kernel(p, rng, "1x1 " + tile, kIgemm);
  }
  {
    Problem p;  // 3x3 s1, input and residual read from Concat-like rows, output into a slice
    p.d = conv_desc(2, 16, 11, 13, exact ? tn : tn + 8, 3, 1);
    p.d.silu = true;
    p.d.x_ld = 40;
    p.x_off = 8;
    p.d.z_ld = p.d.cout + 24;
    p.z_off = 16;
    p.d.out_ld = p.d.cout + 8;
    p.offset = 8;
    p.d.tile_m = tm;
    p.d.tile_n = tn;
    check(p, rng, "3x3s1 strided in " + tile);
  }
  {
    Problem p;  // 1x1 into a slice and again into a second one (dual store), packed residual
    p.d = conv_desc(2, 24, 9, 11, exact ? tn : tn + 8, 1, 1);
    p.d.silu = true;
    p.d.out_ld = p.d.cout + 16;
    p.offset = 16;
    p.dual = true;
    p.d.out2_ld = p.d.cout + 8;
    p.out2_offset = 8;
    p.d.tile_m = tm;
    p.d.tile_n = tn;
    check(p, rng, "1x1 dual " + tile);
  }
  {
    Problem p;  // 1x1 into anchor-major head rows: images apart, 5 rows and 8 channels in
    p.d = conv_desc(2, 32, 9, 11, exact ? tn : tn + 8, 1, 1);
    p.d.out_ld = (p.d.cout + 7) / 8 * 8 + 16;
    p.offset = 5 * p.d.out_ld + 8;
    p.d.out_img_ld = (9 * 11 + 12) * p.d.out_ld;
    p.residual = false;
    p.d.tile_m = tm;
    p.d.tile_n = tn;
    check(p, rng, "1x1 anchor-major rows " + tile);
  }
  {
    Problem p;  // 1x1 over 32 channels at offset 16 of 48-channel rows, NCHW out (C3k's cv1)
    p.d = conv_desc(3, 32, 9, 7, exact ? tn : tn - 8, 1, 1);
    p.d.x_ld = 48;
    p.x_off = 16;
    p.d.nchw_out = true;
    p.residual = false;
    p.d.tile_m = tm;
    p.d.tile_n = tn;
    check(p, rng, "1x1 strided in nchw " + tile);
  }
  {
    cuda::IgemmDesc d = conv_desc(1, 16, 8, 8, 32, 1, 1);  // strides the kernel refuses
    d.x_ld = 20;                                           // not a multiple of 8
    EXPECT_FALSE(cuda::igemm_supports(d));
    d.x_ld = 8;  // shorter than C_in
    EXPECT_FALSE(cuda::igemm_supports(d));
    d.x_ld = 24;
    d.z_ld = 36;
    EXPECT_FALSE(cuda::igemm_supports(d));
    d = conv_desc(1, 16, 8, 8, 32, 1, 1);
    d.out_img_ld = 8 * 8 * 32 - 8;  // images closer than their rows
    EXPECT_FALSE(cuda::igemm_supports(d));
    d.out_img_ld = 8 * 8 * 32 + 4;  // not a multiple of 8
    EXPECT_FALSE(cuda::igemm_supports(d));
    d.out_img_ld = 8 * 8 * 32 + 8;
    EXPECT_TRUE(cuda::igemm_supports(d));
    d.nchw_out = true;  // an image stride is for NHWC rows
    EXPECT_FALSE(cuda::igemm_supports(d));
  }
}

// The persistent 1x1 kernel, every tile: K 16 / 40 / 64 / 256 (one to eight K tiles, partial
// ones), M large enough that each CTA walks several M tiles (2 x 160x160 pixels), M tails, bias +
// SiLU + residual into a slice, NCHW out, strided input and residual; what it must refuse.
TEST_P(CudaIgemmKernel, PersistentMatchesHostConvolution) {
  const int tm = std::get<0>(GetParam()), tn = std::get<1>(GetParam());
  const uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  const std::string tile = "persistent tile " + std::to_string(tm) + "x" + std::to_string(tn) +
                           " seed " + std::to_string(seed);
  const bool exact = tn == 48 || tn == 80 || tn == 96;
  auto make = [&](int n, int cin, int h, int w, int cout) {
    Problem p;
    p.d = conv_desc(n, cin, h, w, cout, 1, 1);
    p.d.tile_m = tm;
    p.d.tile_n = tn;
    p.persist = true;
    return p;
  };
  {
    Problem p = make(2, 32, 160, 160, tn);  // as many CTAs as fit
    p.d.silu = true;
    p.residual = false;
    check(p, rng, "1x1 32 resident CTAs " + tile);
  }
  {
    Problem p = make(1, 48, 37, 41, exact ? tn : 2 * tn + 8);  // 7 CTAs per N tile: each walks
    p.walkers = 7;                                             // ~ 1517 / (7 tile_m) M tiles
    p.d.silu = true;
    check(p, rng, "1x1 48 seven walkers " + tile);
  }
  {
    Problem p = make(1, 40, 19, 23, exact ? 2 * tn : 2 * tn - 8);  // slice + residual, M tail
    p.d.silu = true;
    p.d.out_ld = p.d.cout + 16;
    p.offset = 8;
    check(p, rng, "1x1 40 slice residual " + tile);
  }
  {
    Problem p = make(3, 16, 9, 7, exact ? tn : tn + 8);  // strided input, NCHW out, no bias
    p.d.x_ld = 48;
    p.x_off = 16;
    p.d.nchw_out = true;
    p.bias = false;
    p.residual = false;
    check(p, rng, "1x1 16 strided nchw " + tile);
  }
  {
    Problem p = make(3, 64, 13, 17, exact ? tn : tn + 8);  // anchor-major head rows, M tail
    p.d.out_ld = (p.d.cout + 7) / 8 * 8 + 8;
    p.offset = 3 * p.d.out_ld + 8;
    p.d.out_img_ld = (13 * 17 + 7) * p.d.out_ld;
    p.residual = false;
    check(p, rng, "1x1 64 anchor-major rows " + tile);
  }
  {
    Problem p = make(1, 64, 31, 33, tn);  // strided input and residual
    p.d.x_ld = 96;
    p.x_off = 32;
    p.d.z_ld = tn + 16;
    p.z_off = 8;
    check(p, rng, "1x1 64 strided residual " + tile);
  }
  {
    Problem p = make(1, 256, 20, 20, tn);  // eight K tiles (YOLO11n's 256 -> 64)
    p.d.silu = true;
    p.residual = false;
    if (cuda::igemm_1x1_persist_supports(p.d, 0)) check(p, rng, "1x1 256 " + tile);
  }
  cuda::IgemmDesc d = conv_desc(1, 32, 8, 8, tn, 3, 1);  // not a 1x1
  d.tile_m = tm;
  d.tile_n = tn;
  EXPECT_FALSE(cuda::igemm_1x1_persist_supports(d, 0));
  d = conv_desc(1, 32, 8, 8, tn, 1, 2);  // stride 2
  d.tile_m = tm;
  d.tile_n = tn;
  EXPECT_FALSE(cuda::igemm_1x1_persist_supports(d, 0));
}

INSTANTIATE_TEST_SUITE_P(Tiles, CudaIgemmKernel,
                         ::testing::Combine(::testing::Values(64, 128),
                                            ::testing::Values(16, 32, 48, 64, 80, 96, 128)),
                         [](const ::testing::TestParamInfo<std::tuple<int, int>>& info) {
                           // Appended piecewise: GCC 12's -Wrestrict misfires on "m" + string.
                           std::string name = "m";
                           name += std::to_string(std::get<0>(info.param));
                           name += "_n";
                           name += std::to_string(std::get<1>(info.param));
                           return name;
                         });

}  // namespace
}  // namespace fungen::test

#endif  // FUNGEN_HAVE_CUDA
