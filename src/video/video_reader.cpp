// video_reader.cpp — the public VideoReader: Decoder + FrameSampler.
#include "fungen/video.h"
#include "video/decoder.h"
#include "video/frame_sampler.h"

namespace fungen {

struct VideoReader::Impl {
  std::unique_ptr<video::Decoder> decoder;
  video::FrameSampler sampler;
  video::DecodedFrame decoded;
  RemapTable identity;  // the displayed frame, built on the first plain read()
};

VideoReader::VideoReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
VideoReader::VideoReader(VideoReader&&) noexcept = default;
VideoReader& VideoReader::operator=(VideoReader&&) noexcept = default;
VideoReader::~VideoReader() = default;

Result<VideoReader> VideoReader::open(const std::string& path, const VideoOptions& options) {
  auto impl = std::make_unique<Impl>();
  FUNGEN_ASSIGN_OR_RETURN(impl->decoder, video::Decoder::open(path, options));
  return VideoReader(std::move(impl));
}

const VideoInfo& VideoReader::info() const {
  return impl_->decoder->info();
}

Result<bool> VideoReader::read(VideoFrame& frame) {
  const VideoInfo& info = impl_->decoder->info();
  if (impl_->identity.width != info.width || impl_->identity.height != info.height) {
    impl_->identity = make_resize_table(info.width, info.height, info.width, info.height);
  }
  return read(frame, impl_->identity);
}

Result<bool> VideoReader::read(VideoFrame& frame, const RemapTable& table) {
  auto more = impl_->decoder->next(impl_->decoded);
  if (!more.ok() || !more.value()) return more;
  FUNGEN_RETURN_IF_ERROR(
      impl_->sampler.sample(impl_->decoded.frame.get(), info().rotation, table, frame.image));
  frame.index = impl_->decoded.index;
  frame.t_ms = impl_->decoded.t_ms;
  return true;
}

}  // namespace fungen
