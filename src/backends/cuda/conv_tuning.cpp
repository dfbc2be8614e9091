#include "backends/cuda/conv_tuning.h"

#include <algorithm>
#include <string>

namespace fungen::cuda {
namespace {

const char* type_name(cudnnDataType_t t) {
  switch (t) {
    case CUDNN_DATA_HALF:
      return "f16";
    case CUDNN_DATA_FLOAT:
      return "f32";
    case CUDNN_DATA_BFLOAT16:
      return "bf16";
    default:
      return "other";
  }
}

std::string join(const int* v, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    if (i) s += ',';
    s += std::to_string(v[i]);
  }
  return s;
}

std::string tensor_part(cudnnTensorDescriptor_t t) {
  cudnnDataType_t dt{};
  int d[4] = {}, s[4] = {};
  if (cudnnGetTensor4dDescriptor(t, &dt, &d[0], &d[1], &d[2], &d[3], &s[0], &s[1], &s[2], &s[3]) !=
      CUDNN_STATUS_SUCCESS) {
    return "?";
  }
  // NHWC has the channel stride 1; the strides say the layout without listing them all.
  return join(d, 4) + "/" + type_name(dt) + (s[1] == 1 && d[1] > 1 ? "/nhwc" : "/nchw");
}

}  // namespace

std::string conv_tuning_key(cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w,
                            cudnnConvolutionDescriptor_t conv, cudnnTensorDescriptor_t y) {
  std::string key = "conv x=" + tensor_part(x);
  cudnnDataType_t wt{};
  cudnnTensorFormat_t wf{};
  int k[4] = {};
  if (cudnnGetFilter4dDescriptor(w, &wt, &wf, &k[0], &k[1], &k[2], &k[3]) == CUDNN_STATUS_SUCCESS) {
    key += " w=" + join(k, 4) + "/" + type_name(wt) + (wf == CUDNN_TENSOR_NHWC ? "/nhwc" : "/nchw");
  }
  int pad[2] = {}, str[2] = {}, dil[2] = {};
  cudnnConvolutionMode_t mode{};
  cudnnDataType_t compute{};
  if (cudnnGetConvolution2dDescriptor(conv, &pad[0], &pad[1], &str[0], &str[1], &dil[0], &dil[1],
                                      &mode, &compute) == CUDNN_STATUS_SUCCESS) {
    key += " pad=" + join(pad, 2) + " str=" + join(str, 2) + " dil=" + join(dil, 2) +
           " acc=" + type_name(compute) + (mode == CUDNN_CROSS_CORRELATION ? "" : " conv");
  }
  int groups = 1;
  cudnnGetConvolutionGroupCount(conv, &groups);
  cudnnMathType_t math{};
  cudnnGetConvolutionMathType(conv, &math);
  key += " g=" + std::to_string(groups) + " math=" + std::to_string(static_cast<int>(math)) +
         " y=" + tensor_part(y);
  return key;
}

bool use_tuned_conv(const CudaContext& ctx, const std::string& key, cudnnTensorDescriptor_t x,
                    cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t conv,
                    cudnnTensorDescriptor_t y, cudnnConvolutionFwdAlgo_t& algo, size_t& workspace) {
  if (!ctx.tuning) return false;
  auto hit = ctx.tuning->find(key);
  if (!hit || hit->algorithm < 0 || hit->algorithm >= CUDNN_CONVOLUTION_FWD_ALGO_COUNT) {
    return false;
  }
  cudnnMathType_t before{};
  if (cudnnGetConvolutionMathType(conv, &before) != CUDNN_STATUS_SUCCESS) return false;
  const auto tuned_algo = static_cast<cudnnConvolutionFwdAlgo_t>(hit->algorithm);
  const auto tuned_math = static_cast<cudnnMathType_t>(hit->math_type);
  if (cudnnSetConvolutionMathType(conv, tuned_math) != CUDNN_STATUS_SUCCESS) return false;
  size_t bytes = 0;
  // cuDNN refuses an algorithm that does not support this problem: then measure again.
  if (cudnnGetConvolutionForwardWorkspaceSize(ctx.cudnn, x, w, conv, y, tuned_algo, &bytes) !=
          CUDNN_STATUS_SUCCESS ||
      bytes > ctx.max_workspace) {
    cudnnSetConvolutionMathType(conv, before);
    return false;
  }
  algo = tuned_algo;
  workspace = std::max<size_t>(bytes, static_cast<size_t>(hit->workspace));
  return true;
}

void remember_conv(const CudaContext& ctx, const std::string& key, cudnnConvolutionFwdAlgo_t algo,
                   cudnnMathType_t math, size_t workspace) {
  if (!ctx.tuning) return;
  ctx.tuning->store(key, {.algorithm = static_cast<int32_t>(algo),
                          .math_type = static_cast<int32_t>(math),
                          .workspace = static_cast<uint64_t>(workspace)});
}

}  // namespace fungen::cuda
