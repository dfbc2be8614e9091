// The Detect head kernel (detect_head.cuh) launched directly, both variants (HeadKernel::kSplit,
// the default, and kAnchor, FUNGEN_CUDA_HEAD_KERNEL=old), on fresh random inputs against the
// head's formula on the host in double (the same fp16-rounded inputs):
//  - YOLO's shapes: 640x640 (8400 anchors) at batch 1, 384x640 (5040) at batch 3, 416x416 (3549:
//    odd, box rows one anchor per thread, class rows still vectors), fp16 into the fp32 output
//    staging and fp16 into fp16 (the TopK end-to-end form), fp32 runs;
//  - nc 5 / 7 / 6 (not multiples of the class vector of 4; with an odd A the class run too is
//    scalar), A even but not a multiple of 4, 8 bins, 20 bins (split falls back to kAnchor);
//  - pointers one element off their vector alignment (the launcher takes scalar accesses).
// Every element of y within 1e-4 (fp32 out) / 2e-3 (fp16 out) of the reference, relative to the
// size of the terms it sums (1 + |c| + s * sum_j |m0[k][j] * d[j]| for a box row, 1 for a score);
// no NaN sentinel left in y and those around it untouched; kSplit's class rows bit-identical to
// kAnchor's, its box rows within 1e-6 of them (fp16 out: 1e-3). Also sizes the launcher refuses.
// Compiled only with -DFUNGEN_CUDA=ON; skipped when no GPU is present.
#ifdef FUNGEN_HAVE_CUDA

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "backends/cuda/detect_head.cuh"
#include "cuda_conv_kernel_check.h"  // to_half, from_half, DeviceBuf
#include "op_test_util.h"
#include "runtime/backend.h"

namespace fungen::test {
namespace {

struct HeadKernelCase {
  const char* name;
  int batch, classes, anchors, bins;
  bool fp16_in, f32_out;
  int offset = 0;  // elements every pointer is moved past its allocation's start
};

const HeadKernelCase kCases[] = {
    {"yolo640_b1_fp16_to_f32", 1, 80, 8400, 16, true, true},
    {"yolo384x640_b3_fp16_to_f32", 3, 80, 5040, 16, true, true},
    {"yolo416_odd_b2_fp16_to_f32", 2, 80, 3549, 16, true, true},
    {"yolo640_b2_fp16_to_fp16", 2, 80, 8400, 16, true, false},
    {"nc5_odd_b3_fp16_to_fp16", 3, 5, 301, 16, true, false},
    {"nc6_a302_b1_fp16_to_f32", 1, 6, 302, 16, true, true},
    {"nc7_b3_fp32", 3, 7, 5040, 16, false, true},
    {"nc80_odd_b1_fp32", 1, 80, 3549, 16, false, true},
    {"bins8_b2_fp16", 2, 80, 8400, 8, true, true},
    {"bins20_b1_fp16", 1, 12, 304, 20, true, true},
    {"misaligned_b2_fp16", 2, 80, 5040, 16, true, true, 1},
    {"misaligned_b1_fp32", 1, 16, 304, 16, false, true, 1},
};

constexpr uint32_t kSentinelF32 = 0x7FC01234u;  // a NaN
constexpr int kPad = 16;                        // sentinel elements before and after y

struct HeadRun {
  std::vector<double> y;  // [B, 4 + nc, A] as doubles
  std::vector<uint8_t> bytes;
};

class CudaHeadKernel : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    if (cuda_device_count() == 0)
      GTEST_SKIP() << "no CUDA device: the cuda backend tests need a GPU";
  }
};

