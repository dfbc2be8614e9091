// cuda_check.h — error checks for CUDA, cuDNN and cuBLAS calls in host code. Each macro returns
// an internal-error Status naming the call, the library's message and file:line from the
// enclosing function (which returns Status or Result<T>).
//
//   CUDA_CHECK(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToDevice, stream));
//   CUDA_CHECK(cudaGetLastError());   // after each kernel launch
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <string>

#include "fungen/status.h"

namespace fungen::cuda {

inline Status cuda_error(const char* call, const char* what, const char* file, int line) {
  return internal_error(std::string(call) + " failed: " + what + " (" + file + ":" +
                        std::to_string(line) + ")");
}

}  // namespace fungen::cuda

#define CUDA_CHECK(expr)                                                                       \
  do {                                                                                         \
    cudaError_t fungen_cuda_err_ = (expr);                                                     \
    if (fungen_cuda_err_ != cudaSuccess) {                                                     \
      return ::fungen::cuda::cuda_error(#expr, cudaGetErrorString(fungen_cuda_err_), __FILE__, \
                                        __LINE__);                                             \
    }                                                                                          \
  } while (0)

#define CUDNN_CHECK(expr)                                                                        \
  do {                                                                                           \
    cudnnStatus_t fungen_cudnn_err_ = (expr);                                                    \
    if (fungen_cudnn_err_ != CUDNN_STATUS_SUCCESS) {                                             \
      return ::fungen::cuda::cuda_error(#expr, cudnnGetErrorString(fungen_cudnn_err_), __FILE__, \
                                        __LINE__);                                               \
    }                                                                                            \
  } while (0)

#define CUBLAS_CHECK(expr)                                                                \
  do {                                                                                    \
    cublasStatus_t fungen_cublas_err_ = (expr);                                           \
    if (fungen_cublas_err_ != CUBLAS_STATUS_SUCCESS) {                                    \
      return ::fungen::cuda::cuda_error(#expr, cublasGetStatusString(fungen_cublas_err_), \
                                        __FILE__, __LINE__);                              \
    }                                                                                     \
  } while (0)
