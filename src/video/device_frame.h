// device_frame.h — an NVDEC frame left in GPU memory, handed to a GPU stage (e.g. the CUDA
// preprocessing kernel: remap + YUV→BGR + normalise into the model input) without a host copy.
// Plain C++ (no FFmpeg, no CUDA headers) so a .cu file or a g++ file can include it.
//
//   video::DeviceFrameSink sink = [&](const video::DeviceFrame& f, Image& out) -> Result<bool> {
//     if (!gpu_ready) return false;          // not taken: the pipeline downloads and uses the CPU
//     ... preprocess f.planes[0]/[1] on f.stream into the model input, fill `out` ...
//     return true;
//   };
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "fungen/detector.h"
#include "fungen/image.h"
#include "fungen/status.h"
#include "fungen/video.h"

namespace fungen::video {

enum class YuvMatrix { kBt601, kBt709, kBt2020 };

struct DeviceFrame {
  // NV12 (8-bit) or P010/P016 (10/12-bit in the high bits of 16-bit samples): planes[0] luma
  // (height rows), planes[1] interleaved UV (height/2 rows, width/2 pairs). Device pointers.
  const uint8_t* planes[2] = {nullptr, nullptr};
  int pitch[2] = {0, 0};      // bytes per row of each plane
  int width = 0, height = 0;  // coded (not rotated) size of the picture
  bool ten_bit = false;       // 16-bit samples (P010/P016) instead of 8-bit (NV12)
  YuvMatrix matrix = YuvMatrix::kBt601;
  bool full_range = false;  // JPEG range (0..255) instead of limited (16..235)
  int rotation = 0;         // clockwise degrees a player turns the picture (folded into the table)
  int cuda_device = 0;
  void* cuda_stream = nullptr;  // CUstream the decoder wrote on (nullptr: the default stream)
  // Output pixel → source position in the displayed (rotated) frame, host memory, the same table
  // for every frame of a video: upload once and keep it keyed by this pointer.
  const RemapTable* table = nullptr;
  int64_t index = 0;  // frame number in presentation order (within its decode session)
  double t_ms = 0;
};

// Consumes one device frame: returns true when it filled `out` (whatever the next stage takes:
// the sampled view as an Image today), false when it cannot take this frame (the pipeline then
// downloads it with av_hwframe_transfer_data and samples it on the CPU). The frame's memory is
// valid only during the call; finish or synchronise reads on cuda_stream before returning.
// Called from several threads at once when several decode sessions run (one call per session
// at a time).
using DeviceFrameSink = std::function<Result<bool>(const DeviceFrame& frame, Image& out)>;

// Detection straight from device frames (zero copy: the cuda backend's GPU pipeline letterboxes
// or unwarps from the NV12 planes). When set, NVDEC frames it takes skip the sampler: each one is
// copied device-to-device out of the decoder's surface (FFmpeg's NVDEC frames are its mapped
// surfaces, too few to hold a batch and parallel sessions' chunks) into an AVFrame of our own
// CUDA pool, which travels to the detect stage (one reference per queued frame) and is released
// after the batch's detect returns (it has then finished reading it on the GPU). No host copy.
// video/device_detect.h makes one from a Detector.
struct DeviceDetectFns {
  // "" when `detect` takes frames like this one, else why not (logged once; such frames are
  // downloaded and sampled on the CPU as without this).
  std::function<std::string(const DeviceFrame& frame)> declines;
  // Detections of each frame sampled through frame.table, in the table's pixels: what the
  // DetectBatchFn returns for the sampled image of the same frame (within fp16 differences).
  std::function<Result<std::vector<std::vector<Detection>>>(std::span<const DeviceFrame> frames)>
      detect;
  explicit operator bool() const { return declines && detect; }
};

}  // namespace fungen::video