// Runs variant `k` on the inputs (host bytes in the input type) and returns y.
HeadRun run_head(const HeadKernelCase& c, cuda::HeadKernel k, const std::vector<uint8_t>& box,
                 const std::vector<uint8_t>& cls, const std::vector<float>& table,
                 cuda::HeadKernelDesc d) {
  d.kernel = k;
  const size_t in_size = c.fp16_in ? 2 : 4, out_size = c.f32_out ? 4 : 2;
  const size_t n_y = static_cast<size_t>(c.batch) * (4 + c.classes) * c.anchors;
  const size_t off_in = static_cast<size_t>(c.offset) * in_size;
  const size_t off_y = static_cast<size_t>(c.offset + kPad) * out_size;
  DeviceBuf dbox(box.size() + off_in), dcls(cls.size() + off_in);
  DeviceBuf dtab(table.size() * 4 + c.offset * 4), dy(n_y * out_size + off_y + kPad * out_size);
  HeadRun r;
  EXPECT_TRUE(dbox.p && dcls.p && dtab.p && dy.p) << "cudaMalloc failed";
  if (!dbox.p || !dcls.p || !dtab.p || !dy.p) return r;
  auto at = [](void* p, size_t off) { return static_cast<uint8_t*>(p) + off; };
  EXPECT_EQ(cudaMemcpy(at(dbox.p, off_in), box.data(), box.size(), cudaMemcpyHostToDevice),
            cudaSuccess);
  EXPECT_EQ(cudaMemcpy(at(dcls.p, off_in), cls.data(), cls.size(), cudaMemcpyHostToDevice),
            cudaSuccess);
  EXPECT_EQ(
      cudaMemcpy(at(dtab.p, c.offset * 4), table.data(), table.size() * 4, cudaMemcpyHostToDevice),
      cudaSuccess);
  // NaN everywhere in y and around it: an element the kernel skips shows.
  const size_t y_bytes = n_y * out_size + off_y + kPad * out_size;
  std::vector<uint8_t> fill(y_bytes);
  for (size_t i = 0; i + out_size <= y_bytes; i += out_size) {
    if (out_size == 4)
      std::memcpy(&fill[i], &kSentinelF32, 4);
    else
      std::memcpy(&fill[i], &kSentinel, 2);
  }
  EXPECT_EQ(cudaMemcpy(dy.p, fill.data(), y_bytes, cudaMemcpyHostToDevice), cudaSuccess);
  const cuda::Elem e = c.fp16_in ? cuda::Elem::kF16 : cuda::Elem::kF32;
  EXPECT_EQ(cuda::launch_detect_head(e, c.f32_out, at(dbox.p, off_in), at(dcls.p, off_in),
                                     reinterpret_cast<const float*>(at(dtab.p, c.offset * 4)),
                                     at(dy.p, off_y), d, nullptr),
            cudaSuccess);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  r.bytes.resize(y_bytes);
  EXPECT_EQ(cudaMemcpy(r.bytes.data(), dy.p, y_bytes, cudaMemcpyDeviceToHost), cudaSuccess);
  // Untouched before and after y.
  EXPECT_EQ(std::memcmp(r.bytes.data(), fill.data(), off_y), 0) << "bytes before y written";
  EXPECT_EQ(std::memcmp(r.bytes.data() + off_y + n_y * out_size, fill.data(), kPad * out_size), 0)
      << "bytes after y written";
  r.y.resize(n_y);
  for (size_t i = 0; i < n_y; ++i) {
    const uint8_t* p = r.bytes.data() + off_y + i * out_size;
    if (out_size == 4) {
      float v;
      std::memcpy(&v, p, 4);
      r.y[i] = v;
    } else {
      uint16_t h;
      std::memcpy(&h, p, 2);
      r.y[i] = from_half(h);
    }
  }
  return r;
}

