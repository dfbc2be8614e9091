// The 3x3 halo kernel (conv_tile3.cuh) launched directly, every tile (8x16 / 8x8 pixels x 16, 32,
// 64 channels) forced in turn, against a host convolution in double of the same fp16-rounded
// inputs, fresh random values each run (cuda_conv_kernel_check.h):
//  - stride 1 into a Concat-like slice (row 16 longer, offset 8) with bias, SiLU and a residual;
//    C_in 24 (a chunk of 16 then a half chunk), C_out = 2 * tile_n - 8 (a partial N tile), odd
//    map 13 x 19 (partial spatial tiles both ways), batch 2;
//  - stride 2 with NCHW output, no bias / SiLU / residual, batch 3, 17 x 9 -> 9 x 5;
//  - stride 1, C_in 48 (3 chunks), 20 x 20, batch 1;
//  - stride 2, C_in 64 (4 chunks: more than the pipeline's stages) with a residual, 21 x 35, C_in 8
//    (a single half chunk) on an 8 x 8 map;
//  - strided input and residual (a Split piece read in its Concat slice: x_ld / z_ld longer rows
//    holding NaN beside the piece) with the dual store (out2: a second slice), stride 1 and 2.
// Each with the kernel's own tiles-per-CTA pick (1 on these grids) and with 3 tiles per CTA (its
// pipeline running across tiles, uneven last CTAs). Also what the kernel refuses (1x1, pad 0,
// stride 3, tiles it lacks, more than 16 tiles per CTA, input strides not a multiple of 8, a dual
// store with NCHW output).
// Compiled only with -DFUNGEN_CUDA=ON; skipped when no GPU is present.
#ifdef FUNGEN_HAVE_CUDA

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "backends/cuda/conv_tile3.cuh"
#include "cuda_conv_kernel_check.h"
#include "op_test_util.h"
#include "runtime/backend.h"

