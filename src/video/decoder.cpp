#include "video/decoder.h"

#include <algorithm>

#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "fungen/log.h"
#include "util/cuda_capture_guard.h"

extern "C" {
#include <libavutil/display.h>
#include <libavutil/pixdesc.h>
}

namespace fungen::video {
namespace {

int rotation_from_display_matrix(const AVStream* st) {
  size_t size = 0;
  const uint8_t* data = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size);
  if (!data || size < 9 * sizeof(int32_t)) return 0;
  double ccw = av_display_rotation_get(reinterpret_cast<const int32_t*>(data));
  if (std::isnan(ccw)) return 0;
  // av_display_rotation_get is the counter-clockwise rotation of the picture; a player turns it
  // back, i.e. rotates clockwise by -ccw.
  int cw = static_cast<int>(std::lround(-ccw));
  cw = ((cw % 360) + 360) % 360;
  int snapped = ((cw + 45) / 90 * 90) % 360;
  if (snapped != cw) {
    log(LogLevel::kWarn, "rotation of {} degrees is not a multiple of 90; using {}", cw, snapped);
  }
  return snapped;
}

enum AVPixelFormat pick_cuda_format(AVCodecContext*, const enum AVPixelFormat* formats) {
  for (const enum AVPixelFormat* p = formats; *p != AV_PIX_FMT_NONE; ++p) {
    if (*p == AV_PIX_FMT_CUDA) return *p;
  }
  return formats[0];  // NVDEC refused: the first (software) format; the probe notices
}

// Thread ids of this process (Linux: /proc/self/task), empty elsewhere.
std::set<int> thread_ids() {
  std::set<int> ids;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    ids.insert(std::atoi(e.path().filename().c_str()));
  }
  return ids;
}

std::string time_text(double t_ms) {
  return fmt::format("{:.3f} s", t_ms / 1000.0);
}

}  // namespace

Decoder::~Decoder() {
  // Closing an NVDEC decoder destroys its surfaces and frees its pools (CUDA calls).
  CudaCallScope calls(using_cuda_ || hw_device_ != nullptr);
  pending_.reset();
  hw_frame_.reset();
  codec_.reset();
  hw_device_.reset();
}

Result<std::unique_ptr<Decoder>> Decoder::open(const std::string& path,
                                               const VideoOptions& options) {
  quiet_ffmpeg_logs();
  std::unique_ptr<Decoder> d(new Decoder());
  d->path_ = path;
  d->options_ = options;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return not_found(path + ": no such file");
  AVFormatContext* raw = nullptr;
  int rc = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);
  if (rc < 0) {
    return corrupt(path + ": cannot open as a video (" + av_error_text(rc) +
                   "); is the file complete and a format FFmpeg reads?");
  }
  d->format_.reset(raw);
  rc = avformat_find_stream_info(raw, nullptr);
  if (rc < 0) return corrupt(path + ": cannot read stream information (" + av_error_text(rc) + ")");
  rc = av_find_best_stream(raw, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (rc < 0) return invalid_argument(path + ": the file has no video stream");
  d->stream_index_ = rc;
  AVStream* st = raw->streams[rc];
  const AVCodecParameters* par = st->codecpar;
  if (par->width <= 0 || par->height <= 0) {
    return corrupt(path + ": the video stream has no frame size; the file may be damaged");
  }

  VideoInfo& info = d->info_;
  info.path = path;
  info.codec = avcodec_get_name(par->codec_id);
  info.coded_width = par->width;
  info.coded_height = par->height;
  info.rotation = rotation_from_display_matrix(st);
  bool swap = info.rotation == 90 || info.rotation == 270;
  info.width = swap ? par->height : par->width;
  info.height = swap ? par->width : par->height;
  AVRational rate = st->avg_frame_rate.num > 0 ? st->avg_frame_rate : st->r_frame_rate;
  info.fps = rate.num > 0 && rate.den > 0 ? av_q2d(rate) : 0.0;
  d->time_base_ms_ = av_q2d(st->time_base) * 1000.0;
  d->frame_ms_ = info.fps > 0 ? 1000.0 / info.fps : 0.0;
  if (st->duration != AV_NOPTS_VALUE && st->duration > 0) {
    info.duration_ms = st->duration * d->time_base_ms_;
  } else if (raw->duration != AV_NOPTS_VALUE && raw->duration > 0 && raw->nb_streams == 1) {
    info.duration_ms = raw->duration / 1000.0;  // AV_TIME_BASE is microseconds
  }
  info.frame_count = st->nb_frames > 0 ? st->nb_frames : 0;
  d->start_pts_ = st->start_time;
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(par->format));
  info.bit_depth = desc ? desc->comp[0].depth : 8;
  info.pixel_format = desc ? desc->name : "unknown";

  d->packet_.reset(av_packet_alloc());
  bool want_cuda = options.device != DecodeDevice::kCpu;
  std::string reason;
  if (want_cuda) {
    reason = cuda_unsupported_reason(par);
    if (reason.empty()) {
      CudaCallScope calls;  // creates (and maybe destroys) an NVDEC decoder
      Status s = d->open_codec(true, reason);
      if (s.ok()) {
        // Probe: the first frame must come out of NVDEC.
        FramePtr first = make_frame();
        auto got = d->decode_one(first.get());
        if (got.ok() && got.value() && d->using_cuda_) {
          d->pending_ = std::move(first);
        } else {
          reason = got.ok() ? "NVDEC produced no frame on the probe"
                            : "NVDEC probe failed: " + got.status().message();
          d->codec_.reset();
          d->hw_device_.reset();
          d->using_cuda_ = false;
          d->draining_ = false;
          d->last_pts_ = AV_NOPTS_VALUE;
          d->last_t_ms_ = -1;
          d->next_index_ = 0;
          av_seek_frame(raw, d->stream_index_,
                        st->start_time != AV_NOPTS_VALUE ? st->start_time : 0,
                        AVSEEK_FLAG_BACKWARD);
        }
      }
    }
  }
  if (!d->using_cuda_) {
    FUNGEN_RETURN_IF_ERROR(d->open_codec(false, reason));
    if (want_cuda) {
      info.fallback_reason = reason;
      log(options.device == DecodeDevice::kCuda ? LogLevel::kWarn : LogLevel::kInfo,
          "{}: decoding on the CPU: {}", path, reason);
    }
  }
  info.decoder = d->using_cuda_ ? "cuda" : "cpu";
  return d;
}

