// cuda_device_info — the device and CUDA stack a plan file's fingerprint records.
#include <cuda_runtime.h>
#include <cudnn.h>

#include "backends/cuda/cuda_check.h"
#include "runtime/backend.h"

namespace fungen {

Result<CudaDeviceInfo> cuda_device_info(int device) {
  if (cuda_device_count() <= device) {
    return unsupported("no CUDA device: device " + std::to_string(device) +
                       " is not present (check nvidia-smi and the driver)");
  }
  CudaDeviceInfo info;
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  info.name = prop.name;
  info.major = prop.major;
  info.minor = prop.minor;
  CUDA_CHECK(cudaDriverGetVersion(&info.driver_version));
  CUDA_CHECK(cudaRuntimeGetVersion(&info.runtime_version));
  info.cudnn_version = cudnnGetVersion();
  return info;
}

}  // namespace fungen