namespace fungen::test {
namespace {

// The kernel with `per_cta` tiles per CTA (0: its own pick, 1 on these small grids).
ConvKernelUnderTest tile3_kernel(int per_cta) {
  return {cuda::pack_tile3_weights,
          [per_cta](const cuda::IgemmDesc& d, const void* x, const void* w, const float* b,
                    const void* z, void* out, cudaStream_t s, void* out2) {
            return cuda::launch_conv_tile3(d, x, w, b, z, out, s, per_cta, out2);
          },
          cuda::tile3_supports};
}

class CudaTile3Kernel : public ::testing::TestWithParam<std::tuple<int, int>> {
 protected:
  void SetUp() override {
    if (cuda_device_count() == 0)
      GTEST_SKIP() << "no CUDA device: the cuda backend tests need a GPU";
  }
};

TEST(CudaTile3, RefusesWhatItDoesNotTake) {
  cuda::IgemmDesc d = conv_desc(1, 16, 8, 8, 16, 3, 1);
  d.tile_m = 128;
  d.tile_n = 16;
  EXPECT_TRUE(cuda::tile3_supports(d) && cuda::tile3_tile_fits(d));
  EXPECT_FALSE(cuda::tile3_supports(conv_desc(1, 16, 8, 8, 16, 1, 1)));  // 1x1
  EXPECT_FALSE(cuda::tile3_supports(conv_desc(1, 16, 9, 9, 16, 3, 3)));  // stride 3
  cuda::IgemmDesc nopad = conv_desc(1, 16, 8, 8, 16, 3, 1);
  nopad.ph = nopad.pw = 0;
  nopad.oh = nopad.ow = 6;
  EXPECT_FALSE(cuda::tile3_supports(nopad));
  EXPECT_FALSE(cuda::tile3_supports(conv_desc(1, 12, 8, 8, 16, 3, 1)));  // C_in % 8
  d.tile_n = 128;
  EXPECT_FALSE(cuda::tile3_tile_fits(d));
  d.tile_n = 16;
  d.tile_m = 32;
  EXPECT_FALSE(cuda::tile3_tile_fits(d));
  EXPECT_EQ(cuda::launch_conv_tile3(d, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr),
            cudaErrorInvalidValue);
  d.tile_m = 128;
  EXPECT_EQ(cuda::launch_conv_tile3(d, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 17),
            cudaErrorInvalidValue);
  cuda::IgemmDesc strided = conv_desc(1, 16, 8, 8, 16, 3, 1);
  strided.x_ld = 20;  // not a multiple of 8
  EXPECT_FALSE(cuda::tile3_supports(strided));
  strided.x_ld = 8;  // shorter than C_in
  EXPECT_FALSE(cuda::tile3_supports(strided));
  strided.x_ld = 24;
  strided.z_ld = 36;
  EXPECT_FALSE(cuda::tile3_supports(strided));
  // A dual store needs NHWC output (checked before any pointer is used).
  cuda::IgemmDesc nchw = conv_desc(1, 16, 8, 8, 16, 3, 1);
  nchw.tile_m = 128;
  nchw.tile_n = 16;
  nchw.nchw_out = true;
  nchw.out2_ld = 16;
  alignas(16) static uint16_t buf[8];
  EXPECT_EQ(cuda::launch_conv_tile3(nchw, buf, buf, nullptr, nullptr, buf, nullptr, 0, buf),
            cudaErrorInvalidValue);
}

TEST_P(CudaTile3Kernel, MatchesHostConvolution) {
  const int tm = std::get<0>(GetParam()), tn = std::get<1>(GetParam());
  const uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  // 3 tiles per CTA: the pipeline runs across tiles, the last CTAs get fewer.
  for (int per_cta : {0, 3}) {
    const ConvKernelUnderTest kTile3 = tile3_kernel(per_cta);
    const std::string tile = "tile " + std::to_string(tm) + "x" + std::to_string(tn) + " per_cta " +
                             std::to_string(per_cta) + " seed " + std::to_string(seed);
    auto with_tile = [&](cuda::IgemmDesc d) {
      d.tile_m = tm;
      d.tile_n = tn;
      return d;
    };
    {
      ConvProblem p;  // stride 1 into a slice, bias + SiLU + residual
      p.d = with_tile(conv_desc(2, 24, 13, 19, 2 * tn - 8, 3, 1));
      p.d.silu = true;
      p.d.out_ld = p.d.cout + 16;
      p.offset = 8;
      check_conv_kernel(p, rng, "s1 slice " + tile, kTile3);
    }
    {
      ConvProblem p;  // stride 2, NCHW out, no bias / SiLU / residual
      p.d = with_tile(conv_desc(3, 16, 17, 9, tn + 8, 3, 2));
      p.d.nchw_out = true;
      p.bias = false;
      p.residual = false;
      check_conv_kernel(p, rng, "s2 nchw " + tile, kTile3);
    }
    {
      ConvProblem p;  // stride 1, 3 chunks, packed output
      p.d = with_tile(conv_desc(1, 48, 20, 20, tn, 3, 1));
      p.d.silu = true;
      p.residual = false;
      check_conv_kernel(p, rng, "s1 48ch " + tile, kTile3);
    }
    {
      ConvProblem p;  // stride 2, 4 chunks, residual
      p.d = with_tile(conv_desc(1, 64, 21, 35, 2 * tn, 3, 2));
      p.d.silu = true;
      check_conv_kernel(p, rng, "s2 64ch " + tile, kTile3);
    }
    {
      ConvProblem p;  // C_in 8: one half chunk
      p.d = with_tile(conv_desc(2, 8, 8, 8, tn, 3, 1));
      check_conv_kernel(p, rng, "s1 8ch " + tile, kTile3);
    }
    {
      ConvProblem p;  // stride 1, input and residual in longer rows, slice + dual store
      p.d = with_tile(conv_desc(2, 24, 11, 21, 2 * tn - 8, 3, 1));
      p.d.silu = true;
      p.d.x_ld = 40;
      p.x_off = 8;
      p.d.z_ld = p.d.cout + 24;
      p.z_off = 16;
      p.d.out_ld = p.d.cout + 8;
      p.offset = 8;
      p.dual = true;
      p.d.out2_ld = p.d.cout + 16;
      p.out2_offset = 16;
      check_conv_kernel(p, rng, "s1 strided dual " + tile, kTile3);
    }
    {
      ConvProblem p;  // stride 2, strided input, packed output + packed dual, no residual
      p.d = with_tile(conv_desc(1, 16, 19, 13, tn, 3, 2));
      p.d.x_ld = 48;
      p.x_off = 32;
      p.residual = false;
      p.dual = true;
      p.d.out2_ld = p.d.cout;
      check_conv_kernel(p, rng, "s2 strided dual " + tile, kTile3);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Tiles, CudaTile3Kernel,
                         ::testing::Combine(::testing::Values(64, 128),
                                            ::testing::Values(16, 32, 64)),
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