Status Decoder::open_codec(bool use_cuda, std::string& fallback_reason) {
  const AVCodecParameters* par = format_->streams[stream_index_]->codecpar;
  const AVCodec* codec = use_cuda ? find_cuda_decoder(par) : avcodec_find_decoder(par->codec_id);
  if (!codec) {
    if (use_cuda) {
      fallback_reason = "this FFmpeg has no NVDEC decoder for " + info_.codec;
      return unsupported(fallback_reason);
    }
    return unsupported(path_ + ": no decoder for codec '" + info_.codec +
                       "' in this FFmpeg build; re-encode to H.264 or HEVC");
  }
  CodecContextPtr ctx(avcodec_alloc_context3(codec));
  int rc = avcodec_parameters_to_context(ctx.get(), par);
  if (rc < 0) return internal_error(path_ + ": codec parameters: " + av_error_text(rc));
  ctx->pkt_timebase = format_->streams[stream_index_]->time_base;
  if (use_cuda) {
    auto dev = create_cuda_device(options_.cuda_device);
    if (!dev.ok()) {
      fallback_reason = dev.status().message();
      return dev.status();
    }
    hw_device_ = std::move(dev).value();
    ctx->hw_device_ctx = av_buffer_ref(hw_device_.get());
    ctx->get_format = pick_cuda_format;
    // Frames held downstream (queues, the sampler, a detect batch) while NVDEC goes on.
    ctx->extra_hw_frames = std::clamp(options_.extra_hw_frames, 1, 16);
  } else {
    ctx->thread_count = options_.threads;  // 0: FFmpeg picks one per core
    ctx->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
  }
  std::set<int> before = thread_ids();
  rc = avcodec_open2(ctx.get(), codec, nullptr);
  worker_tids_.clear();
  for (int tid : thread_ids()) {
    if (!before.count(tid)) worker_tids_.push_back(tid);
  }
  if (rc < 0) {
    if (use_cuda) {
      fallback_reason = "NVDEC decoder did not open (" + av_error_text(rc) + ")";
      return unsupported(fallback_reason);
    }
    return unsupported(path_ + ": cannot open the " + info_.codec + " decoder (" +
                       av_error_text(rc) + ")");
  }
  codec_ = std::move(ctx);
  using_cuda_ = use_cuda;
  return Status();
}

