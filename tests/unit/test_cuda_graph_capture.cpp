// cuda::capture_graph (backends/cuda/graph_capture.h) against CUDA calls of other threads in the
// same context, as FFmpeg's NVDEC hwaccel makes them on decoder threads: legacy-stream and device
// synchronizes, cudaMalloc/cudaFree, work on the legacy stream.
//  - under the guard (util/cuda_capture_guard.h) every capture succeeds and no thread's call fails;
//  - a capture that fails (an illegal call inside it; or, without the guard, another thread's
//    call) leaves the stream and the runtime's last error clean: the same work then runs eagerly;
//    without the guard the failures are only counted and printed (how often depends on the driver).
// Compiled only with -DFUNGEN_CUDA=ON; skipped when no GPU is present.
#ifdef FUNGEN_HAVE_CUDA

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>

#include "backends/cuda/graph_capture.h"
#include "runtime/backend.h"
#include "util/cuda_capture_guard.h"

namespace fungen {
namespace {

constexpr size_t kBytes = 1 << 20;

struct Fixture {
  cudaStream_t stream = nullptr;
  unsigned char* buf = nullptr;
  Fixture() {
    EXPECT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
    EXPECT_EQ(cudaMalloc(&buf, kBytes), cudaSuccess);
  }
  ~Fixture() {
    cudaFree(buf);
    cudaStreamDestroy(stream);
  }
  // Twenty small nodes ending with every byte = value.
  Status enqueue(int value) const {
    for (int i = 0; i < 20; ++i) {
      cudaError_t e = cudaMemsetAsync(buf, (value + 19 - i) & 0xff, kBytes, stream);
      if (e != cudaSuccess) return internal_error(cudaGetErrorString(e));
    }
    return Status();
  }
  bool holds(int value) const {
    std::vector<unsigned char> h(kBytes);
    if (cudaMemcpy(h.data(), buf, kBytes, cudaMemcpyDeviceToHost) != cudaSuccess) return false;
    for (unsigned char c : h) {
      if (c != (value & 0xff)) return false;
    }
    return true;
  }
};

// Threads making NVDEC-like calls until `stop`; counts calls that failed.
std::vector<std::thread> decoder_threads(int n, bool guarded, std::atomic<bool>& stop,
                                         std::atomic<int>& failed_calls) {
  std::vector<std::thread> t;
  for (int k = 0; k < n; ++k) {
    t.emplace_back([&, guarded] {
      while (!stop) {
        CudaCallScope calls(guarded);
        void* p = nullptr;
        bool ok = cudaMalloc(&p, 1 << 16) == cudaSuccess;
        ok = ok && cudaMemsetAsync(p, 1, 1 << 16, cudaStreamLegacy) == cudaSuccess;
        ok = ok && cudaStreamSynchronize(cudaStreamLegacy) == cudaSuccess;
        if (p) ok = cudaFree(p) == cudaSuccess && ok;
        ok = cudaDeviceSynchronize() == cudaSuccess && ok;
        if (!ok) {
          ++failed_calls;
          cudaGetLastError();
        }
      }
    });
  }
  return t;
}

// Captures, launches and checks `rounds` times beside `threads` decoder-like threads; returns
// the failed captures. Every round's result must be right (eagerly after a failed capture).
int capture_rounds(int threads, bool guarded, int rounds, int& failed_calls_out) {
  Fixture f;
  std::atomic<bool> stop{false};
  std::atomic<int> failed_calls{0};
  auto t = decoder_threads(threads, guarded, stop, failed_calls);
  int failed = 0;
  for (int r = 0; r < rounds; ++r) {
    auto g = cuda::capture_graph(f.stream, [&] { return f.enqueue(r); });
    if (g.ok()) {
      EXPECT_EQ(cudaGraphLaunch(g.value(), f.stream), cudaSuccess);
      cudaGraphExecDestroy(g.value());
    } else {
      EXPECT_EQ(g.status().code(), StatusCode::kUnsupported) << g.status().message();
      ++failed;
      EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "a failed capture left an error behind";
      EXPECT_TRUE(f.enqueue(r).ok()) << "eager work after a failed capture";
    }
    EXPECT_EQ(cudaStreamSynchronize(f.stream), cudaSuccess);
    EXPECT_TRUE(f.holds(r)) << "round " << r << (g.ok() ? " (graph)" : " (eager)");
  }
  stop = true;
  for (auto& th : t) th.join();
  failed_calls_out = failed_calls;
  return failed;
}

TEST(CudaGraphCapture, GuardedCapturesSurviveOtherThreadsCudaCalls) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  int failed_calls = 0;
  int failed = capture_rounds(4, true, 200, failed_calls);
  EXPECT_EQ(failed, 0) << "captures failed under the guard";
  EXPECT_EQ(failed_calls, 0) << "decoder-like calls failed under the guard";
}

TEST(CudaGraphCapture, FailedCaptureLeavesTheStreamClean) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  Fixture f;
  // A synchronize of the capturing stream is illegal: the capture fails.
  auto g = cuda::capture_graph(f.stream, [&]() -> Status {
    FUNGEN_RETURN_IF_ERROR(f.enqueue(7));
    cudaError_t e = cudaStreamSynchronize(f.stream);
    return e == cudaSuccess ? Status() : internal_error(cudaGetErrorString(e));
  });
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), StatusCode::kUnsupported) << g.status().message();
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  cudaStreamCaptureStatus cs = cudaStreamCaptureStatusActive;
  EXPECT_EQ(cudaStreamIsCapturing(f.stream, &cs), cudaSuccess);
  EXPECT_EQ(cs, cudaStreamCaptureStatusNone);
  ASSERT_TRUE(f.enqueue(9).ok());
  EXPECT_EQ(cudaStreamSynchronize(f.stream), cudaSuccess);
  EXPECT_TRUE(f.holds(9));
  // And the next capture works.
  auto again = cuda::capture_graph(f.stream, [&] { return f.enqueue(11); });
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(cudaGraphLaunch(again.value(), f.stream), cudaSuccess);
  EXPECT_EQ(cudaStreamSynchronize(f.stream), cudaSuccess);
  EXPECT_TRUE(f.holds(11));
  cudaGraphExecDestroy(again.value());
}

}  // namespace
}  // namespace fungen

#endif  // FUNGEN_HAVE_CUDA
