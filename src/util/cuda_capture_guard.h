// cuda_capture_guard.h — CUDA-graph stream captures vs CUDA calls of other threads in the same
// context. Plain C++ (no CUDA): the video decoder (FFmpeg's NVDEC hwaccel) takes the shared side,
// the cuda backend the exclusive side, and a CPU-only build just never contends.
//
// Why: a capture (cudaStreamBeginCapture .. EndCapture) in one thread is invalidated by some
// calls other threads make in the same context meanwhile: a context or legacy-stream
// synchronize, cuMemFree (it synchronizes), NVDEC's map/unmap and decoder creation. FFmpeg makes
// such calls from the decoder threads; the capture then fails (cuDNN reports
// CUDNN_STATUS_EXECUTION_FAILED_CUDART) and the work runs eagerly. So every thread that calls
// into FFmpeg's CUDA code holds a shared scope around that call, and a capture holds the
// exclusive scope for the milliseconds it takes. The exclusive side is preferred: once a capture
// waits, new shared scopes wait for it (decoder threads never starve it).
//
//   { CudaCallScope calls(decoder_uses_cuda); avcodec_receive_frame(ctx, frame); }
//   { CudaCaptureScope capture; cudaStreamBeginCapture(...); ...; cudaStreamEndCapture(...); }
//
// Both scopes nest on one thread (only the outermost one locks). A capture scope opened by a
// thread that holds a shared scope does not lock (it cannot wait for itself); that thread's own
// calls are ordered anyway.
#pragma once

namespace fungen {

class CudaCallScope {
 public:
  explicit CudaCallScope(bool active = true);
  ~CudaCallScope();
  CudaCallScope(const CudaCallScope&) = delete;
  CudaCallScope& operator=(const CudaCallScope&) = delete;

 private:
  bool locked_ = false;
};

class CudaCaptureScope {
 public:
  CudaCaptureScope();
  ~CudaCaptureScope();
  CudaCaptureScope(const CudaCaptureScope&) = delete;
  CudaCaptureScope& operator=(const CudaCaptureScope&) = delete;

 private:
  bool locked_ = false;
};

// For tests: shared scopes held now (all threads), and whether a capture scope is held.
int cuda_call_scopes_held();
bool cuda_capture_scope_held();

}  // namespace fungen
