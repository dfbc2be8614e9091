// cuda_capture_guard.cpp — see cuda_capture_guard.h. A writer-preferring shared lock (glibc's
// rwlock, behind std::shared_mutex, prefers readers: eight decoder threads could starve a capture).
#include "util/cuda_capture_guard.h"

#include <condition_variable>
#include <mutex>

namespace fungen {
namespace {

struct Guard {
  std::mutex m;
  std::condition_variable cv;
  int shared = 0;        // threads inside a CudaCallScope
  int waiting = 0;       // captures waiting for the shared scopes to end
  bool capture = false;  // a capture scope is held
};

Guard& guard() {
  static Guard g;
  return g;
}

thread_local int t_call_depth = 0;     // CudaCallScopes open on this thread
thread_local int t_capture_depth = 0;  // CudaCaptureScopes open on this thread

}  // namespace

CudaCallScope::CudaCallScope(bool active) {
  if (!active) return;
  locked_ = true;
  if (t_call_depth++ > 0 || t_capture_depth > 0) return;  // nested: the outer scope holds it
  Guard& g = guard();
  std::unique_lock<std::mutex> lock(g.m);
  g.cv.wait(lock, [&] { return !g.capture && g.waiting == 0; });
  ++g.shared;
}

CudaCallScope::~CudaCallScope() {
  if (!locked_) return;
  if (--t_call_depth > 0 || t_capture_depth > 0) return;
  Guard& g = guard();
  std::lock_guard<std::mutex> lock(g.m);
  if (--g.shared == 0) g.cv.notify_all();
}

CudaCaptureScope::CudaCaptureScope() {
  if (t_capture_depth++ > 0 || t_call_depth > 0) return;
  locked_ = true;
  Guard& g = guard();
  std::unique_lock<std::mutex> lock(g.m);
  ++g.waiting;
  g.cv.wait(lock, [&] { return !g.capture && g.shared == 0; });
  --g.waiting;
  g.capture = true;
}

CudaCaptureScope::~CudaCaptureScope() {
  --t_capture_depth;
  if (!locked_) return;
  Guard& g = guard();
  std::lock_guard<std::mutex> lock(g.m);
  g.capture = false;
  g.cv.notify_all();
}

int cuda_call_scopes_held() {
  Guard& g = guard();
  std::lock_guard<std::mutex> lock(g.m);
  return g.shared;
}

bool cuda_capture_scope_held() {
  Guard& g = guard();
  std::lock_guard<std::mutex> lock(g.m);
  return g.capture;
}

}  // namespace fungen
