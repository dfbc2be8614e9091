// pipeline.h — one video through decode → sample (unwarp or resize) → batched detection →
// writer, each stage on its own thread with bounded queues; resumable output.
#pragma once

#include <atomic>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "fungen/detector.h"
#include "fungen/video.h"
#include "video/device_frame.h"
#include "video/progress.h"
#include "video/writers/record_io.h"

namespace fungen::video {

// Runs the detector on a batch of frames: the Detector in production, a stand-in in tests.
using DetectBatchFn =
    std::function<Result<std::vector<std::vector<Detection>>>(std::span<const Frame>)>;

struct VideoJob {
  std::string video;
  std::string out;  // .jsonl or .msgpack; empty: decode and detect, write nothing
  VideoOptions decode;
  int decoders = 0;              // parallel decode sessions, 0: auto (frame_source.h)
  int decode_chunk_frames = 64;  // parallel sessions: frames per keyframe-aligned chunk (about)
  DeviceFrameSink device_sink;   // NVDEC frames go here in GPU memory when set and taken
  // NVDEC frames go straight to the GPU detector when set and taken (zero copy; see
  // device_frame.h); the batch then mixes nothing: each frame is detected on one path or the other.
  DeviceDetectFns device_detect;
  std::string vr = "auto";  // "auto", "none" or a parse_vr_format() spec
  UnwarpOptions view;
  int input_width = 640, input_height = 640;  // the model's input: 2D frames are scaled to fit
  int batch = 1;
  bool overwrite = false;
  ProgressMode progress = ProgressMode::kAuto;
  Json model_info;                          // goes into the header (model path, classes, ...)
  Json detect_settings;                     // goes into the header's settings
  const std::atomic<bool>* stop = nullptr;  // set by Ctrl-C: stop cleanly, keep the .part file
  int64_t stop_after_frames = -1;  // tests: behave as if stopped once this many frames are written
};

struct VideoJobResult {
  int64_t frames = 0;  // frames in the output (including resumed ones)
  int64_t frames_this_run = 0;
  int64_t resumed_from = 0;   // frames kept from an interrupted run
  int64_t device_frames = 0;  // frames detected straight from device memory (device_detect)
  bool skipped = false;       // a complete output already existed
  bool interrupted = false;
  double seconds = 0;
  VideoInfo info;
  std::string vr;  // the format used ("none" for 2D)
};

// Processes one video. A damaged video ends with an error Status after writing every frame
// before the damage and a footer {"complete": false, "error": ...}.
Result<VideoJobResult> run_video_job(const VideoJob& job, const DetectBatchFn& detect);

}  // namespace fungen::video
