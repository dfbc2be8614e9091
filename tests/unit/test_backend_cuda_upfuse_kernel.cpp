// The igemm and persistent 1x1 kernels reading their input from Concat pieces (igemm_pieces.h,
// launch_conv_igemm_pieces / launch_conv_igemm_1x1_persist with pieces), launched directly with
// every power-of-two CTA tile (and, persistent, forced walker counts), against a host 1x1
// convolution in double of the Concat the pieces stand for (fresh random fp16 values each run):
// 2x-upsampled pieces of odd source maps (7x9), plain pieces, both orders, three and four
// pieces, pieces lying in longer rows at a channel offset (the rest of the row a NaN the kernels
// must not read), bias + SiLU + residual, output into a slice of a longer row; and the shapes
// igemm_pieces_supports must refuse.
// Compiled only with -DFUNGEN_CUDA=ON; skipped when no GPU is present.
#ifdef FUNGEN_HAVE_CUDA

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <memory>
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

struct PieceSpec {
  int channels, shift, offset, extra;  // extra: row elements after the piece's channels
};

struct Case {
  const char* name;
  int n, h, w, cout;
  std::vector<PieceSpec> pieces;
  bool residual;
  int out_offset, out_extra;  // the output slice in rows of cout + offset + extra
};

const Case kCases[] = {
    {"up_then_plain_7x9", 2, 14, 18, 16, {{16, 1, 0, 0}, {24, 0, 0, 0}}, false, 0, 0},
    {"plain_then_up_7x9", 3, 14, 18, 24, {{24, 0, 8, 8}, {16, 1, 0, 8}}, true, 8, 16},
    {"three_pieces", 1, 10, 12, 40, {{8, 0, 0, 0}, {32, 1, 8, 0}, {16, 1, 0, 16}}, true, 0, 8},
    {"four_pieces",
     2,
     6,
     10,
     8,
     {{8, 1, 0, 0}, {8, 0, 0, 8}, {8, 1, 8, 0}, {16, 0, 0, 0}},
     false,
     0,
     0},
    {"yolo_model15_like", 1, 16, 16, 64, {{128, 1, 0, 0}, {128, 0, 0, 0}}, false, 0, 0},
};

struct DevicePieces {
  std::vector<std::unique_ptr<DeviceBuf>> bufs;
  cuda::IgemmPieces ps;
};