TEST_P(CudaHeadKernel, BothVariantsMatchTheFormula) {
  const HeadKernelCase& c = kCases[GetParam()];
  const uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  SCOPED_TRACE(std::string(c.name) + " seed " + std::to_string(seed));
  const int B = c.batch, nc = c.classes, A = c.anchors, bins = c.bins;
  cuda::HeadKernelDesc d;
  d.batch = B;
  d.anchors = A;
  d.classes = nc;
  d.bins = bins;
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int i = 0; i < bins; ++i) d.w[i] = static_cast<float>(i);
  d.bias = 0.25f * u(rng);
  for (float& m : d.m0) m = u(rng);
  // Inputs rounded to the input type first: the reference sees what the kernel reads.
  const size_t n_box = static_cast<size_t>(B) * 4 * bins * A,
               n_cls = static_cast<size_t>(B) * nc * A;
  std::vector<double> box(n_box), cls(n_cls);
  std::vector<uint8_t> box_bytes, cls_bytes;
  auto fill = [&](std::vector<double>& v, std::vector<uint8_t>& bytes, float scale) {
    bytes.resize(v.size() * (c.fp16_in ? 2 : 4));
    for (size_t i = 0; i < v.size(); ++i) {
      const float x = scale * u(rng);
      if (c.fp16_in) {
        const uint16_t h = to_half(x);
        std::memcpy(&bytes[2 * i], &h, 2);
        v[i] = from_half(h);
      } else {
        std::memcpy(&bytes[4 * i], &x, 4);
        v[i] = x;
      }
    }
  };
  fill(box, box_bytes, 5.0f);
  fill(cls, cls_bytes, 8.0f);
  std::vector<float> table(static_cast<size_t>(5) * A);
  for (int a = 0; a < A; ++a) {
    table[a] = 8.0f * static_cast<float>(1 + (a % 3));  // the stride
    for (int k = 1; k < 5; ++k) table[static_cast<size_t>(k) * A + a] = 320.0f + 320.0f * u(rng);
  }
  // y on the host in double, and the size of the terms each element sums (errors scale with it).
  std::vector<double> want(static_cast<size_t>(B) * (4 + nc) * A);
  std::vector<double> scale(want.size(), 1.0);
  for (int b = 0; b < B; ++b) {
    for (int a = 0; a < A; ++a) {
      double dist[4];
      for (int j = 0; j < 4; ++j) {
        const double* x = &box[((static_cast<size_t>(b) * 4 + j) * bins) * A + a];
        double m = -1e300, sum = 0, acc = 0;
        for (int i = 0; i < bins; ++i) m = std::max(m, x[static_cast<size_t>(i) * A]);
        for (int i = 0; i < bins; ++i) {
          const double ex = std::exp(x[static_cast<size_t>(i) * A] - m);
          sum += ex;
          acc += ex * d.w[i];
        }
        dist[j] = acc / sum + d.bias;
      }
      for (int k = 0; k < 4; ++k) {
        double v = 0, terms = 0;
        for (int j = 0; j < 4; ++j) {
          v += d.m0[4 * k + j] * dist[j];
          terms += std::abs(d.m0[4 * k + j] * dist[j]);
        }
        const size_t i = (static_cast<size_t>(b) * (4 + nc) + k) * A + a;
        const double c0 = table[static_cast<size_t>(1 + k) * A + a];
        want[i] = table[a] * v + c0;
        scale[i] = 1.0 + std::abs(c0) + table[a] * terms;
      }
      for (int q = 0; q < nc; ++q) {
        const double x = cls[(static_cast<size_t>(b) * nc + q) * A + a];
        want[(static_cast<size_t>(b) * (4 + nc) + 4 + q) * A + a] = 1.0 / (1.0 + std::exp(-x));
      }
    }
  }
  const double tol = c.f32_out ? 1e-4 : 2e-3;
  HeadRun runs[2];
  const cuda::HeadKernel kinds[2] = {cuda::HeadKernel::kSplit, cuda::HeadKernel::kAnchor};
  for (int v = 0; v < 2; ++v) {
    runs[v] = run_head(c, kinds[v], box_bytes, cls_bytes, table, d);
    ASSERT_EQ(runs[v].y.size(), want.size());
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      if (!(std::abs(runs[v].y[i] - want[i]) <= tol * scale[i])) {
        if (bad++ == 0) first = i;
      }
    }
    EXPECT_EQ(bad, 0u) << (v == 0 ? "split" : "anchor") << " kernel: first at " << first << " got "
                       << runs[v].y[first] << " want " << want[first];
  }
  // The split kernel against the old one: class rows the same bits, box rows within 1e-6 of the
  // terms' size (an fp16 output: one fp16 step).
  const double same_tol = c.f32_out ? 1e-6 : 1e-3;
  size_t box_diff = 0, cls_diff = 0;
  for (int b = 0; b < B; ++b) {
    for (int r = 0; r < 4 + nc; ++r) {
      for (int a = 0; a < A; ++a) {
        const size_t i = (static_cast<size_t>(b) * (4 + nc) + r) * A + a;
        const double x = runs[0].y[i], y = runs[1].y[i];
        if (r >= 4)
          cls_diff += x != y;
        else
          box_diff += !(std::abs(x - y) <= same_tol * scale[i]);
      }
    }
  }
  EXPECT_EQ(cls_diff, 0u) << "class scores differ between the split and the old kernel";
  EXPECT_EQ(box_diff, 0u) << "box rows differ between the split and the old kernel";
}

INSTANTIATE_TEST_SUITE_P(Head, CudaHeadKernel,
                         ::testing::Range(0, static_cast<int>(std::size(kCases))),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::string(kCases[info.param].name);
                         });

TEST(CudaHeadKernelLaunch, RefusesSizesItDoesNotTake) {
  cuda::HeadKernelDesc d;
  d.batch = 1;
  d.anchors = 8400;
  d.classes = 80;
  d.bins = 33;  // more than kHeadMaxBins
  for (cuda::HeadKernel k : {cuda::HeadKernel::kSplit, cuda::HeadKernel::kAnchor}) {
    d.kernel = k;
    EXPECT_EQ(cuda::launch_detect_head(cuda::Elem::kF16, true, nullptr, nullptr, nullptr, nullptr,
                                       d, nullptr),
              cudaErrorInvalidValue);
  }
  d.bins = 16;
  d.anchors = 30000000;  // (4 + nc) * A past INT32_MAX
  EXPECT_EQ(cuda::launch_detect_head(cuda::Elem::kF16, true, nullptr, nullptr, nullptr, nullptr, d,
                                     nullptr),
            cudaErrorInvalidValue);
}

}  // namespace
}  // namespace fungen::test

#endif  // FUNGEN_HAVE_CUDA
