// Tests of util/cuda_capture_guard.h: a capture waits for every shared scope and excludes new
// ones, a waiting capture is not starved by threads that keep taking shared scopes, and scopes
// nest on one thread without deadlock. Plain threads, no GPU.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "util/cuda_capture_guard.h"

namespace fungen {
namespace {

using namespace std::chrono_literals;

TEST(CudaCaptureGuard, NestedScopesOnOneThread) {
  {
    CudaCallScope a;
    CudaCallScope b;  // nested: does not lock again
    EXPECT_EQ(cuda_call_scopes_held(), 1);
    CudaCaptureScope c;  // inside a shared scope of this thread: cannot wait for itself
    EXPECT_FALSE(cuda_capture_scope_held());
  }
  EXPECT_EQ(cuda_call_scopes_held(), 0);
  {
    CudaCaptureScope c;
    EXPECT_TRUE(cuda_capture_scope_held());
    CudaCallScope a;  // this thread's own calls during its capture
    CudaCaptureScope d;
    EXPECT_EQ(cuda_call_scopes_held(), 0);
  }
  EXPECT_FALSE(cuda_capture_scope_held());
  CudaCallScope off(false);
  EXPECT_EQ(cuda_call_scopes_held(), 0);
}

TEST(CudaCaptureGuard, CaptureWaitsForSharedScopesAndExcludesNewOnes) {
  std::atomic<bool> release{false}, captured{false}, capture_done{false};
  std::atomic<int> inside_during_capture{0};
  std::thread decoder([&] {
    CudaCallScope calls;
    while (!release) std::this_thread::sleep_for(1ms);
  });
  while (cuda_call_scopes_held() == 0) std::this_thread::sleep_for(1ms);
  std::thread capturer([&] {
    CudaCaptureScope capture;
    captured = true;
    std::this_thread::sleep_for(20ms);
    capture_done = true;
  });
  std::this_thread::sleep_for(30ms);
  EXPECT_FALSE(captured) << "the capture began while a shared scope was held";
  // A new shared scope must wait for the waiting capture (writer preference).
  std::atomic<bool> late_entered{false};
  std::thread late([&] {
    CudaCallScope calls;
    late_entered = true;
    if (captured && !capture_done) ++inside_during_capture;
  });
  std::this_thread::sleep_for(30ms);
  EXPECT_FALSE(late_entered) << "a shared scope overtook a waiting capture";
  release = true;
  decoder.join();
  capturer.join();
  late.join();
  EXPECT_TRUE(captured);
  EXPECT_TRUE(late_entered);
  EXPECT_EQ(inside_during_capture, 0);
  EXPECT_EQ(cuda_call_scopes_held(), 0);
  EXPECT_FALSE(cuda_capture_scope_held());
}

TEST(CudaCaptureGuard, BusyDecodersDoNotStarveCaptures) {
  std::atomic<bool> stop{false};
  std::atomic<int> violations{0};
  std::atomic<bool> capturing{false};
  std::vector<std::thread> decoders;
  for (int t = 0; t < 8; ++t) {
    decoders.emplace_back([&] {
      while (!stop) {
        CudaCallScope calls;  // back to back, overlapping across threads
        if (capturing) ++violations;
        std::this_thread::sleep_for(200us);
      }
    });
  }
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    CudaCaptureScope capture;
    capturing = true;
    std::this_thread::sleep_for(100us);
    capturing = false;
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  stop = true;
  for (auto& d : decoders) d.join();
  EXPECT_EQ(violations, 0);
  EXPECT_LT(s, 5.0) << "20 captures took " << s << " s beside 8 busy decoder threads";
}

}  // namespace
}  // namespace fungen
