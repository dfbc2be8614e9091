// The detector's GPU pre/post-processing against the CPU path: the checks of
// bench/gpu/pipeline_bench.cpp (fused letterbox on BGR/RGB/NV12 with and without a remap table;
// GPU NMS on clustered raw heads and end-to-end heads) with a fresh seed each run. Compiled only
// with -DFUNGEN_CUDA=ON; skipped when no GPU is present.
#ifdef FUNGEN_HAVE_CUDA

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "backends/cuda/frame_upload.h"
#include "bench/gpu/pipeline_checks.h"
#include "runtime/backend.h"

namespace fungen::test {
namespace {

TEST(GpuPipeline, LetterboxMatchesCpu) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  uint32_t seed = std::random_device{}();
  EXPECT_EQ(bench::check_preprocess(seed), 0) << "seed " << seed;
}

TEST(GpuPipeline, NmsMatchesCpu) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  uint32_t seed = std::random_device{}();
  EXPECT_EQ(bench::check_postprocess(seed), 0) << "seed " << seed;
}

// The upload row plan (backends/cuda/frame_upload.h) holds every row the letterbox kernel reads:
// preprocess.cu's vertical tap computed here operation by operation (volatile: each step rounded,
// no FMA), for many frame and input sizes. Host code only: runs without a GPU. (The GPU check
// with the skipped rows poisoned is in check_preprocess.)
TEST(GpuPipeline, UploadRowPlanCoversLetterboxReads) {
  std::mt19937 rng(std::random_device{}());
  const int inputs[][2] = {{640, 640}, {640, 384}, {1280, 1280}, {320, 256}};
  int checked = 0, partial = 0;
  for (int c = 0; c < 3000; ++c) {
    const int h = c < 100 ? c + 1 : 1 + static_cast<int>(rng() % 4400);
    const int w = 1 + static_cast<int>(rng() % 8000);
    const auto& in = inputs[rng() % std::size(inputs)];
    const LetterboxParams lp = letterbox_params(w, h, in[0], in[1]);
    const bool contiguous = rng() % 2 == 0;
    const auto runs = cuda::letterbox_row_runs(h, lp, in[1], contiguous);
    std::vector<char> sent(static_cast<size_t>(h), 0);
    size_t n = 0;
    for (const cuda::RowRun& r : runs) {
      ASSERT_TRUE(contiguous || r.rows == 1);
      ASSERT_GE(r.step, r.rows);  // a 2-D copy's pitch holds its width
      for (int k = 0; k < r.count; ++k)
        for (int b = 0; b < r.rows; ++b) {
          const int y = r.first + k * r.step + b;
          ASSERT_TRUE(y >= 0 && y < h) << "row " << y << " of " << h;
          sent[static_cast<size_t>(y)] = 1;
          ++n;
        }
    }
    partial += n < static_cast<size_t>(h) ? 1 : 0;
    const double scale = 1.0 / (static_cast<double>(lp.resized_height) / h);
    const int rows = std::min(lp.resized_height, in[1] - lp.top);
    for (int dy = 0; dy < rows; ++dy) {
      volatile double t = (dy + 0.5) * scale;
      volatile double v = t - 0.5;
      volatile float f = static_cast<float>(v);
      const int s = static_cast<int>(std::floor(f));
      volatile float frac = f - static_cast<float>(s);
      volatile float w1f = frac * 2048.f;
      const int w1 = static_cast<int>(std::nearbyint(w1f));
      const int ya = std::clamp(s, 0, h - 1), yb = std::clamp(s + 1, 0, h - 1);
      ASSERT_TRUE(sent[static_cast<size_t>(ya)] && (w1 == 0 || sent[static_cast<size_t>(yb)]))
          << w << "x" << h << " -> " << in[0] << "x" << in[1] << ": output row " << dy
          << " reads rows " << ya << (w1 ? " and " + std::to_string(yb) : "");
    }
    ++checked;
  }
  EXPECT_GT(partial, 0);  // some plans do leave rows out (else this tests nothing)
  // 1080p into 640: one strided copy of every third row.
  const auto r1080 =
      cuda::letterbox_row_runs(1080, letterbox_params(1920, 1080, 640, 640), 640, true);
  ASSERT_EQ(r1080.size(), 1u);
  EXPECT_EQ(r1080[0].count * r1080[0].rows, 360);
  EXPECT_EQ(checked, 3000);
}

}  // namespace
}  // namespace fungen::test

#endif  // FUNGEN_HAVE_CUDA
