// The detector's GPU pre/post-processing against the CPU path: the checks of
// bench/gpu/pipeline_bench.cpp (fused letterbox on BGR/RGB/NV12 with and without a remap table;
// GPU NMS on clustered raw heads and end-to-end heads) with a fresh seed each run. Compiled only
// with -DFUNGEN_CUDA=ON; skipped when no GPU is present.
#ifdef FUNGEN_HAVE_CUDA

#include <gtest/gtest.h>

#include <random>

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

}  // namespace
}  // namespace fungen::test

#endif  // FUNGEN_HAVE_CUDA
