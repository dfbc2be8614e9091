// frame_source.h — the first stages of the video pipeline: decode and sample (VR unwarp or
// resize to the model input) frames in presentation order, on threads of their own behind a
// bounded queue.
//
// One decode session: a decoder thread and a sampler thread. Several sessions (--decoders N, for
// when one decoder cannot keep up, e.g. NVDEC at 8K): the video is cut at keyframes into chunks
// of about `chunk_frames` frames; chunk i goes to session i mod N, which seeks to its keyframe,
// decodes and samples it; a merger takes chunks back in order and numbers the frames. Each
// session buffers at most one chunk of sampled (model-sized) frames, so memory stays bounded.
//
// NVDEC frames stay in GPU memory when a DeviceFrameSink or DeviceDetectFns is given and it takes
// them (with DeviceDetectFns they skip the sampler and reach the consumer as device frames);
// otherwise they are downloaded and sampled on the CPU.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fungen/video.h"
#include "video/bounded_queue.h"
#include "video/decoder.h"
#include "video/device_frame.h"

namespace fungen::video {

struct SampledFrame {
  int64_t index = 0;
  double t_ms = 0;
  Image image;  // empty when the frame stays on the device
  // A frame taken by FrameSourceOptions::device_detect: its copy in device memory (this reference
  // keeps the memory from being reused) and its description (device_frame.table set).
  FramePtr device;
  DeviceFrame device_frame;
};

struct FrameSourceOptions {
  VideoOptions decode;  // decode.threads: CPU decoder threads over all sessions
  int decoders = 0;     // parallel decode sessions; 0: auto (see auto_decoders)
  int chunk_frames = 64;
  size_t queue_capacity = 8;  // sampled frames waiting for the consumer
  DeviceFrameSink device_sink;
  DeviceDetectFns device_detect;  // takes precedence over device_sink (see device_frame.h)
  // Decode and sample threads run this much nicer (Linux) than the consumer's: they then fill the
  // cores the detector leaves idle (NMS, its serial phases) rather than slow its parallel ones.
  // Only matters while both compete for the CPU. FUNGEN_DECODE_NICE overrides it.
  int nice = 10;
  bool sample = true;  // false: decode only (benchmarks), the frames come out without pixels
};

// Sessions `auto` picks: NVDEC 4 (one session leaves NVDEC engines idle); CPU 1 session below 8
// cores (FFmpeg's frame threads use them), else one session per 4 cores up to 4.
int auto_decoders(bool cuda, int cores);

struct ChunkPlan {
  int64_t seek_ts = 0;    // keyframe timestamp to seek to (stream ticks, what av_seek_frame takes)
  int64_t begin_pts = 0;  // first presentation time of the chunk (the keyframe's pts)
};
// Keyframe-aligned chunks of about chunk_frames frames from the container's index; empty when
// the video cannot be split (no index, no timestamps, a single keyframe).
std::vector<ChunkPlan> plan_chunks(const std::string& path, int chunk_frames);

class FrameSource {
 public:
  // `decoder` is open and positioned (resumed runs have skipped already; they use one session).
  FrameSource(std::unique_ptr<Decoder> decoder, const RemapTable& table, FrameSourceOptions options,
              bool resumed);
  ~FrameSource();  // cancels and joins
  FrameSource(const FrameSource&) = delete;
  FrameSource& operator=(const FrameSource&) = delete;

  // The next sampled frame in presentation order; nullopt at the end, after an error or cancel.
  std::optional<SampledFrame> pop() { return out_.pop(); }
  void cancel();
  void join();

  // After pop() returned nullopt and join():
  bool reached_end() const { return reached_end_; }
  int64_t frames_pushed() const { return frames_pushed_; }
  const Status& decode_status() const { return decode_status_; }  // damaged video
  const Status& sample_status() const { return sample_status_; }  // anything else
  int sessions() const { return sessions_; }

  struct Session;

 private:
  void run_single(std::unique_ptr<Decoder> decoder);
  void run_parallel(std::unique_ptr<Decoder> first, std::vector<ChunkPlan> chunks);

  const RemapTable& table_;
  FrameSourceOptions options_;
  int rotation_ = 0;
  BoundedQueue<SampledFrame> out_;
  std::atomic<bool> cancelled_{false};
  std::vector<std::thread> threads_;
  std::vector<std::unique_ptr<Session>> session_state_;
  Status decode_status_, sample_status_;
  bool reached_end_ = false;
  int64_t frames_pushed_ = 0;
  int sessions_ = 1;
  int64_t declared_frames_ = 0;
  std::string path_;
  std::atomic<bool> declined_logged_{false};
};

}  // namespace fungen::video
