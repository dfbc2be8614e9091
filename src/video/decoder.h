// decoder.h — demux + decode one video stream into frames in CPU memory, in presentation order.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "fungen/status.h"
#include "fungen/video.h"
#include "video/ffmpeg_util.h"

namespace fungen::video {

struct DecodedFrame {
  FramePtr frame;     // CPU pixels, or AV_PIX_FMT_CUDA with keep_device_frames(true)
  int64_t pts = 0;    // in stream ticks (AV_NOPTS_VALUE when the frame has none)
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
  // One chunk of a video split among parallel decode sessions: seeks to the keyframe at seek_ts
  // (stream ticks; AV_NOPTS_VALUE: no seek, go on from here) and returns only frames with
  // begin_pts <= pts < end_pts (AV_NOPTS_VALUE: unbounded). The end of a chunk is a clean end,
  // and the container's frame count is not checked (the merger of the chunks does that).
  Status start_range(int64_t seek_ts, int64_t begin_pts, int64_t end_pts);
  // NVDEC frames stay in GPU memory (format AV_PIX_FMT_CUDA) instead of being downloaded.
  void keep_device_frames(bool keep) { keep_device_frames_ = keep; }
  bool using_cuda() const { return using_cuda_; }
  int stream_index() const { return stream_index_; }
  AVFormatContext* format_context() const { return format_.get(); }
  // Lowers the CPU priority (nice +`nice`, Linux) of FFmpeg's decoder threads and of the
  // calling thread: on a machine shared with inference, decoding then fills the cores the
  // detector leaves idle (its serial phases) instead of competing with its parallel ones.
  void lower_priority(int nice);

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
  bool keep_device_frames_ = false;
  std::vector<int> worker_tids_;  // FFmpeg's frame/slice threads of this decoder (Linux)
  bool ranged_ = false;
  int64_t range_begin_ = AV_NOPTS_VALUE, range_end_ = AV_NOPTS_VALUE;
};

// Why NVDEC cannot take this stream ("" when it may): codec without an NVDEC decoder in this
// FFmpeg, 10-bit H.264, H.264 wider than 4096, ...
std::string cuda_unsupported_reason(const AVCodecParameters* par);
// Picks a decoder for `par` that offers CUDA hwaccel, or nullptr.
const AVCodec* find_cuda_decoder(const AVCodecParameters* par);
// Creates the CUDA device context; the error says why not (no driver, no device).
Result<BufferRefPtr> create_cuda_device(int device);
// Copies an AV_PIX_FMT_CUDA frame to host memory (NV12/P010) with its properties.
Status download_frame(const AVFrame* device_frame, AVFrame* host);

}  // namespace fungen::video
