// Helpers of the cuda tests that drive a plan through DeviceRun::enqueue (the detector
// pipeline's path: the caller writes the input in the run's type) next to Engine::run.
// Compiled only with -DFUNGEN_CUDA=ON.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <vector>

#include "fungen/tensor.h"
#include "runtime/device_run.h"

namespace fungen::test {

// The input rounded to fp16 (what an fp16 DeviceRun caller writes), as fp32 and as fp16 bits.
inline Tensor round_to_half(const Tensor& t, std::vector<__half>& bits) {
  Tensor r(DType::kFloat32, t.shape());
  bits.resize(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) {
    bits[static_cast<size_t>(i)] = __float2half_rn(t.data<float>()[i]);
    r.data<float>()[i] = __half2float(bits[static_cast<size_t>(i)]);
  }
  return r;
}

// Writes `input` to the device run's input, enqueues, reads its outputs back (fp32).
inline std::vector<Tensor> enqueue_once(DeviceRun& run, const Tensor& input, size_t outputs) {
  const DeviceBuffer in = run.device_input(0);
  auto st = static_cast<cudaStream_t>(run.device_stream());
  std::vector<__half> bits;
  if (in.dtype == DType::kFloat16) {
    round_to_half(input, bits);
    EXPECT_EQ(cudaMemcpyAsync(in.data, bits.data(), bits.size() * sizeof(__half),
                              cudaMemcpyHostToDevice, st),
              cudaSuccess);
  } else {
    EXPECT_EQ(cudaMemcpyAsync(in.data, input.raw(), input.nbytes(), cudaMemcpyHostToDevice, st),
              cudaSuccess);
  }
  Status s = run.enqueue();
  EXPECT_TRUE(s.ok()) << s.message();
  std::vector<Tensor> got;
  for (size_t o = 0; o < outputs; ++o) {
    const DeviceBuffer out = run.device_output(o);
    Tensor t(DType::kFloat32, out.shape);
    EXPECT_EQ(cudaMemcpyAsync(t.raw(), out.data, t.nbytes(), cudaMemcpyDeviceToHost, st),
              cudaSuccess);
    got.push_back(std::move(t));
  }
  EXPECT_EQ(cudaStreamSynchronize(st), cudaSuccess);
  return got;
}

}  // namespace fungen::test