// One run of `launch` on fresh inputs; the output checked against the host convolution.
template <class Launch>
void check_case(const Case& c, int tm, int tn, std::mt19937& rng, const std::string& label,
                const Launch& launch) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  cuda::IgemmDesc d;
  d.n = c.n;
  d.h = d.oh = c.h;
  d.w = d.ow = c.w;
  d.cout = c.cout;
  d.silu = true;
  d.tile_m = tm;
  d.tile_n = tn;
  d.out_ld = c.cout + c.out_offset + c.out_extra;
  for (const PieceSpec& p : c.pieces) d.cin += p.channels;
  const int64_t m = static_cast<int64_t>(d.n) * d.h * d.w;
  // Host pieces (NaN outside each slice) and the Concat they stand for.
  std::vector<std::vector<uint16_t>> host(c.pieces.size());
  std::vector<float> cat(static_cast<size_t>(m * d.cin));
  DevicePieces dev;
  dev.ps.count = static_cast<int>(c.pieces.size());
  int c0 = 0;
  for (size_t i = 0; i < c.pieces.size(); ++i) {
    const PieceSpec& p = c.pieces[i];
    const int sh = d.h >> p.shift, sw = d.w >> p.shift;
    const int64_t ld = p.offset + p.channels + p.extra;
    host[i].assign(static_cast<size_t>(d.n * sh * sw * ld), kSentinel);
    for (int64_t q = 0; q < static_cast<int64_t>(d.n) * sh * sw; ++q)
      for (int ch = 0; ch < p.channels; ++ch)
        host[i][static_cast<size_t>(q * ld + p.offset + ch)] = to_half(u(rng));
    for (int64_t px = 0; px < m; ++px) {
      const int64_t img = px / (d.h * d.w), y = px / d.w % d.h, x = px % d.w;
      const int64_t q = (img * sh + (y >> p.shift)) * sw + (x >> p.shift);
      for (int ch = 0; ch < p.channels; ++ch)
        cat[static_cast<size_t>(px * d.cin + c0 + ch)] =
            from_half(host[i][static_cast<size_t>(q * ld + p.offset + ch)]);
    }
    dev.bufs.push_back(std::make_unique<DeviceBuf>(host[i].size() * 2));
    ASSERT_TRUE(dev.bufs.back()->p) << "cudaMalloc failed";
    ASSERT_EQ(
        cudaMemcpy(dev.bufs.back()->p, host[i].data(), host[i].size() * 2, cudaMemcpyHostToDevice),
        cudaSuccess);
    dev.ps.p[i].base = static_cast<const uint16_t*>(dev.bufs.back()->p) + p.offset;
    dev.ps.p[i].ld = ld;
    dev.ps.p[i].c0 = c0;
    dev.ps.p[i].shift = p.shift;
    c0 += p.channels;
  }
  ASSERT_TRUE(cuda::igemm_pieces_supports(d, dev.ps)) << label;
  const float ws = std::sqrt(3.0f / static_cast<float>(d.cin));
  std::vector<float> w(static_cast<size_t>(d.cout) * d.cin), bias(static_cast<size_t>(d.cout));
  for (auto& v : w) v = from_half(to_half(u(rng) * ws));
  for (auto& v : bias) v = u(rng);
  std::vector<uint16_t> z(static_cast<size_t>(m * d.cout));
  for (auto& v : z) v = to_half(u(rng));
  const std::vector<uint16_t> packed = cuda::pack_igemm_weights(w.data(), d);
  std::vector<uint16_t> out(static_cast<size_t>(m * d.out_ld), kSentinel);
  DeviceBuf dw(packed.size() * 2), db(bias.size() * 4), dz(z.size() * 2), dout(out.size() * 2);
  ASSERT_TRUE(dw.p && db.p && dz.p && dout.p) << "cudaMalloc failed";
  ASSERT_EQ(cudaMemcpy(dw.p, packed.data(), packed.size() * 2, cudaMemcpyHostToDevice),
            cudaSuccess);
  ASSERT_EQ(cudaMemcpy(db.p, bias.data(), bias.size() * 4, cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(dz.p, z.data(), z.size() * 2, cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(dout.p, out.data(), out.size() * 2, cudaMemcpyHostToDevice), cudaSuccess);
  void* dst = static_cast<uint16_t*>(dout.p) + c.out_offset;
  ASSERT_EQ(
      launch(d, dev.ps, dw.p, static_cast<const float*>(db.p), c.residual ? dz.p : nullptr, dst),
      cudaSuccess)
      << label;
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess) << label;
  ASSERT_EQ(cudaMemcpy(out.data(), dout.p, out.size() * 2, cudaMemcpyDeviceToHost), cudaSuccess);
  double err2 = 0, ref2 = 0;
  int64_t nonfinite = 0, bad_sentinel = 0;
  for (int64_t px = 0; px < m; ++px) {
    for (int64_t e = 0; e < d.out_ld; ++e) {
      const int64_t co = e - c.out_offset;
      const uint16_t got_bits = out[static_cast<size_t>(px * d.out_ld + e)];
      if (co < 0 || co >= d.cout) {
        bad_sentinel += got_bits != kSentinel;
        continue;
      }
      double acc = bias[static_cast<size_t>(co)];
      for (int k = 0; k < d.cin; ++k)
        acc += static_cast<double>(cat[static_cast<size_t>(px * d.cin + k)]) *
               w[static_cast<size_t>(co * d.cin + k)];
      acc = acc / (1.0 + std::exp(-acc));
      if (c.residual) acc += from_half(z[static_cast<size_t>(px * d.cout + co)]);
      const double got = from_half(got_bits);
      if (!std::isfinite(got)) ++nonfinite;
      err2 += (got - acc) * (got - acc);
      ref2 += acc * acc;
    }
  }
  EXPECT_EQ(nonfinite, 0) << label << ": outputs not written, not finite, or a NaN read";
  EXPECT_EQ(bad_sentinel, 0) << label << ": bytes outside the output slice were written";
  EXPECT_LE(std::sqrt(err2 / std::max(ref2, 1e-30)), 1e-2) << label;
}

class CudaUpfuseKernel : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    if (cuda_device_count() == 0)
      GTEST_SKIP() << "no CUDA device: the cuda backend tests need a GPU";
  }
};

