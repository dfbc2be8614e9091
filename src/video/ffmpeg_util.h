// ffmpeg_util.h — RAII handles for FFmpeg objects and error text.
#pragma once

#include <memory>
#include <string>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/frame.h>
}

namespace fungen::video {

struct FormatContextDeleter {
  void operator()(AVFormatContext* c) const { avformat_close_input(&c); }
};
struct CodecContextDeleter {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct FrameDeleter {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct PacketDeleter {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct BufferRefDeleter {
  void operator()(AVBufferRef* b) const { av_buffer_unref(&b); }
};

using FormatContextPtr = std::unique_ptr<AVFormatContext, FormatContextDeleter>;
using CodecContextPtr = std::unique_ptr<AVCodecContext, CodecContextDeleter>;
using FramePtr = std::unique_ptr<AVFrame, FrameDeleter>;
using PacketPtr = std::unique_ptr<AVPacket, PacketDeleter>;
using BufferRefPtr = std::unique_ptr<AVBufferRef, BufferRefDeleter>;

inline FramePtr make_frame() {
  return FramePtr(av_frame_alloc());
}

// av_strerror's text for an FFmpeg error code.
std::string av_error_text(int code);

// Silences FFmpeg's own stderr chatter unless FUNGEN_LOG=debug (called once per process).
void quiet_ffmpeg_logs();

}  // namespace fungen::video
