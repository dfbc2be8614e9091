// gpu_preprocess.h — letterboxing on the GPU, straight into a model's input buffer: one fused
// kernel reads 8-bit pixels in device memory (packed BGR24/RGB24, or NV12 as FFmpeg's CUDA
// hwaccel leaves it), optionally samples them through a remap table (VR unwarp), resizes,
// pads, swaps to RGB, divides by 255 and stores fp16 or fp32 CHW planes. Plain C++ (no CUDA
// types), so the video decoder can call it; the functions exist in builds with FUNGEN_HAVE_CUDA
// (src/backends/cuda/preprocess.cu).
//
//   gpu::DeviceFrame f{.format = gpu::PixelFormat::kNv12, .width = w, .height = h,
//                      .data = {av->data[0], av->data[1]}, .pitch = {av->linesize[0],
//                      av->linesize[1]}};
//   LetterboxParams p = letterbox_params(w, h, 640, 640);
//   Status s = gpu::letterbox_on_device(f, nullptr, p, input, gpu::InputType::kF16, 640, 640,
//   stream);
//
// Semantics, each the CPU path's to the bit (checked by bench/gpu/pipeline_bench.cpp):
// - the source picture is the frame, or, with a remap table, the table.width × table.height image
//   whose pixel i samples the frame at (xy[2i], xy[2i+1]) in coded-frame pixels (pixel centres at
//   integers, NaN: black) with the 7-bit bilinear taps of video/frame_sampler (build_taps);
// - an NV12 pixel is the FrameSampler's: luma and centre-sited chroma sampled bilinearly with
//   7-bit taps, then the BT.601/709/2020 matrix of the given range, rounded to 8 bits;
// - the letterbox is detect::letterbox_to_chw: OpenCV-exact INTER_LINEAR to the resized size of
//   `params` (computed for the source picture's size), 114 padding, RGB planes, value / 255.
#pragma once

#include <cstdint>

#include "fungen/detector.h"
#include "fungen/status.h"

namespace fungen::gpu {

enum class PixelFormat { kBgr24, kRgb24, kNv12 };
enum class YuvMatrix { kBt601, kBt709, kBt2020 };
enum class InputType { kF32, kF16 };

// 8-bit pixels in device memory. Packed formats use plane 0 only; NV12 has Y in plane 0 and
// interleaved U, V at half resolution in plane 1 (AVFrame data[0]/data[1], linesize[0]/[1]).
struct DeviceFrame {
  PixelFormat format = PixelFormat::kBgr24;
  int width = 0, height = 0;
  const uint8_t* data[2] = {nullptr, nullptr};
  int pitch[2] = {0, 0};  // bytes per row
  YuvMatrix matrix = YuvMatrix::kBt709;
  bool full_range = false;  // false: limited (16..235 luma), the usual video range
};

// A remap table in device memory: width × height pairs (x, y), row-major, float32.
struct DeviceRemap {
  const float* xy = nullptr;
  int width = 0, height = 0;
};

// Letterboxes one frame into one image (3 planes of input_width × input_height elements) of a
// model input in device memory, on `stream` (a cudaStream_t). `params` must be
// letterbox_params(source width, source height, input_width, input_height) where the source is
// the remap table's size when `remap` is given, else the frame's.
Status letterbox_on_device(const DeviceFrame& frame, const DeviceRemap* remap,
                           const LetterboxParams& params, void* dst, InputType type,
                           int input_width, int input_height, void* stream);

// Fills `images` grey (114/255) images of the model input at `dst` (static-batch padding).
Status fill_padding_on_device(void* dst, InputType type, int input_width, int input_height,
                              int images, void* stream);

// Copies a remap table's host x/y arrays into `xy` (device, 2·width·height floats), interleaved.
Status upload_remap_table(const float* x, const float* y, int width, int height, float* xy);

}  // namespace fungen::gpu
