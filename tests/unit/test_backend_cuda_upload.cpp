// Weights and constants reach the device intact in every engine the cuda backend builds.
// Before CudaRun::upload, weights went up with a plain cudaMemcpy from pageable memory and a
// layout permute on the backend's non-blocking stream read them at once: cudaMemcpy may return
// before its DMA lands, and the non-blocking stream does not wait for the legacy stream, so the
// permute could read the staging buffer's old bytes (often the previous convolution's weights:
// finite, so the NaN-poisoned arena did not see it). Errors came and went from run to run and
// grew with the size of the weights (yolo12s, several batch sizes per engine).
// Here: convolutions with MiB-sized weights on a 4x4 image (the copies dominate, the compute is
// nothing), a depthwise one (own kernel) and a large constant operand, built in several engines
// (two with FUNGEN_CUDA_GEMM1X1=1) and at batches 1, 2, 1, 2, 1 in each (eager, captured and
// replayed at both), fresh inputs every run, fp32 (tight) and fp16.
// Compiled only with -DFUNGEN_CUDA=ON; skipped when no GPU is present.
#ifdef FUNGEN_HAVE_CUDA

#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "backends/cuda/cuda_run.h"
#include "backends/cuda/permute.cuh"
#include "cuda_test_util.h"
#include "fungen/engine.h"
#include "model_builder.h"
#include "op_test_util.h"
#include "runtime/backend.h"

