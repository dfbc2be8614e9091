// decoder.h — demux + decode one video stream into frames in CPU memory, in presentation order.
#pragma once

#include <memory>
#include <string>

#include "fungen/status.h"
#include "fungen/video.h"
#include "video/ffmpeg_util.h"

namespace fungen::video {

struct DecodedFrame {
  FramePtr frame;     // CPU pixels (NVDEC frames are downloaded), format in frame->format
  int64_t index = 0;  // 0-based in presentation order
  double t_ms = 0;    // presentation time from the stream start
};

class Decoder {
 public:
  // Opens `path`; with DecodeDevice kAuto/kCuda tries NVDEC on the first frame and falls back to
  // the CPU (info().fallback_reason says why).
  static Result<std::unique_ptr<Decoder>> open(const std::string& path,
                                               const VideoOptions& options);
  ~Decoder();

  const VideoInfo& info() const { return info_; }
  // The next frame; false at a clean end. A read or decode error, a damaged frame or a file that
  // ends before its declared length is an error naming the frame and time where it happened.
  Result<bool> next(DecodedFrame& out);
  // Resumes after a frame already processed: seeks near `t_ms` and drops every frame whose time
  // is <= t_ms; the next frame gets index `next_index`. Frame-accurate for monotonic timestamps.
  Status skip_through(double t_ms, int64_t next_index);

  struct State;

 private:
  Decoder() = default;
  Status open_codec(bool use_cuda, std::string& fallback_reason);
  Result<bool> decode_one(AVFrame* out);
  double frame_time_ms(const AVFrame* f);
  Status check_complete() const;
  std::string damage_hint() const;

  std::string path_;
  VideoOptions options_;
  VideoInfo info_;
  FormatContextPtr format_;
  CodecContextPtr codec_;
  BufferRefPtr hw_device_;
  PacketPtr packet_;
  FramePtr pending_;  // a frame decoded by the NVDEC probe, returned first
  FramePtr hw_frame_;
  int stream_index_ = -1;
  double time_base_ms_ = 0;  // ms per timestamp tick
  int64_t start_pts_ = AV_NOPTS_VALUE;
  int64_t last_pts_ = AV_NOPTS_VALUE;
  double frame_ms_ = 0;  // nominal frame duration, for frames without timestamps
  double last_t_ms_ = -1;
  int64_t next_index_ = 0;
  bool draining_ = false;
  bool finished_ = false;
  bool using_cuda_ = false;
};

// Why NVDEC cannot take this stream ("" when it may): codec without an NVDEC decoder in this
// FFmpeg, 10-bit H.264, H.264 wider than 4096, ...
std::string cuda_unsupported_reason(const AVCodecParameters* par);
// Picks a decoder for `par` that offers CUDA hwaccel, or nullptr.
const AVCodec* find_cuda_decoder(const AVCodecParameters* par);
// Creates the CUDA device context; the error says why not (no driver, no device).
Result<BufferRefPtr> create_cuda_device(int device);

}  // namespace fungen::video
