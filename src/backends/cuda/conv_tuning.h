// conv_tuning.h — cuDNN convolution algorithm choices through the plan's tuning cache
// (runtime/tuning_cache.h): lower_conv asks here before cudnnFindConvolutionForwardAlgorithm and
// records what it picked after, so a plan built on this machine loads without measuring again.
#pragma once

#include <cudnn.h>

#include <string>

#include "backends/cuda/cuda_run.h"

namespace fungen::cuda {

// Names the convolution problem the descriptors set up (shapes, strides, pads, dilations,
// groups, data and compute types, layouts, math type), e.g.
// "conv x=1,3,640,640/f16/nhwc w=16,3,3,3/f16/nhwc pad=1,1 str=2,2 dil=1,1 g=1 math=1".
std::string conv_tuning_key(cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w,
                            cudnnConvolutionDescriptor_t conv, cudnnTensorDescriptor_t y);

// When ctx.tuning has a choice for `key` that cuDNN accepts for these descriptors (its workspace
// query succeeds and fits ctx.max_workspace), sets its math type on `conv`, fills `algo` and
// `workspace` and returns true; otherwise leaves everything unchanged and returns false.
bool use_tuned_conv(const CudaContext& ctx, const std::string& key, cudnnTensorDescriptor_t x,
                    cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t conv,
                    cudnnTensorDescriptor_t y, cudnnConvolutionFwdAlgo_t& algo, size_t& workspace);

// Records a measured choice in ctx.tuning (nothing without one).
void remember_conv(const CudaContext& ctx, const std::string& key, cudnnConvolutionFwdAlgo_t algo,
                   cudnnMathType_t math, size_t workspace);

}  // namespace fungen::cuda
