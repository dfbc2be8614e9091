// preprocess.cuh — the fused letterbox kernel behind detect/gpu_preprocess.h: 8-bit pixels
// (packed BGR/RGB or NV12, optionally through a remap table) → one model-input image of fp16 or
// fp32 RGB planes, bit-exact with the CPU path (see gpu_preprocess.h for the semantics).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "backends/cuda/elem.h"
#include "util/yuv_coeffs.h"

namespace fungen::cuda {

// YUV → BGR as in video/frame_sampler.cpp: y' = tap·y_scale + y_offset (the tap ×16384),
// c' = tap·c_scale + c_offset, then B = y' + b_u·u', G = y' + g_u·u' + g_v·v', R = y' + r_v·v'.
using fungen::YuvCoeffs;

struct LetterboxDesc {
  // Source pixels: packed (3 bytes, `rgb` says the order) or NV12 (plane0 Y, plane1 UV).
  bool nv12 = false, rgb = false;
  const uint8_t* plane0 = nullptr;
  const uint8_t* plane1 = nullptr;
  int pitch0 = 0, pitch1 = 0;
  int frame_width = 0, frame_height = 0;
  YuvCoeffs yuv{};
  // Remap table (x, y pairs) of map_width × map_height; null: the frame itself is the picture.
  const float2* map = nullptr;
  // The picture (frame or table) and where its resized copy goes in the input.
  int src_width = 0, src_height = 0;
  int resized_width = 0, resized_height = 0;
  int left = 0, top = 0;
  double scale_x = 1.0, scale_y = 1.0;  // src / resized, as OpenCV computes it
  // Destination: 3 planes of in_width × in_height elements.
  void* dst = nullptr;
  Elem elem = Elem::kF32;
  int in_width = 0, in_height = 0;
};

void launch_letterbox(const LetterboxDesc& d, cudaStream_t stream);
// `images` consecutive grey (114/255) images.
void launch_fill_padding(void* dst, Elem elem, int64_t elements, cudaStream_t stream);

}  // namespace fungen::cuda
