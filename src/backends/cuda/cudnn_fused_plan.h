// cudnn_fused_plan.h — one convolution and its epilogue (conv -> + bias -> SiLU as sigmoid and
// multiply -> + residual -> y, fp32 virtual tensors, fp16 NHWC data, y with any row length) as a
// cuDNN graph-API operation graph; the plan is cuDNN's first heuristic (mode A) engine config
// that builds and whose workspace fits. Used by lower_conv_fused.cpp (FUNGEN_CUDA_FUSED=1).
#pragma once

#include <cudnn.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "fungen/status.h"

namespace fungen::cuda {

// One backend descriptor, destroyed with its owner.
struct Desc {
  cudnnBackendDescriptor_t d = nullptr;
  ~Desc() {
    if (d) cudnnBackendDestroyDescriptor(d);
  }
};
using DescPtr = std::shared_ptr<Desc>;

// Everything the plan refers to, kept alive as long as it.
struct FusedPlan {
  std::vector<DescPtr> keep;
  DescPtr plan;
  int64_t workspace = 0;
};

// x NHWC [n,c,h,w] packed, w KRSC [k,c,r,s], y NHWC [n,k,oh,ow] with rows of out_ld elements.
struct FusedConvSpec {
  int64_t n, c, h, w, k, r, s, oh, ow, out_ld;
  int64_t pad[2], stride[2], dil[2];
  bool bias, silu, residual;
};

// kUnsupported (naming the cuDNN call and status) when no plan builds.
Result<std::shared_ptr<FusedPlan>> build_fused_plan(cudnnHandle_t handle, const FusedConvSpec& p,
                                                    size_t max_workspace);
// Runs the plan on the handle's stream; bias fp32 [k] (or null), z fp16 packed like y (or null).
Status execute_fused_plan(cudnnHandle_t handle, const FusedPlan& plan, const FusedConvSpec& p,
                          void* x, void* w, void* bias, void* z, void* y, void* workspace);

}  // namespace fungen::cuda