TEST_P(CudaUpfuseKernel, EveryTileMatchesHostConv) {
  const Case& c = kCases[GetParam()];
  const uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  int persisted = 0;
  for (int tm : {64, 128}) {
    for (int tn : {16, 32, 64, 128}) {
      const std::string at = std::string(c.name) + " tile " + std::to_string(tm) + "x" +
                             std::to_string(tn) + " seed " + std::to_string(seed);
      check_case(c, tm, tn, rng, "igemm " + at,
                 [](const cuda::IgemmDesc& d, const cuda::IgemmPieces& ps, const void* w,
                    const float* b, const void* z, void* out) {
                   return cuda::launch_conv_igemm_pieces(d, ps, w, b, z, out, nullptr);
                 });
      cuda::IgemmDesc probe;
      probe.n = c.n;
      probe.h = probe.oh = c.h;
      probe.w = probe.ow = c.w;
      probe.cout = c.cout;
      probe.out_ld = c.cout;
      for (const PieceSpec& p : c.pieces) probe.cin += p.channels;
      probe.tile_m = tm;
      probe.tile_n = tn;
      if (!cuda::igemm_1x1_persist_supports(probe, 0)) continue;
      for (int walkers : {0, 1, 3}) {
        ++persisted;
        check_case(c, tm, tn, rng, "persistent walkers " + std::to_string(walkers) + " " + at,
                   [walkers](const cuda::IgemmDesc& d, const cuda::IgemmPieces& ps, const void* w,
                             const float* b, const void* z, void* out) {
                     return cuda::launch_conv_igemm_1x1_persist(d, nullptr, w, b, z, out, nullptr,
                                                                walkers, &ps);
                   });
      }
    }
  }
  EXPECT_GT(persisted, 0) << c.name << ": the persistent kernel took no tile";
}

INSTANTIATE_TEST_SUITE_P(Pieces, CudaUpfuseKernel,
                         ::testing::Range(0, static_cast<int>(std::size(kCases))),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::string(kCases[info.param].name);
                         });

// Shapes the kernels must refuse (the lowering then materializes the Concat).
TEST(CudaUpfuseKernelRefuses, UnsupportedShapes) {
  cuda::IgemmDesc d;
  d.n = 1;
  d.h = d.oh = 8;
  d.w = d.ow = 8;
  d.cin = 32;
  d.cout = 16;
  d.out_ld = 16;
  d.tile_m = 64;
  d.tile_n = 16;
  cuda::IgemmPieces ps;
  ps.count = 2;
  ps.p[0] = {nullptr, 16, 0, 1};
  ps.p[1] = {nullptr, 16, 16, 0};
  EXPECT_TRUE(cuda::igemm_pieces_supports(d, ps));
  auto refused = [&](auto change, const char* what) {
    cuda::IgemmDesc d2 = d;
    cuda::IgemmPieces p2 = ps;
    change(d2, p2);
    EXPECT_FALSE(cuda::igemm_pieces_supports(d2, p2)) << what;
  };
  refused([](cuda::IgemmDesc& x, cuda::IgemmPieces&) { x.tile_n = 48, x.cout = 48; }, "tile 48");
  refused([](cuda::IgemmDesc& x, cuda::IgemmPieces&) { x.kh = x.kw = 3, x.ph = x.pw = 1; }, "3x3");
  refused([](cuda::IgemmDesc& x, cuda::IgemmPieces&) { x.h = x.oh = 7; }, "odd H, shift 1");
  refused([](cuda::IgemmDesc&, cuda::IgemmPieces& p) { p.p[1].c0 = 12; }, "c0 12");
  refused([](cuda::IgemmDesc&, cuda::IgemmPieces& p) { p.p[0].ld = 12; }, "ld 12");
  refused([](cuda::IgemmDesc&, cuda::IgemmPieces& p) { p.p[0].shift = 2; }, "shift 2");
  refused([](cuda::IgemmDesc& x, cuda::IgemmPieces&) { x.x_ld = 40; }, "x_ld");
  refused([](cuda::IgemmDesc&, cuda::IgemmPieces& p) { p.count = 0; }, "no pieces");
}

}  // namespace
}  // namespace fungen::test

#endif  // FUNGEN_HAVE_CUDA
