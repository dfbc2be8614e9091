// conv_direct.cuh — convolutions the backend runs with its own kernels instead of cuDNN, each
// with the FusedConv epilogue folded in (out = act(conv + bias) + z, act identity or SiLU):
//  - depthwise (group == C_in == C_out): x, z NHWC, weights fp32 [kh][kw][C], bias fp32 [C];
//    one thread per output pixel and 16 bytes of channels when C allows (else one channel).
//  - small input channels (C_in <= kDirectMaxCin, the 3-channel first layer): x in the plain
//    NCHW layout (no layout pass first), weights fp32 [C_in][kh][kw][C_out], output NHWC; one
//    thread per output pixel and kDirectCoutChunk output channels.
// The output row of pixel p starts at out + p * out_ld (out_ld = C_out, or the row of a concat).
#pragma once

#include <cuda_runtime.h>

#include "backends/cuda/elem.h"

namespace fungen::cuda {

struct DirectConvDesc {
  int64_t n = 0, cin = 0, h = 0, w = 0;  // input
  int64_t cout = 0, oh = 0, ow = 0;      // output
  int kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0;
  bool silu = false;
  int64_t out_ld = 0;  // elements between output pixels (>= cout)
};

inline constexpr int64_t kDirectMaxCin = 4;
inline constexpr int kDirectCoutChunk = 16;

// Depthwise: cin == cout; z (or null) packed NHWC like the output.
void launch_depthwise_conv(Elem e, const void* x, const float* w, const float* bias, const void* z,
                           void* out, const DirectConvDesc& d, cudaStream_t stream);

// Small C_in: x plain NCHW; cout % kDirectCoutChunk == 0; no residual.
void launch_small_cin_conv(Elem e, const void* x, const float* w, const float* bias, void* out,
                           const DirectConvDesc& d, cudaStream_t stream);

// The 3-channel 3x3 first layer with C_out 16 or 32 (YOLO n/s/m... stems): the weights travel in
// the kernel's parameters (constant bank: every multiply takes its weight as an operand, no
// load), one thread per output pixel and 16 channels. w[chunk][ci][ky][kx][16], bias[C_out].
inline constexpr int kStemCin = 3, kStemK = 3, kStemMaxCout = 32;
struct StemWeights {
  float w[kStemMaxCout * kStemCin * kStemK * kStemK];
  float bias[kStemMaxCout];
};
bool stem_conv_fits(const DirectConvDesc& d);
void launch_stem_conv(Elem e, const void* x, const StemWeights& w, void* out,
                      const DirectConvDesc& d, cudaStream_t stream);

}  // namespace fungen::cuda