double Decoder::frame_time_ms(const AVFrame* f) {
  int64_t pts = f->best_effort_timestamp;
  if (pts == AV_NOPTS_VALUE) pts = f->pts;
  if (pts == AV_NOPTS_VALUE) {
    // No timestamp: one nominal frame after the previous one.
    double t = last_t_ms_ < 0 ? 0.0 : last_t_ms_ + frame_ms_;
    return t;
  }
  if (start_pts_ == AV_NOPTS_VALUE) start_pts_ = pts;
  last_pts_ = pts;
  return static_cast<double>(pts - start_pts_) * time_base_ms_;
}

// Decodes one frame into `out` (a hardware frame stays in device memory here). False at the end.
Result<bool> Decoder::decode_one(AVFrame* out) {
  AVCodecContext* ctx = codec_.get();
  while (true) {
    int rc = avcodec_receive_frame(ctx, out);
    if (rc == 0) {
      if (using_cuda_ && out->format != AV_PIX_FMT_CUDA) {
        return unsupported(
            "the decoder returned " +
            std::string(av_get_pix_fmt_name(static_cast<AVPixelFormat>(out->format))) +
            " frames instead of CUDA ones");
      }
      if (out->decode_error_flags != 0 || (out->flags & AV_FRAME_FLAG_CORRUPT)) {
        double t = frame_time_ms(out);
        av_frame_unref(out);
        return corrupt(fmt::format("{}: frame {} (at {}) did not decode cleanly; {}", path_,
                                   next_index_, time_text(t), damage_hint()));
      }
      return true;
    }
    if (rc == AVERROR_EOF) return false;
    if (rc != AVERROR(EAGAIN)) {
      return corrupt(fmt::format("{}: decoding failed at frame {} (after {}): {}; {}", path_,
                                 next_index_, time_text(std::max(last_t_ms_, 0.0)),
                                 av_error_text(rc), damage_hint()));
    }
    if (draining_) return false;
    AVPacket* pkt = packet_.get();
    rc = av_read_frame(format_.get(), pkt);
    if (rc == AVERROR_EOF) {
      draining_ = true;
      avcodec_send_packet(ctx, nullptr);
      continue;
    }
    if (rc < 0) {
      return corrupt(fmt::format(
          "{}: reading failed after frame {} (at {}): {}; the file is damaged "
          "or truncated",
          path_, next_index_ - 1, time_text(std::max(last_t_ms_, 0.0)), av_error_text(rc)));
    }
    if (pkt->stream_index != stream_index_) {
      av_packet_unref(pkt);
      continue;
    }
    rc = avcodec_send_packet(ctx, pkt);
    av_packet_unref(pkt);
    if (rc < 0 && rc != AVERROR(EAGAIN)) {
      return corrupt(fmt::format("{}: frame data after frame {} (at {}) cannot be decoded: {}; {}",
                                 path_, next_index_ - 1, time_text(std::max(last_t_ms_, 0.0)),
                                 av_error_text(rc), damage_hint()));
    }
  }
}

std::string Decoder::damage_hint() const {
  if (format_->pb && avio_feof(format_->pb)) {
    return "the file ends in the middle of the video: it looks truncated (an interrupted "
           "download or copy?)";
  }
  return "the file is damaged from here";
}

Status Decoder::check_complete() const {
  const char* hint = "; the file looks truncated (an interrupted download or copy?)";
  if (info_.frame_count > 0 && next_index_ < info_.frame_count) {
    return corrupt(
        fmt::format("{}: the video ends after {} of the {} frames its container declares{}", path_,
                    next_index_, info_.frame_count, hint));
  }
  if (info_.frame_count == 0 && info_.duration_ms > 0 && frame_ms_ > 0) {
    double end = last_t_ms_ + frame_ms_;
    if (end + 2 * frame_ms_ + 50 < info_.duration_ms) {
      return corrupt(fmt::format("{}: the video ends at {} but its container declares {}{}", path_,
                                 time_text(end), time_text(info_.duration_ms), hint));
    }
  }
  return Status();
}

