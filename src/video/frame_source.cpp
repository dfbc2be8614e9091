#include "video/frame_source.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "fungen/log.h"
#include "util/cuda_capture_guard.h"
#include "video/frame_sampler.h"

extern "C" {
#include <libavutil/hwcontext.h>
#include <libavutil/pixdesc.h>
}

namespace fungen::video {
namespace {

// Fills `out` from an AV_PIX_FMT_CUDA frame; false for layouts a DeviceFrame cannot describe.
bool describe_device_frame(const AVFrame* f, int rotation, int cuda_device, DeviceFrame& out) {
  if (f->format != AV_PIX_FMT_CUDA || !f->hw_frames_ctx) return false;
  auto* frames = reinterpret_cast<const AVHWFramesContext*>(f->hw_frames_ctx->data);
  if (frames->sw_format == AV_PIX_FMT_NV12) {
    out.ten_bit = false;
  } else if (frames->sw_format == AV_PIX_FMT_P010 || frames->sw_format == AV_PIX_FMT_P016) {
    out.ten_bit = true;
  } else {
    return false;  // 4:4:4 (YUV444P/P16) and others: the CPU path samples them
  }
  for (int i = 0; i < 2; ++i) {
    out.planes[i] = f->data[i];
    out.pitch[i] = f->linesize[i];
  }
  out.width = f->width, out.height = f->height;
  out.matrix = f->colorspace == AVCOL_SPC_BT709 ? YuvMatrix::kBt709
               : (f->colorspace == AVCOL_SPC_BT2020_NCL || f->colorspace == AVCOL_SPC_BT2020_CL)
                   ? YuvMatrix::kBt2020
                   : YuvMatrix::kBt601;
  out.full_range = f->color_range == AVCOL_RANGE_JPEG;
  out.rotation = rotation;
  out.cuda_device = cuda_device;
  out.cuda_stream = nullptr;  // FFmpeg's CUDA device context uses the default stream
  return true;
}

// Samples one decoded frame: a device frame through the sink when it takes it, else on the CPU
// (downloading a device frame first).
struct FrameSamplerState {
  FrameSampler sampler;
  FramePtr host = make_frame();
  std::atomic<bool>* declined_logged = nullptr;  // the source's: log a declined frame once
  BufferRefPtr copies;       // CUDA frames context the device frames are copied into
  bool copy_failed = false;  // device-to-device copy unavailable: download instead
  ~FrameSamplerState() {
    CudaCallScope calls(copies != nullptr);  // may free the copies' pool (cuMemFree)
    copies.reset();
  }
};

bool on_device(const DecodedFrame& f) {
  return f.frame && f.frame->format == AV_PIX_FMT_CUDA;
}

// Drops a decoded frame; an NVDEC surface is unmapped (a CUDA call: see cuda_capture_guard.h).
void release(DecodedFrame& f) {
  CudaCallScope calls(on_device(f));
  f.frame.reset();
}

// A copy of an NVDEC frame in device memory of our own (FFmpeg's CUDA pool, growing on demand).
// FFmpeg's NVDEC output frames are the decoder's mapped surfaces, of which it has only
// dpb + 2 + extra_hw_frames (at most ~32): frames queued for a batch (and parallel sessions'
// chunks) would starve it. The copy is one device-to-device memcpy on the decoder's stream.
Result<FramePtr> copy_on_device(FrameSamplerState& st, const AVFrame* src) {
  auto* from = reinterpret_cast<const AVHWFramesContext*>(src->hw_frames_ctx->data);
  auto* have = st.copies ? reinterpret_cast<const AVHWFramesContext*>(st.copies->data) : nullptr;
  if (!have || have->sw_format != from->sw_format || have->width != src->width ||
      have->height != src->height) {
    st.copies.reset(av_hwframe_ctx_alloc(from->device_ref));
    if (!st.copies) return out_of_memory("NVDEC: no memory for a CUDA frames context");
    auto* c = reinterpret_cast<AVHWFramesContext*>(st.copies->data);
    c->format = AV_PIX_FMT_CUDA;
    c->sw_format = from->sw_format;
    c->width = src->width, c->height = src->height;
    int rc = av_hwframe_ctx_init(st.copies.get());
    if (rc < 0) {
      st.copies.reset();
      return internal_error("NVDEC: CUDA frames context: " + av_error_text(rc));
    }
  }
  FramePtr dst = make_frame();
  int rc = av_hwframe_get_buffer(st.copies.get(), dst.get(), 0);
  if (rc < 0)
    return out_of_memory("NVDEC: no device memory for a frame copy: " + av_error_text(rc));
  rc = av_hwframe_transfer_data(dst.get(), src, 0);
  if (rc < 0) return unsupported("NVDEC: device-to-device frame copy: " + av_error_text(rc));
  rc = av_frame_copy_props(dst.get(), src);
  if (rc < 0) return internal_error("NVDEC: frame properties: " + av_error_text(rc));
  return dst;
}

Status sample_frame(FrameSamplerState& st, DecodedFrame& f, int rotation, const RemapTable& table,
                    const FrameSourceOptions& opt, SampledFrame& out) {
  const AVFrame* frame = f.frame.get();
  if (!opt.sample) return Status();
  if (frame->format == AV_PIX_FMT_CUDA) {
    // Copies, downloads and sinks make CUDA calls: no graph capture meanwhile.
    CudaCallScope calls;
    DeviceFrame df;
    const bool described = describe_device_frame(frame, rotation, opt.decode.cuda_device, df);
    df.table = &table;
    df.index = f.index, df.t_ms = f.t_ms;
    if (opt.device_detect && described) {
      std::string why = opt.device_detect.declines(df);
      if (why.empty() && !st.copy_failed) {
        auto copy = copy_on_device(st, frame);
        if (copy.ok()) {
          // The copy travels with the frame (its reference keeps the memory from being reused);
          // the decoder's surface goes back now.
          describe_device_frame(copy->get(), rotation, opt.decode.cuda_device, df);
          out.device = std::move(copy).value();
          out.device_frame = df;
          return Status();
        }
        if (copy.status().code() != StatusCode::kUnsupported) return copy.status();
        st.copy_failed = true;
        why = copy.status().message();
      } else if (st.copy_failed) {
        why = "no device-to-device frame copy in this FFmpeg";
      }
      if (st.declined_logged && !st.declined_logged->exchange(true))
        log(LogLevel::kInfo, "NVDEC frames are downloaded for the CPU sampler: {}", why);
    } else if (opt.device_sink && described) {
      FUNGEN_ASSIGN_OR_RETURN(bool taken, opt.device_sink(df, out.image));
      if (taken) return Status();
    } else if (opt.device_detect && st.declined_logged && !st.declined_logged->exchange(true)) {
      log(LogLevel::kInfo, "NVDEC frames are downloaded for the CPU sampler: {} frames",
          av_get_pix_fmt_name(
              reinterpret_cast<const AVHWFramesContext*>(frame->hw_frames_ctx->data)->sw_format));
    }
    av_frame_unref(st.host.get());
    FUNGEN_RETURN_IF_ERROR(download_frame(frame, st.host.get()));
    frame = st.host.get();
  }
  return st.sampler.sample(frame, rotation, table, out.image);
}

void lower_this_thread(int nice) {
  if (nice <= 0) return;
  errno = 0;
  int now = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
  if (errno == 0) setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), std::min(now + nice, 19));
}

}  // namespace

