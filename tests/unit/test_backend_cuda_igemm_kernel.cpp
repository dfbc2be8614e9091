// The implicit-GEMM kernel (conv_igemm.cuh) launched directly, every CTA tile forced in turn (the
// model tests of test_backend_cuda_igemm.cpp see only the tiles choose_igemm_tile picks for their
// small maps), against a host convolution in double of the same fp16-rounded inputs, fresh random
// values each run:
//  - 3x3 s1 into a Concat-like slice (row 16 longer, offset 8) with bias, SiLU and a residual:
//    K = 216 (a partial last K tile), C_out = 2 * tile_n - 8 (a partial N tile), M tails;
//  - 3x3 s2 with NCHW output, no bias, no SiLU;
//  - 1x1 over 40 channels (K tiles 32 + 8), odd map 19x23.
// The C_out-sized tiles (tile_n 48, 80, 96) take only C_out multiples of tile_n: there the first
// case has C_out = 2 * tile_n (two N tiles) and the second C_out = tile_n; igemm_tile_fits must
// refuse the others.
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
#include "cuda_conv_kernel_check.h"
#include "op_test_util.h"
#include "runtime/backend.h"

namespace fungen::test {
namespace {

const ConvKernelUnderTest kIgemm{cuda::pack_igemm_weights, cuda::launch_conv_igemm,
                                 cuda::igemm_supports};

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
