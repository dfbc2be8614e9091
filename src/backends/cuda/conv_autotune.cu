// Timing of candidate convolution kernels at plan time (conv_autotune.cuh).
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>

#include "backends/cuda/conv_autotune.cuh"
#include "backends/cuda/cuda_check.h"

namespace fungen::cuda {
namespace {

// Keeps the device busy for about `cycles` clock cycles (one thread), so that the launches
// queued behind it start back to back when it ends.
__global__ void busy_wait_kernel(long long cycles) {
  const long long start = clock64();
  while (clock64() - start < cycles) {
  }
}

constexpr size_t kAlign = 256;
std::atomic<int> g_timings{0};

// Destroys the events it holds.
struct Events {
  std::vector<cudaEvent_t> e;
  ~Events() {
    for (cudaEvent_t ev : e) cudaEventDestroy(ev);
  }
};

}  // namespace

DeviceScratch::~DeviceScratch() {
  if (block_) cudaFree(block_);
}

Status DeviceScratch::reserve(std::initializer_list<size_t> bytes, cudaStream_t stream) {
  if (block_) return internal_error("cuda autotune: scratch reserved twice");
  size_t total = 0;
  for (size_t b : bytes) total += (b + kAlign - 1) / kAlign * kAlign;
  if (total == 0) total = kAlign;
  const cudaError_t err = cudaMalloc(&block_, total);
  if (err != cudaSuccess) {
    block_ = nullptr;
    cudaGetLastError();  // clear the (non-sticky) allocation error
    return out_of_memory("cuda autotune: no device memory for " + std::to_string(total >> 20) +
                         " MiB of timing scratch; set FUNGEN_CUDA_IGEMM=0 or 1 to skip timing");
  }
  auto* base = static_cast<unsigned char*>(block_);
  size_t offset = 0;
  for (size_t b : bytes) {
    parts_.push_back(b ? base + offset : nullptr);
    offset += (b + kAlign - 1) / kAlign * kAlign;
  }
  CUDA_CHECK(cudaMemsetAsync(block_, 0x30, total, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
  return Status();
}

Result<float> median_launch_ms(cudaStream_t stream, const CandidateLaunch& launch, int warmup,
                               int samples) {
  samples = std::max(samples, 1);
  for (int i = 0; i < warmup; ++i) CUDA_CHECK(launch(stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
  Events ev;
  for (int i = 0; i <= samples; ++i) {
    cudaEvent_t e = nullptr;
    CUDA_CHECK(cudaEventCreate(&e));
    ev.e.push_back(e);
  }
  // ~1 ms at 2 GHz: time for the host to queue every launch (cuDNN's take ~10-50 us each).
  busy_wait_kernel<<<1, 1, 0, stream>>>(2'000'000);
  CUDA_CHECK(cudaGetLastError());
  CUDA_CHECK(cudaEventRecord(ev.e[0], stream));
  for (int i = 0; i < samples; ++i) {
    CUDA_CHECK(launch(stream));
    CUDA_CHECK(cudaEventRecord(ev.e[static_cast<size_t>(i) + 1], stream));
  }
  CUDA_CHECK(cudaStreamSynchronize(stream));
  std::vector<float> ms(static_cast<size_t>(samples));
  for (int i = 0; i < samples; ++i) {
    const auto k = static_cast<size_t>(i);
    CUDA_CHECK(cudaEventElapsedTime(&ms[k], ev.e[k], ev.e[k + 1]));
  }
  std::nth_element(ms.begin(), ms.begin() + samples / 2, ms.end());
  return ms[static_cast<size_t>(samples / 2)];
}

int conv_autotune_timings() {
  return g_timings.load();
}
void count_conv_autotune_timing() {
  ++g_timings;
}

}  // namespace fungen::cuda