int auto_decoders(bool cuda, int cores) {
  if (cuda) return 4;
  if (cores < 8) return 1;
  return std::min(4, cores / 4);
}

std::vector<ChunkPlan> plan_chunks(const std::string& path, int chunk_frames) {
  AVFormatContext* raw = nullptr;
  if (avformat_open_input(&raw, path.c_str(), nullptr, nullptr) < 0) return {};
  FormatContextPtr fmt(raw);
  if (avformat_find_stream_info(raw, nullptr) < 0) return {};
  int si = av_find_best_stream(raw, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (si < 0) return {};
  AVStream* st = raw->streams[si];
  AVRational rate = st->avg_frame_rate.num > 0 ? st->avg_frame_rate : st->r_frame_rate;
  // Frame times are measured from the stream's start: every session must agree on it.
  if (st->start_time == AV_NOPTS_VALUE || rate.num <= 0 || rate.den <= 0) return {};
  double ticks_per_frame = 1.0 / (av_q2d(rate) * av_q2d(st->time_base));
  auto spacing = static_cast<int64_t>(std::llround(chunk_frames * ticks_per_frame));
  // Matroska reads its cues (the keyframe index) on the first seek.
  av_seek_frame(raw, si, st->start_time, AVSEEK_FLAG_BACKWARD);
  std::vector<int64_t> keyframes;
  int n = avformat_index_get_entries_count(st);
  for (int i = 0; i < n; ++i) {
    const AVIndexEntry* e = avformat_index_get_entry(st, i);
    if (e && (e->flags & AVINDEX_KEYFRAME)) keyframes.push_back(e->timestamp);
  }
  if (keyframes.size() < 2) return {};
  std::vector<ChunkPlan> chunks = {{AV_NOPTS_VALUE, AV_NOPTS_VALUE}};  // chunk 0: from the start
  int64_t last = keyframes[0];
  PacketPtr pkt(av_packet_alloc());
  for (int64_t ts : keyframes) {
    if (ts - last < spacing) continue;
    // The keyframe a session seeking to `ts` lands on, and its presentation time.
    if (av_seek_frame(raw, si, ts, AVSEEK_FLAG_BACKWARD) < 0) return {};
    int64_t pts = AV_NOPTS_VALUE;
    while (av_read_frame(raw, pkt.get()) >= 0) {
      bool key = pkt->stream_index == si && (pkt->flags & AV_PKT_FLAG_KEY);
      int64_t p = pkt->pts;
      av_packet_unref(pkt.get());
      if (key) {
        pts = p;
        break;
      }
    }
    if (pts == AV_NOPTS_VALUE) return {};
    if (chunks.size() > 1 && pts <= chunks.back().begin_pts) continue;
    chunks.push_back({ts, pts});
    last = ts;
  }
  if (chunks.size() < 2) return {};
  return chunks;
}

struct FrameSource::Session {
  struct Item {
    enum Kind { kFrame, kChunkEnd, kDecodeError, kError } kind = kFrame;
    SampledFrame frame;
    Status status;
  };
  explicit Session(size_t capacity) : queue(capacity) {}
  BoundedQueue<Item> queue;
  std::unique_ptr<Decoder> decoder;
};

FrameSource::FrameSource(std::unique_ptr<Decoder> decoder, const RemapTable& table,
                         FrameSourceOptions options, bool resumed)
    : table_(table), options_(std::move(options)), out_(options_.queue_capacity) {
  if (const char* env = std::getenv("FUNGEN_DECODE_NICE")) options_.nice = std::atoi(env);
  const VideoInfo& info = decoder->info();
  rotation_ = info.rotation;
  declared_frames_ = info.frame_count;
  path_ = info.path;
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int wanted =
      options_.decoders > 0 ? options_.decoders : auto_decoders(decoder->using_cuda(), cores);
  if (wanted > 1 && resumed) {
    log(LogLevel::kInfo, "{}: a resumed run decodes with one session", path_);
    wanted = 1;
  }
  std::vector<ChunkPlan> chunks;
  if (wanted > 1) {
    chunks = plan_chunks(path_, options_.chunk_frames);
    if (chunks.size() < 2) {
      log(LogLevel::kInfo,
          "{}: one decode session (the video has too few keyframes or no index to split)", path_);
      wanted = 1;
    }
  }
  sessions_ = std::min<int>(wanted, std::max<size_t>(chunks.size(), 1));
  if (sessions_ > 1) {
    run_parallel(std::move(decoder), std::move(chunks));
  } else {
    run_single(std::move(decoder));
  }
}

FrameSource::~FrameSource() {
  cancel();
  join();
}

void FrameSource::cancel() {
  cancelled_ = true;
  out_.cancel();
  for (auto& s : session_state_) s->queue.cancel();
}

void FrameSource::join() {
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void FrameSource::run_single(std::unique_ptr<Decoder> decoder) {
  if ((options_.device_sink || options_.device_detect || !options_.sample) && decoder->using_cuda())
    decoder->keep_device_frames(true);
  // Decoded frames pass through a session queue (kFrame items carry no image yet).
  auto shared = std::make_shared<BoundedQueue<DecodedFrame>>(3);
  session_state_.push_back(std::make_unique<Session>(1));
  session_state_.back()->decoder = std::move(decoder);
  Decoder* dec = session_state_.back()->decoder.get();
  threads_.emplace_back([this, dec, shared] {
    dec->lower_priority(options_.nice);
    int64_t n = 0;
    while (!cancelled_) {
      DecodedFrame f;
      auto more = dec->next(f);
      if (!more.ok()) {
        decode_status_ = more.status();
        break;
      }
      if (!more.value()) {
        reached_end_ = true;
        break;
      }
      if (!shared->push(std::move(f))) break;
      ++n;
    }
    frames_pushed_ = n;
    shared->close();
  });
  threads_.emplace_back([this, shared] {
    lower_this_thread(options_.nice);
    FrameSamplerState st;
    st.declined_logged = &declined_logged_;
    while (auto f = shared->pop()) {
      SampledFrame s;
      s.index = f->index, s.t_ms = f->t_ms;
      Status r = sample_frame(st, *f, rotation_, table_, options_, s);
      release(*f);
      if (!r.ok()) {
        sample_status_ = r;
        shared->cancel();
        out_.cancel();
        return;
      }
      if (!out_.push(std::move(s))) {
        shared->cancel();
        return;
      }
    }
    out_.close();
  });
}

void FrameSource::run_parallel(std::unique_ptr<Decoder> first, std::vector<ChunkPlan> chunks) {
  const int n = sessions_;
  const size_t per_session = static_cast<size_t>(options_.chunk_frames) + 2;
  log(LogLevel::kInfo, "{}: {} decode sessions over {} chunks", path_, n, chunks.size());
  VideoOptions dopt = options_.decode;
  if (!first->using_cuda()) {
    int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    int total = dopt.threads > 0 ? dopt.threads : cores;
    dopt.threads = std::max(1, total / n);
  }
  for (int s = 0; s < n; ++s) session_state_.push_back(std::make_unique<Session>(per_session));
  session_state_[0]->decoder = std::move(first);
  auto shared_chunks = std::make_shared<std::vector<ChunkPlan>>(std::move(chunks));
  for (int s = 0; s < n; ++s) {
    threads_.emplace_back([this, s, n, dopt, shared_chunks] {
      Session& me = *session_state_[s];
      using Item = Session::Item;
      if (!me.decoder) {
        auto d = Decoder::open(path_, dopt);
        if (!d.ok()) {
          me.queue.push(Item{Item::kError, {}, d.status()});
          return;
        }
        me.decoder = std::move(d).value();
      }
      Decoder& dec = *me.decoder;
      dec.lower_priority(options_.nice);
      if ((options_.device_sink || options_.device_detect || !options_.sample) && dec.using_cuda())
        dec.keep_device_frames(true);
      const std::vector<ChunkPlan>& plan = *shared_chunks;
      FrameSamplerState st;
      st.declined_logged = &declined_logged_;
      for (size_t c = static_cast<size_t>(s); c < plan.size() && !cancelled_; c += n) {
        int64_t end = c + 1 < plan.size() ? plan[c + 1].begin_pts : AV_NOPTS_VALUE;
        Status r = dec.start_range(plan[c].seek_ts, plan[c].begin_pts, end);
        if (!r.ok()) {
          me.queue.push(Item{Item::kError, {}, r});
          return;
        }
        while (!cancelled_) {
          DecodedFrame f;
          auto more = dec.next(f);
          if (!more.ok()) {
            me.queue.push(Item{Item::kDecodeError, {}, more.status()});
            return;
          }
          if (!more.value()) break;
          Item item;
          item.frame.t_ms = f.t_ms;
          r = sample_frame(st, f, rotation_, table_, options_, item.frame);
          release(f);
          if (!r.ok()) {
            me.queue.push(Item{Item::kError, {}, r});
            return;
          }
          if (!me.queue.push(std::move(item))) return;
        }
        if (!me.queue.push(Item{Item::kChunkEnd, {}, {}})) return;
      }
    });
  }
  // The merger: chunks back in order, frames numbered.
  threads_.emplace_back([this, n, shared_chunks] {
    int64_t next = 0;
    using Item = Session::Item;
    size_t chunk_count = shared_chunks->size();
    for (size_t c = 0; c < chunk_count; ++c) {
      Session& from = *session_state_[c % n];
      while (true) {
        auto item = from.queue.pop();
        if (!item) {  // cancelled
          frames_pushed_ = next;
          out_.close();
          return;
        }
        if (item->kind == Item::kChunkEnd) break;
        if (item->kind != Item::kFrame) {
          (item->kind == Item::kDecodeError ? decode_status_ : sample_status_) = item->status;
          frames_pushed_ = next;
          if (item->kind == Item::kError) {
            out_.cancel();
          } else {
            out_.close();
          }
          for (auto& s : session_state_) s->queue.cancel();
          return;
        }
        item->frame.index = next;
        if (!out_.push(std::move(item->frame))) {
          frames_pushed_ = next;
          for (auto& s : session_state_) s->queue.cancel();
          return;
        }
        ++next;
      }
    }
    frames_pushed_ = next;
    if (declared_frames_ > 0 && next < declared_frames_) {
      decode_status_ = corrupt(
          fmt::format("{}: the video ends after {} of the {} frames its container declares; the "
                      "file looks truncated (an interrupted download or copy?)",
                      path_, next, declared_frames_));
    } else {
      reached_end_ = true;
    }
    out_.close();
  });
}

}  // namespace fungen::video
