// conv_autotune.cuh — timing candidate kernels of one convolution while the plan is built
// (FUNGEN_CUDA_IGEMM=auto, lower_conv_igemm.cpp): the median device time of one launch, measured
// on the run's stream with events, on scratch buffers of the real shapes.
//
//   DeviceScratch s;
//   FUNGEN_RETURN_IF_ERROR(s.reserve({x_bytes, w_bytes, y_bytes}));   // s.ptr(0..2)
//   FUNGEN_ASSIGN_OR_RETURN(float ms, median_launch_ms(stream, [&](cudaStream_t st) {
//     return launch_conv_igemm(d, s.ptr(0), s.ptr(1), nullptr, nullptr, s.ptr(2), st);
//   }));
//
// The launches are queued behind a short busy-wait kernel, so the device runs them back to back
// as in the captured CUDA graph the plan replays: the host's launch cost (large for cuDNN's
// calls) is not measured, only the kernels and the gaps between them on the device.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "fungen/status.h"

namespace fungen::cuda {

// One cudaMalloc'd block cut into 256-byte aligned parts, filled with the bytes 0x30 (fp16
// 0.13, a small positive fp32): finite operands whose products cannot overflow. Freed by the
// destructor. Not counted in device_bytes_peak (it is gone before the run's arena exists).
class DeviceScratch {
 public:
  DeviceScratch() = default;
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;
  ~DeviceScratch();
  // Allocates the parts (0 bytes: a null part); an out-of-memory Status names the bytes asked.
  Status reserve(std::initializer_list<size_t> bytes, cudaStream_t stream);
  void* ptr(size_t part) const { return parts_[part]; }

 private:
  void* block_ = nullptr;
  std::vector<void*> parts_;
};

// A launch of the candidate on the stream: cudaSuccess or the error of the call that failed
// (cuDNN failures as cudaErrorUnknown; the caller's label says which library).
using CandidateLaunch = std::function<cudaError_t(cudaStream_t)>;

// Median milliseconds of one `launch` over `samples` timed launches after `warmup` untimed ones
// (the first launch of a kernel also loads its module). Waits for the stream.
Result<float> median_launch_ms(cudaStream_t stream, const CandidateLaunch& launch, int warmup = 2,
                               int samples = 5);

// Convolutions timed by FUNGEN_CUDA_IGEMM=auto since the process started (a plan loaded from a
// file replays its recorded choices: the tests check it times none).
int conv_autotune_timings();
void count_conv_autotune_timing();

}  // namespace fungen::cuda
