// graph_capture.cpp — see graph_capture.h.
#include "backends/cuda/graph_capture.h"

#include <string>

#include "fungen/log.h"
#include "util/cuda_capture_guard.h"

namespace fungen::cuda {

Result<cudaGraphExec_t> capture_graph(cudaStream_t stream, const std::function<Status()>& enqueue) {
  cudaGraph_t graph = nullptr;
  Status work;
  cudaError_t begin = cudaSuccess, end = cudaSuccess;
  {
    // No decoder thread makes a CUDA call (NVDEC map/unmap, syncs, frees) until the capture ends.
    CudaCaptureScope capture;
    begin = cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal);
    if (begin == cudaSuccess) {
      work = enqueue();
      end = cudaStreamEndCapture(stream, &graph);
    }
  }
  cudaGraphExec_t exec = nullptr;
  cudaError_t inst = cudaErrorUnknown;
  if (begin == cudaSuccess && work.ok() && end == cudaSuccess && graph)
    inst = cudaGraphInstantiate(&exec, graph, 0);
  if (graph) cudaGraphDestroy(graph);
  if (inst == cudaSuccess) return exec;
  // Failed: clear the error the capture left (not a sticky one) so eager launches start clean.
  cudaGetLastError();
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  cudaError_t q = cudaStreamIsCapturing(stream, &status);
  cudaGetLastError();
  if (q != cudaSuccess || status != cudaStreamCaptureStatusNone) {
    return internal_error(std::string("cuda: a failed graph capture left the stream unusable (") +
                          cudaGetErrorString(q != cudaSuccess ? q : end) +
                          "); rerun with FUNGEN_CUDA_GRAPHS=0");
  }
  std::string why = begin != cudaSuccess ? std::string("begin: ") + cudaGetErrorString(begin)
                    : !work.ok()         ? work.message()
                    : end != cudaSuccess ? std::string("end: ") + cudaGetErrorString(end)
                                         : std::string("instantiate: ") + cudaGetErrorString(inst);
  return unsupported(why);
}

bool CaptureRetry::failed(const char* who, const Status& why) {
  if (why.code() != StatusCode::kUnsupported) return false;
  ++failures_;
  if (failures_ == 1) {
    log(LogLevel::kInfo,
        "{}: CUDA graph capture failed ({}); this call runs eagerly, the capture is retried on "
        "later calls",
        who, why.message());
  }
  if (failures_ == kMaxFailures) {
    log(LogLevel::kInfo, "{}: CUDA graph capture failed {} times (last: {}); running eagerly", who,
        failures_, why.message());
  }
  return true;
}

}  // namespace fungen::cuda
