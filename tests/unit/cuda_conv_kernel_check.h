// Shared by the direct kernel tests of the own tensor-core convolutions
// (test_backend_cuda_igemm_kernel.cpp, test_backend_cuda_tile3_kernel.cpp): runs one kernel on a
// problem with fresh random fp16 inputs and compares every output with a host convolution in
// double of the same fp16-rounded values (relative L2 <= 1e-2); bytes outside the written output
// (a Concat-like slice) must keep a NaN sentinel. The input and residual may be read from longer
// rows (x_ld / z_ld, at a channel offset: a Split piece in its Concat slice; the rest of each row
// a NaN the kernel must not read), and the output written a second time (dual store, out2_ld):
// the same bits there, the rest untouched. With d.out_img_ld, images of the output lie that many
// elements apart (the anchor-major head input): pixel p of image b at b * out_img_ld + offset +
// p * out_ld, offset then holding the first row too.
//
//   ConvKernelUnderTest k{cuda::pack_igemm_weights, cuda::launch_conv_igemm, cuda::igemm_supports};
//   ConvProblem p{.d = conv_desc(2, 24, 13, 11, 40, 3, 1)};
//   check_conv_kernel(p, rng, "3x3s1", k);
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "backends/cuda/conv_igemm.cuh"

namespace fungen::test {

// The kernel under test: its weight packing, launch (the last argument out2, null unless the
// problem asks for the dual store) and support check.
struct ConvKernelUnderTest {
  std::function<std::vector<uint16_t>(const float*, const cuda::IgemmDesc&)> pack;
  std::function<cudaError_t(const cuda::IgemmDesc&, const void*, const void*, const float*,
                            const void*, void*, cudaStream_t, void*)>
      launch;
  std::function<bool(const cuda::IgemmDesc&)> supports;
};

inline constexpr uint16_t kSentinel = 0x7E01;  // a NaN in fp16

inline uint16_t to_half(float v) {
  const __half_raw r = __float2half_rn(v);
  return r.x;
}
inline float from_half(uint16_t bits) {
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

struct ConvProblem {
  cuda::IgemmDesc d;
  bool bias = true, residual = true;
  int64_t offset = 0;            // NHWC: channel offset of the slice in a row of d.out_ld
  int64_t x_off = 0, z_off = 0;  // channel offsets of x / z in rows of igemm_x_ld / igemm_z_ld
  bool dual = false;             // NHWC: also written at out2 (rows of d.out2_ld)
  int64_t out2_offset = 0;       // channel offset of the second slice
};

inline void check_conv_kernel(const ConvProblem& pr, std::mt19937& rng, const std::string& label,
                              const ConvKernelUnderTest& k) {
  const cuda::IgemmDesc& d = pr.d;
  ASSERT_TRUE(k.supports(d)) << label;
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
  const std::vector<uint16_t> packed = k.pack(w.data(), d);
  const size_t out_elems = d.nchw_out ? static_cast<size_t>(m) * d.cout
                           : d.out_img_ld > 0
                               ? static_cast<size_t>(d.n * d.out_img_ld)
                               : static_cast<size_t>(m) * static_cast<size_t>(d.out_ld);
  if (d.out_img_ld > 0) {
    ASSERT_LE(pr.offset + (static_cast<int64_t>(d.oh) * d.ow - 1) * d.out_ld + d.cout, d.out_img_ld)
        << label;
  }
  if (pr.dual) {
    ASSERT_FALSE(d.nchw_out) << label;
    ASSERT_LE(pr.out2_offset + d.cout, d.out2_ld) << label;
  }
  const size_t out2_elems = pr.dual ? static_cast<size_t>(m * d.out2_ld) : 1;

  DeviceBuf dx(x.size() * 2), dw(packed.size() * 2), db(bias.size() * 4), dz(z.size() * 2),
      dout(out_elems * 2), dout2(out2_elems * 2);
  ASSERT_TRUE(dx.p && dw.p && db.p && dz.p && dout.p && dout2.p) << "cudaMalloc failed";
  std::vector<uint16_t> out(out_elems, kSentinel), out2(out2_elems, kSentinel);
  ASSERT_EQ(cudaMemcpy(dx.p, x.data(), x.size() * 2, cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(dw.p, packed.data(), packed.size() * 2, cudaMemcpyHostToDevice),
            cudaSuccess);
  ASSERT_EQ(cudaMemcpy(db.p, bias.data(), bias.size() * 4, cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(dz.p, z.data(), z.size() * 2, cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(dout.p, out.data(), out_elems * 2, cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(dout2.p, out2.data(), out2_elems * 2, cudaMemcpyHostToDevice), cudaSuccess);
  void* dst = static_cast<uint16_t*>(dout.p) + pr.offset;
  void* dst2 = pr.dual ? static_cast<uint16_t*>(dout2.p) + pr.out2_offset : nullptr;
  const void* xp = static_cast<const uint16_t*>(dx.p) + pr.x_off;
  const void* zp = static_cast<const uint16_t*>(dz.p) + pr.z_off;
  ASSERT_EQ(k.launch(d, xp, dw.p, pr.bias ? static_cast<float*>(db.p) : nullptr,
                     pr.residual ? zp : nullptr, dst, nullptr, dst2),
            cudaSuccess)
      << label;
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess) << label;
  ASSERT_EQ(cudaMemcpy(out.data(), dout.p, out_elems * 2, cudaMemcpyDeviceToHost), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(out2.data(), dout2.p, out2_elems * 2, cudaMemcpyDeviceToHost), cudaSuccess);

  double err2 = 0, ref2 = 0;
  int64_t bad_sentinel = 0, nonfinite = 0, dual_differs = 0;
  std::vector<bool> written(out_elems, false), written2(out2_elems, false);
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
      const size_t at =
          d.nchw_out ? static_cast<size_t>((img * d.cout + co) * d.oh * d.ow + pix)
          : d.out_img_ld > 0
              ? static_cast<size_t>(img * d.out_img_ld + pr.offset + pix * d.out_ld + co)
              : static_cast<size_t>(p * d.out_ld + pr.offset + co);
      written[at] = true;
      if (pr.dual) {
        const size_t at2 = static_cast<size_t>(p * d.out2_ld + pr.out2_offset + co);
        written2[at2] = true;
        dual_differs += out2[at2] != out[at];
      }
      const double got = from_half(out[at]);
      if (!std::isfinite(got)) ++nonfinite;
      err2 += (got - acc) * (got - acc);
      ref2 += acc * acc;
    }
  }
  for (size_t i = 0; i < out_elems; ++i)
    if (!written[i] && out[i] != kSentinel) ++bad_sentinel;
  for (size_t i = 0; i < out2_elems; ++i)
    if (!written2[i] && out2[i] != kSentinel) ++bad_sentinel;
  EXPECT_EQ(dual_differs, 0) << label << ": the dual store differs from the output";
  EXPECT_EQ(nonfinite, 0) << label << ": outputs not written or not finite";
  EXPECT_EQ(bad_sentinel, 0) << label << ": bytes outside the output slice were written";
  EXPECT_LE(std::sqrt(err2 / std::max(ref2, 1e-30)), 1e-2) << label;
}

inline cuda::IgemmDesc conv_desc(int n, int cin, int h, int w, int cout, int k, int stride) {
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

}  // namespace fungen::test
