// device_detect.h — the video pipeline's zero-copy detect stage: NVDEC frames (device_frame.h)
// through a Detector's GPU pipeline (detect/device_detect.h) with the video's remap table
// (VR unwarp or the resize to the model input) uploaded once, so a frame never leaves the GPU.
// Only builds with FUNGEN_HAVE_CUDA have it; elsewhere make_device_detect returns empty
// functions and says why (the CPU-only build references no CUDA symbol).
#pragma once

#include <string>

#include "fungen/detector.h"
#include "video/device_frame.h"

namespace fungen::video {

// Device-frame detection for one video job through `detector` (which must outlive the result and
// is used only from the job's detect thread) at up to `batch` frames per call. Empty (and `why`
// set) when the detector cannot take device frames: no CUDA in this build, not the cuda
// backend, the model not one GPU graph, the GPU pipeline off. Make one per video: the remap
// table is uploaded on its first batch.
DeviceDetectFns make_device_detect(Detector& detector, const DetectOptions& options, int batch,
                                   std::string& why);

// Why the GPU preprocessing cannot take this frame ("" when it can): 10-bit (P010) frames, a
// rotated video, a table made for another frame size.
std::string device_frame_declines(const DeviceFrame& frame);

}  // namespace fungen::video
