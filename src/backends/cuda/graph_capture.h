// graph_capture.h — one CUDA-graph capture of work enqueued on a stream, safe against the
// decoder threads (util/cuda_capture_guard.h: no FFmpeg/NVDEC CUDA call runs meanwhile), and
// the retry policy its callers share: a failed capture leaves no error behind (the call then
// runs eagerly) and is tried again on later calls, a bounded number of times.
//
//   if (!exec_ && retry_.may_try()) {
//     auto g = capture_graph(stream, [&] { return enqueue(); });
//     if (g.ok()) exec_ = *g;
//     else if (!retry_.failed("cuda run", g.status())) return g.status();  // not a capture failure
//   }
//   if (exec_) CUDA_CHECK(cudaGraphLaunch(exec_, stream)); else FUNGEN_RETURN_IF_ERROR(enqueue());
#pragma once

#include <cuda_runtime.h>

#include <functional>

#include "fungen/status.h"

namespace fungen::cuda {

// Captures what `enqueue` puts on `stream` (thread-local capture mode) and instantiates it.
// kUnsupported: the capture failed (invalidated, a call refused during capture, instantiation
// failed); the stream is out of capture mode and the runtime's last error cleared, so the same
// work can be enqueued eagerly at once. Any other error: the stream is unusable.
Result<cudaGraphExec_t> capture_graph(cudaStream_t stream, const std::function<Status()>& enqueue);

// How often a caller tries to capture before staying eager for good.
class CaptureRetry {
 public:
  static constexpr int kMaxFailures = 4;
  bool may_try() const { return failures_ < kMaxFailures; }
  // Records a failed capture_graph (logged at info level on the first and the last try). False
  // when `why` is not a capture failure (the caller returns it).
  bool failed(const char* who, const Status& why);
  int failures() const { return failures_; }

 private:
  int failures_ = 0;
};

}  // namespace fungen::cuda