Result<bool> Decoder::next(DecodedFrame& out) {
  if (finished_) return false;
  // NVDEC: send_packet/receive_frame decode and map surfaces, unref unmaps them (CUDA calls).
  CudaCallScope calls(using_cuda_);
  if (!out.frame) out.frame = make_frame();
  AVFrame* target = out.frame.get();
  const bool download = using_cuda_ && !keep_device_frames_;
  if (download && !hw_frame_) hw_frame_ = make_frame();
  AVFrame* decoded = download ? hw_frame_.get() : target;
  while (true) {
    av_frame_unref(target);
    av_frame_unref(decoded);
    if (pending_) {
      av_frame_move_ref(decoded, pending_.get());
      pending_.reset();
    } else {
      auto got = decode_one(decoded);
      if (!got.ok()) {
        finished_ = true;
        return got.status();
      }
      if (!got.value()) {
        finished_ = true;
        if (!ranged_) FUNGEN_RETURN_IF_ERROR(check_complete());
        return false;
      }
    }
    if (!ranged_) break;
    int64_t pts = decoded->best_effort_timestamp;
    if (pts == AV_NOPTS_VALUE) pts = decoded->pts;
    if (pts != AV_NOPTS_VALUE && range_begin_ != AV_NOPTS_VALUE && pts < range_begin_) continue;
    if (pts != AV_NOPTS_VALUE && range_end_ != AV_NOPTS_VALUE && pts >= range_end_) {
      finished_ = true;
      av_frame_unref(decoded);
      return false;
    }
    break;
  }
  if (download) {
    Status s = download_frame(decoded, target);
    av_frame_unref(decoded);
    if (!s.ok()) {
      finished_ = true;
      return internal_error(fmt::format("{}: frame {}: {}", path_, next_index_, s.message()));
    }
  }
  out.pts =
      target->best_effort_timestamp != AV_NOPTS_VALUE ? target->best_effort_timestamp : target->pts;
  out.t_ms = frame_time_ms(target);
  out.index = next_index_++;
  last_t_ms_ = out.t_ms;
  return true;
}

void Decoder::lower_priority(int nice) {
  if (nice <= 0) return;
  auto lower = [nice](int tid) {
    errno = 0;
    int now = getpriority(PRIO_PROCESS, static_cast<id_t>(tid));
    if (errno == 0) setpriority(PRIO_PROCESS, static_cast<id_t>(tid), std::min(now + nice, 19));
  };
  lower(static_cast<int>(gettid()));
  for (int tid : worker_tids_) lower(tid);
}

Status Decoder::start_range(int64_t seek_ts, int64_t begin_pts, int64_t end_pts) {
  ranged_ = true;
  range_begin_ = begin_pts, range_end_ = end_pts;
  finished_ = false;
  if (seek_ts == AV_NOPTS_VALUE) return Status();
  CudaCallScope calls(using_cuda_);
  pending_.reset();
  int rc = av_seek_frame(format_.get(), stream_index_, seek_ts, AVSEEK_FLAG_BACKWARD);
  if (rc < 0) {
    return internal_error(
        fmt::format("{}: seeking to a keyframe for a parallel decode session failed ({}); "
                    "rerun with --decoders 1",
                    path_, av_error_text(rc)));
  }
  avcodec_flush_buffers(codec_.get());
  draining_ = false;
  return Status();
}

Status Decoder::skip_through(double t_ms, int64_t next_index) {
  AVStream* st = format_->streams[stream_index_];
  int64_t base = start_pts_ != AV_NOPTS_VALUE ? start_pts_ : 0;
  int64_t target = base + static_cast<int64_t>(std::floor(t_ms / time_base_ms_));
  CudaCallScope calls(using_cuda_);
  pending_.reset();
  bool sought = av_seek_frame(format_.get(), stream_index_, target, AVSEEK_FLAG_BACKWARD) >= 0;
  if (!sought) {
    log(LogLevel::kInfo, "{}: seek failed; decoding from the start to resume", path_);
    av_seek_frame(format_.get(), stream_index_,
                  st->start_time != AV_NOPTS_VALUE ? st->start_time : 0, AVSEEK_FLAG_BACKWARD);
  }
  avcodec_flush_buffers(codec_.get());
  draining_ = false;
  finished_ = false;
  FramePtr f = make_frame();
  bool first = true;
  while (true) {
    av_frame_unref(f.get());
    auto got = decode_one(f.get());
    if (!got.ok()) return got.status();
    if (!got.value()) {
      finished_ = true;
      break;
    }
    double t = frame_time_ms(f.get());
    if (first && sought && t > t_ms + 1e-6) {
      // The seek landed after the frame we need: start over from the beginning.
      av_seek_frame(format_.get(), stream_index_,
                    st->start_time != AV_NOPTS_VALUE ? st->start_time : 0, AVSEEK_FLAG_BACKWARD);
      avcodec_flush_buffers(codec_.get());
      draining_ = false;
      sought = false;
      continue;
    }
    first = false;
    if (t > t_ms + 1e-6) {
      pending_ = std::move(f);
      break;
    }
    last_t_ms_ = t;
  }
  next_index_ = next_index;
  return Status();
}

}  // namespace fungen::video