namespace fungen::test {
namespace {

// conv without activation, weights uniform with variance 1/fan_in (activations stay O(1)).
void plain_conv(ModelBuilder& b, std::mt19937& rng, const std::string& x, const std::string& y,
                int64_t cin, int64_t cout, int64_t k, int64_t group) {
  const float r = std::sqrt(3.0f / static_cast<float>(cin / group * k * k));
  b.initializer(y + "_w", random_tensor({cout, cin / group, k, k}, rng, -r, r));
  b.initializer(y + "_b", random_tensor({cout}, rng, -0.5f, 0.5f));
  b.node("Conv", {x, y + "_w", y + "_b"}, {y}, conv_attrs(k, 1, group));
}

std::string big_weights_model(std::mt19937& rng) {
  ModelBuilder b(17);
  b.input("x", DType::kFloat32, {"N", 64, 4, 4});
  plain_conv(b, rng, "x", "c0", 64, 512, 3, 1);      // 1.2 MB of fp32 weights
  plain_conv(b, rng, "c0", "c1", 512, 512, 3, 1);    // 9.4 MB
  plain_conv(b, rng, "c1", "c2", 512, 256, 3, 1);    // 4.7 MB
  plain_conv(b, rng, "c2", "c3", 256, 256, 1, 1);    // 256 KB
  plain_conv(b, rng, "c3", "c4", 256, 256, 7, 256);  // depthwise 7x7 (own kernel)
  plain_conv(b, rng, "c4", "c5", 256, 256, 3, 1);    // 2.4 MB
  b.initializer("scale", random_tensor({1, 256, 4, 4}, rng, 0.5f, 1.5f));  // a constant upload
  b.node("Mul", {"c5", "scale"}, {"s"});
  plain_conv(b, rng, "s", "c6", 256, 128, 3, 1);  // 1.2 MB
  b.output("c2");
  b.output("c6");
  return b.build();
}

TEST(CudaWeightUpload, LargeWeightsExactInEveryEngine) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: the cuda backend tests need a GPU";
  const uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  const std::string bytes = big_weights_model(rng);
  std::span<const uint8_t> span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  auto ref = Engine::load_from_memory(span, {.backend = "reference"});
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  for (int engine = 0; engine < 4; ++engine) {
    // Engines 2 and 3 with the 1x1 convs as cuBLAS GEMMs (FUNGEN_CUDA_GEMM1X1=1).
    ScopedEnv gemm("FUNGEN_CUDA_GEMM1X1", engine >= 2 ? "1" : nullptr);
    for (const char* precision : {"fp32", "fp16"}) {
      auto gpu = Engine::load_from_memory(span, {.backend = "cuda", .precision = precision});
      ASSERT_TRUE(gpu.ok()) << gpu.status().message();
      const double tol = precision == std::string("fp16") ? 1e-2 : 1e-4;
      expect_batches_match(*ref, *gpu, {64, 4, 4}, {1, 2, 1, 2, 1}, tol, rng,
                           std::string(precision) + " engine " + std::to_string(engine) + " seed " +
                               std::to_string(seed));
      EXPECT_EQ(gpu->nodes_on("reference") + gpu->nodes_on("cpu"), 0u)
          << "every node should run on the GPU";
    }
  }
}

// The mechanism itself: host data from pageable memory copied to a staging buffer, then read at
// once by a kernel on a non-blocking stream (the weight permute's pattern), at 4 KiB .. 16 MiB.
// With cuda::upload_and_wait the kernel must see every new byte; how often the plain cudaMemcpy
// was read stale is printed per size as a diagnostic (whether this GPU and driver race at all).
TEST(CudaWeightUpload, UploadAndWaitLandsBeforeTheNextKernel) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: the cuda backend tests need a GPU";
  constexpr size_t kMax = size_t{4} << 20;  // floats
  constexpr int kTrials = 20;
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
  auto staging = cuda::device_alloc(kMax * sizeof(float));
  auto dst = cuda::device_alloc(kMax * sizeof(float));
  ASSERT_TRUE(staging && dst);
  std::vector<float> host(kMax);
  std::vector<uint16_t> half(kMax);
  // Fresh values each trial (the staging buffer holds the previous trial's): the number of the
  // n elements the kernel converted from old bytes.
  auto stale_after = [&](size_t n, bool plain, int trial) -> size_t {
    for (size_t i = 0; i < n; ++i) host[i] = static_cast<float>(trial * 7 + 1) + 1e-3f * (i % 997);
    if (plain) {
      EXPECT_EQ(cudaMemcpy(staging.get(), host.data(), n * sizeof(float), cudaMemcpyHostToDevice),
                cudaSuccess);
    } else {
      Status s =
          cuda::upload_and_wait(staging.get(), host.data(), n * sizeof(float), stream, "test data");
      EXPECT_TRUE(s.ok()) << s.message();
    }
    cuda::PermuteDesc flat;  // fp32 -> fp16 cast: a kernel, as the weight permute
    flat.rank = 1;
    flat.out_dims[0] = static_cast<int64_t>(n);
    flat.in_strides[0] = 1;
    cuda::launch_permute(cuda::Elem::kF32, cuda::Elem::kF16, staging.get(), dst.get(), flat,
                         stream);
    EXPECT_EQ(cudaGetLastError(), cudaSuccess);
    EXPECT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    EXPECT_EQ(cudaMemcpy(half.data(), dst.get(), n * 2, cudaMemcpyDeviceToHost), cudaSuccess);
    size_t stale = 0;
    for (size_t i = 0; i < n; ++i) {
      // fp16 (positive, normal) decoded by hand; trials differ by 7 in the integer part.
      const uint16_t h = half[i];
      const int exp = (h >> 10) & 0x1f;
      const float got = std::ldexp(1.0f + static_cast<float>(h & 0x3ff) / 1024.0f, exp - 15);
      stale += std::fabs(got - host[i]) > 0.02f * host[i] ? 1 : 0;
    }
    return stale;
  };
  int trial = 0;
  for (size_t n = 1024; n <= kMax; n *= 4) {
    int plain_stale = 0;
    for (int k = 0; k < kTrials; ++k) {
      plain_stale += stale_after(n, true, trial++) > 0 ? 1 : 0;
      EXPECT_EQ(stale_after(n, false, trial++), 0u) << "upload_and_wait of " << n * 4 << " bytes";
      trial %= 36;  // values stay below 256 (fp16 steps of 0.125 there)
    }
    std::printf(
        "diagnostic: plain cudaMemcpy of %zu KiB (pageable) read at once on a non-blocking "
        "stream: old bytes in %d of %d trials\n",
        n * 4 / 1024, plain_stale, kTrials);
  }
  cudaStreamDestroy(stream);
}

}  // namespace
}  // namespace fungen::test

#endif  // FUNGEN_HAVE_CUDA
