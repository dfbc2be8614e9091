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
//    so a read outside the slice shows in the outputs.
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
#include "op_test_util.h"
#include "runtime/backend.h"

namespace fungen::test {
namespace {

constexpr uint16_t kSentinel = 0x7E01;  // a NaN in fp16

uint16_t to_half(float v) {
  const __half_raw r = __float2half_rn(v);
  return r.x;
}
float from_half(uint16_t bits) {
  __half_raw r;
  r.x = bits;
  return __half2float(__half(r));
}

// Device buffer freed at scope exit.
struct DeviceBuf {
  void* p = nullptr;
  explicit DeviceBuf(size_t bytes) {
    if (cudaMalloc(&p, bytes) != cudaSuccess) p = nullptr;
  }
  ~DeviceBuf() {
    if (p) cudaFree(p);
  }
  DeviceBuf(const DeviceBuf&) = delete;
  DeviceBuf& operator=(const DeviceBuf&) = delete;
};

struct Problem {
  cuda::IgemmDesc d;
  bool bias = true, residual = true;
  int64_t offset = 0;            // NHWC: channel offset of the slice in a row of d.out_ld
  int64_t x_off = 0, z_off = 0;  // channel offsets of x / z in rows of igemm_x_ld / igemm_z_ld
  bool persist = false;          // the persistent 1x1 kernel (conv_igemm_1x1.cuh)
  int walkers = 0;               // persistent: CTAs per N tile (0: as many as fit)
};

void check(const Problem& pr, std::mt19937& rng, const std::string& label) {
  const cuda::IgemmDesc& d = pr.d;
  ASSERT_TRUE(cuda::igemm_supports(d)) << label;
  if (pr.persist) {
    ASSERT_TRUE(cuda::igemm_1x1_persist_supports(d, 0)) << label;
  }
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const int64_t m = static_cast<int64_t>(d.n) * d.oh * d.ow;
  const int64_t x_ld = cuda::igemm_x_ld(d), z_ld = cuda::igemm_z_ld(d);
  ASSERT_LE(pr.x_off + d.cin, x_ld) << label;
  ASSERT_LE(pr.z_off + d.cout, z_ld) << label;
  const int64_t pixels = static_cast<int64_t>(d.n) * d.h * d.w;
  std::vector<uint16_t> x(static_cast<size_t>(pixels * x_ld), kSentinel);
  for (int64_t p = 0; p < pixels; ++p)
    for (int c = 0; c < d.cin; ++c)
      x[static_cast<size_t>(p * x_ld + pr.x_off + c)] = to_half(u(rng));
  const float ws = std::sqrt(3.0f / static_cast<float>(d.cin * d.kh * d.kw));
  std::vector<float> w(static_cast<size_t>(d.cout) * d.cin * d.kh * d.kw);
  for (auto& v : w) v = from_half(to_half(u(rng) * ws));  // the kernel sees fp16 weights
  std::vector<float> bias(static_cast<size_t>(d.cout));
  for (auto& v : bias) v = u(rng);
  std::vector<uint16_t> z(static_cast<size_t>(m * z_ld), kSentinel);
  for (int64_t p = 0; p < m; ++p)
    for (int c = 0; c < d.cout; ++c)
      z[static_cast<size_t>(p * z_ld + pr.z_off + c)] = to_half(u(rng));
  const std::vector<uint16_t> packed = cuda::pack_igemm_weights(w.data(), d);
  const size_t out_elems = d.nchw_out ? static_cast<size_t>(m) * d.cout
                                      : static_cast<size_t>(m) * static_cast<size_t>(d.out_ld);

  DeviceBuf dx(x.size() * 2), dw(packed.size() * 2), db(bias.size() * 4), dz(z.size() * 2),
      dout(out_elems * 2);
  ASSERT_TRUE(dx.p && dw.p && db.p && dz.p && dout.p) << "cudaMalloc failed";
  std::vector<uint16_t> out(out_elems, kSentinel);
  ASSERT_EQ(cudaMemcpy(dx.p, x.data(), x.size() * 2, cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(dw.p, packed.data(), packed.size() * 2, cudaMemcpyHostToDevice),
            cudaSuccess);
  ASSERT_EQ(cudaMemcpy(db.p, bias.data(), bias.size() * 4, cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(dz.p, z.data(), z.size() * 2, cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(dout.p, out.data(), out_elems * 2, cudaMemcpyHostToDevice), cudaSuccess);
  void* dst = static_cast<uint16_t*>(dout.p) + pr.offset;
  const void* xp = static_cast<const uint16_t*>(dx.p) + pr.x_off;
  const void* zp = static_cast<const uint16_t*>(dz.p) + pr.z_off;
  const float* bp = pr.bias ? static_cast<float*>(db.p) : nullptr;
  const void* zr = pr.residual ? zp : nullptr;
  ASSERT_EQ(pr.persist
                ? cuda::launch_conv_igemm_1x1_persist(d, xp, dw.p, bp, zr, dst, nullptr, pr.walkers)
                : cuda::launch_conv_igemm(d, xp, dw.p, bp, zr, dst, nullptr),
            cudaSuccess)
      << label;
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess) << label;
  ASSERT_EQ(cudaMemcpy(out.data(), dout.p, out_elems * 2, cudaMemcpyDeviceToHost), cudaSuccess);

  double err2 = 0, ref2 = 0;
  int64_t bad_sentinel = 0, nonfinite = 0;
  std::vector<bool> written(out_elems, false);
  for (int64_t p = 0; p < m; ++p) {
    const int64_t img = p / (d.oh * d.ow), pix = p % (d.oh * d.ow);
    const int64_t oy = pix / d.ow, ox = pix % d.ow;
    for (int co = 0; co < d.cout; ++co) {
      double acc = 0;
      for (int r = 0; r < d.kh; ++r) {
        const int64_t iy = oy * d.sh - d.ph + r;
        if (iy < 0 || iy >= d.h) continue;
        for (int s = 0; s < d.kw; ++s) {
          const int64_t ix = ox * d.sw - d.pw + s;
          if (ix < 0 || ix >= d.w) continue;
          const uint16_t* xr =
              &x[static_cast<size_t>(((img * d.h + iy) * d.w + ix) * x_ld + pr.x_off)];
          for (int c = 0; c < d.cin; ++c)
            acc += static_cast<double>(from_half(xr[c])) *
                   w[((static_cast<size_t>(co) * d.cin + c) * d.kh + r) * d.kw + s];
        }
      }
      if (pr.bias) acc += bias[static_cast<size_t>(co)];
      if (d.silu) acc = acc / (1.0 + std::exp(-acc));
      if (pr.residual) acc += from_half(z[static_cast<size_t>(p * z_ld + pr.z_off + co)]);
      const size_t at = d.nchw_out ? static_cast<size_t>((img * d.cout + co) * d.oh * d.ow + pix)
                                   : static_cast<size_t>(p * d.out_ld + pr.offset + co);
      written[at] = true;
      const double got = from_half(out[at]);
      if (!std::isfinite(got)) ++nonfinite;
      err2 += (got - acc) * (got - acc);
      ref2 += acc * acc;
    }
  }
  for (size_t i = 0; i < out_elems; ++i)
    if (!written[i] && out[i] != kSentinel) ++bad_sentinel;
  EXPECT_EQ(nonfinite, 0) << label << ": outputs not written or not finite";
  EXPECT_EQ(bad_sentinel, 0) << label << ": bytes outside the output slice were written";
  EXPECT_LE(std::sqrt(err2 / std::max(ref2, 1e-30)), 1e-2) << label;
}

cuda::IgemmDesc desc(int n, int cin, int h, int w, int cout, int k, int stride) {
  cuda::IgemmDesc d;
  d.n = n;
  d.cin = cin;
  d.h = h;
  d.w = w;
  d.cout = cout;
  d.kh = d.kw = k;
  d.sh = d.sw = stride;
  d.ph = d.pw = k / 2;
  d.oh = (h + 2 * d.ph - k) / stride + 1;
  d.ow = (w + 2 * d.pw - k) / stride + 1;
  d.out_ld = cout;
  return d;
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
    cuda::IgemmDesc d = desc(1, 16, 8, 8, tn + 16, 1, 1);
    d.tile_m = tm;
    d.tile_n = tn;
    EXPECT_FALSE(cuda::igemm_tile_fits(d)) << tile << ": C_out " << d.cout;
    d.cout = 3 * tn;
    EXPECT_TRUE(cuda::igemm_tile_fits(d)) << tile << ": C_out " << d.cout;
  }
  {
    Problem p;  // 3x3 s1 into a slice, bias + SiLU + residual
    p.d = desc(2, 24, 13, 11, exact ? 2 * tn : 2 * tn - 8, 3, 1);
    p.d.silu = true;
    p.d.out_ld = p.d.cout + 16;
    p.offset = 8;
    p.d.tile_m = tm;
    p.d.tile_n = tn;
    check(p, rng, "3x3s1 slice " + tile);
  }
  {
    Problem p;  // 3x3 s2, NCHW out, no bias / SiLU / residual
    p.d = desc(3, 16, 17, 9, exact ? tn : tn + 8, 3, 2);
    p.d.nchw_out = true;
    p.bias = false;
    p.residual = false;
    p.d.tile_m = tm;
    p.d.tile_n = tn;
    check(p, rng, "3x3s2 nchw " + tile);
  }
  {
    Problem p;  // 1x1 over 40 channels, bias + SiLU, packed output
    p.d = desc(1, 40, 19, 23, tn, 1, 1);
    p.d.silu = true;
    p.residual = false;
    p.d.tile_m = tm;
    p.d.tile_n = tn;
    check(p, rng, "1x1 " + tile);
  }
  {
    Problem p;  // 3x3 s1, input and residual read from Concat-like rows, output into a slice
    p.d = desc(2, 16, 11, 13, exact ? tn : tn + 8, 3, 1);
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
    Problem p;  // 1x1 over 32 channels at offset 16 of 48-channel rows, NCHW out (C3k's cv1)
    p.d = desc(3, 32, 9, 7, exact ? tn : tn - 8, 1, 1);
    p.d.x_ld = 48;
    p.x_off = 16;
    p.d.nchw_out = true;
    p.residual = false;
    p.d.tile_m = tm;
    p.d.tile_n = tn;
    check(p, rng, "1x1 strided in nchw " + tile);
  }
  {
    cuda::IgemmDesc d = desc(1, 16, 8, 8, 32, 1, 1);  // strides the kernel refuses
    d.x_ld = 20;                                      // not a multiple of 8
    EXPECT_FALSE(cuda::igemm_supports(d));
    d.x_ld = 8;  // shorter than C_in
    EXPECT_FALSE(cuda::igemm_supports(d));
    d.x_ld = 24;
    d.z_ld = 36;
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
    p.d = desc(n, cin, h, w, cout, 1, 1);
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
  cuda::IgemmDesc d = desc(1, 32, 8, 8, tn, 3, 1);  // not a 1x1
  d.tile_m = tm;
  d.tile_n = tn;
  EXPECT_FALSE(cuda::igemm_1x1_persist_supports(d, 0));
  d = desc(1, 32, 8, 8, tn, 1, 2);  // stride 2
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
