// fungen_make_clip — writes a synthetic benchmark clip with FFmpeg's libraries (no ffmpeg
// program needed, e.g. on the GPU machine with the bundled libraries): a moving pattern with
// per-frame noise, so the decoder does real work, yuv420p, a keyframe every --gop frames.
// Encoders tried in order: --encoder, then NVENC (h264_nvenc / hevc_nvenc), then libx264 /
// libx265.
//
//   fungen_make_clip out.mp4 --size 3840x2160 --codec hevc --frames 300 --gop 30
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
}

namespace {

int fail(const std::string& what, int rc) {
  char buf[256];
  av_strerror(rc, buf, sizeof buf);
  std::fprintf(stderr, "fungen_make_clip: %s: %s\n", what.c_str(), buf);
  return 1;
}

void fill_frame(AVFrame* f, int t, uint32_t& seed) {
  const int w = f->width, h = f->height;
  std::vector<float> sx(w), cy(h);
  for (int x = 0; x < w; ++x) sx[x] = std::sin((x + 7.0f * t) / 53.0f);
  for (int y = 0; y < h; ++y) cy[y] = std::cos((y - 5.0f * t) / 41.0f);
  for (int y = 0; y < h; ++y) {
    uint8_t* row = f->data[0] + static_cast<ptrdiff_t>(y) * f->linesize[0];
    for (int x = 0; x < w; ++x) {
      seed = seed * 1664525u + 1013904223u;
      int noise = static_cast<int>((seed >> 24) & 15) - 8;
      int v = 128 + static_cast<int>(90.f * sx[x] * cy[y]) + ((x / 64 + y / 64 + t / 4) & 1) * 20 +
              noise;
      row[x] = static_cast<uint8_t>(v < 16 ? 16 : v > 235 ? 235 : v);
    }
  }
  for (int p = 1; p < 3; ++p) {
    for (int y = 0; y < h / 2; ++y) {
      uint8_t* row = f->data[p] + static_cast<ptrdiff_t>(y) * f->linesize[p];
      for (int x = 0; x < w / 2; ++x) {
        row[x] = static_cast<uint8_t>(128 + (p == 1 ? (x + t) % 64 : (y + 2 * t) % 64) - 32);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fungen synthetic clip writer"};
  std::string out, size = "1920x1080", codec = "h264", encoder;
  int frames = 120, gop = 30, fps = 30;
  app.add_option("out", out, "output .mp4")->required();
  app.add_option("--size", size);
  app.add_option("--codec", codec, "h264 or hevc");
  app.add_option("--encoder", encoder, "an FFmpeg encoder name to try first");
  app.add_option("--frames", frames);
  app.add_option("--gop", gop, "frames between keyframes");
  app.add_option("--fps", fps);
  CLI11_PARSE(app, argc, argv);
  int w = 0, h = 0;
  if (std::sscanf(size.c_str(), "%dx%d", &w, &h) != 2 || w < 16 || h < 16 || (w | h) & 1) {
    std::fprintf(stderr, "fungen_make_clip: --size %s: give an even WIDTHxHEIGHT\n", size.c_str());
    return 2;
  }
  if (codec != "h264" && codec != "hevc") {
    std::fprintf(stderr, "fungen_make_clip: --codec %s: h264 or hevc\n", codec.c_str());
    return 2;
  }
  std::vector<std::string> names;
  if (!encoder.empty()) names.push_back(encoder);
  names.push_back(codec + "_nvenc");
  names.push_back(codec == "h264" ? "libx264" : "libx265");

  AVCodecContext* enc = nullptr;
  std::string used;
  av_log_set_level(AV_LOG_QUIET);  // encoders that do not open here (no NVENC) are expected
  for (const std::string& name : names) {
    const AVCodec* c = avcodec_find_encoder_by_name(name.c_str());
    if (!c) continue;
    AVCodecContext* ctx = avcodec_alloc_context3(c);
    ctx->width = w, ctx->height = h;
    ctx->pix_fmt = AV_PIX_FMT_YUV420P;
    ctx->time_base = {1, fps};
    ctx->framerate = {fps, 1};
    ctx->gop_size = gop;
    ctx->max_b_frames = 2;
    ctx->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    ctx->bit_rate = static_cast<int64_t>(w) * h * fps / 8;  // ~0.125 bit per pixel (NVENC)
    ctx->thread_count = 0;
    if (name == "libx264") av_opt_set(ctx->priv_data, "preset", "veryfast", 0);
    if (name == "libx265") {
      av_opt_set(ctx->priv_data, "preset", "ultrafast", 0);
      av_opt_set(ctx->priv_data, "x265-params", "log-level=none", 0);
    }
    if (name.find("nvenc") != std::string::npos) av_opt_set(ctx->priv_data, "preset", "p1", 0);
    if (name.rfind("lib", 0) == 0) ctx->bit_rate = 0, ctx->global_quality = 0;  // CRF default
    if (avcodec_open2(ctx, c, nullptr) == 0) {
      enc = ctx;
      used = name;
      break;
    }
    avcodec_free_context(&ctx);
  }
  av_log_set_level(AV_LOG_ERROR);
  if (!enc) {
    std::fprintf(stderr, "fungen_make_clip: no %s encoder opens in this FFmpeg\n", codec.c_str());
    return 1;
  }
  AVFormatContext* fmt = nullptr;
  int rc = avformat_alloc_output_context2(&fmt, nullptr, "mp4", out.c_str());
  if (rc < 0) return fail(out, rc);
  AVStream* st = avformat_new_stream(fmt, nullptr);
  avcodec_parameters_from_context(st->codecpar, enc);
  if (codec == "hevc") st->codecpar->codec_tag = MKTAG('h', 'v', 'c', '1');
  st->time_base = enc->time_base;
  if ((rc = avio_open(&fmt->pb, out.c_str(), AVIO_FLAG_WRITE)) < 0) return fail(out, rc);
  if ((rc = avformat_write_header(fmt, nullptr)) < 0) return fail(out, rc);

  AVFrame* frame = av_frame_alloc();
  frame->format = AV_PIX_FMT_YUV420P;
  frame->width = w, frame->height = h;
  if ((rc = av_frame_get_buffer(frame, 0)) < 0) return fail("frame", rc);
  AVPacket* pkt = av_packet_alloc();
  uint32_t seed = 12345;
  auto drain = [&]() -> int {
    while ((rc = avcodec_receive_packet(enc, pkt)) == 0) {
      av_packet_rescale_ts(pkt, enc->time_base, st->time_base);
      pkt->stream_index = st->index;
      if ((rc = av_interleaved_write_frame(fmt, pkt)) < 0) return rc;
    }
    return rc == AVERROR(EAGAIN) || rc == AVERROR_EOF ? 0 : rc;
  };
  for (int t = 0; t < frames; ++t) {
    if ((rc = av_frame_make_writable(frame)) < 0) return fail("frame", rc);
    fill_frame(frame, t, seed);
    frame->pts = t;
    if ((rc = avcodec_send_frame(enc, frame)) < 0) return fail("encode", rc);
    if ((rc = drain()) < 0) return fail("write", rc);
  }
  avcodec_send_frame(enc, nullptr);
  if ((rc = drain()) < 0) return fail("write", rc);
  if ((rc = av_write_trailer(fmt)) < 0) return fail("trailer", rc);
  avio_closep(&fmt->pb);
  avformat_free_context(fmt);
  av_frame_free(&frame);
  av_packet_free(&pkt);
  avcodec_free_context(&enc);
  std::printf("%s: %dx%d %s (%s), %d frames, keyframe every %d\n", out.c_str(), w, h, codec.c_str(),
              used.c_str(), frames, gop);
  return 0;
}
