// Several decode sessions over keyframe-aligned chunks give exactly the frames of one session
// (times, pixels, order) on clips with B-frames, open GOPs and other containers; a damaged video
// still ends with a clear error after every frame before the damage. And memory stays flat over
// a 10-minute video.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "video/frame_source.h"
#include "video/pipeline.h"
#include "video_test_util.h"

namespace fungen {
namespace {

struct Clip {
  const char* name;
  const char* encoder;
  const char* args;
};

// 4 s at 25 fps, a keyframe every 12 frames.
const Clip kClips[] = {
    {"par_h264_b.mp4", "libx264", "-c:v libx264 -preset veryfast -bf 3 -g 12 -keyint_min 12"},
    {"par_hevc_open.mp4", "libx265",
     "-c:v libx265 -preset ultrafast -x265-params log-level=none:keyint=12:min-keyint=12:"
     "open-gop=1:bframes=3"},
    {"par_h264.mkv", "libx264", "-c:v libx264 -preset ultrafast -g 12"},
};

std::string make_clip(const Clip& c) {
  std::string path = test::temp_dir() + "/" + c.name;
  if (!std::filesystem::exists(path)) {
    EXPECT_TRUE(test::ffmpeg(
        fmt::format("-f lavfi -i testsrc2=size=320x180:rate=25:duration=4 -pix_fmt yuv420p {} '{}'",
                    c.args, path)));
  }
  return path;
}

struct Decoded {
  std::vector<video::SampledFrame> frames;
  int sessions = 0;
  Status status;
};

Decoded decode_all(const std::string& path, const RemapTable& table, int decoders) {
  VideoOptions vo;
  vo.device = DecodeDevice::kCpu;
  Decoded d;
  auto dec = video::Decoder::open(path, vo);
  if (!dec.ok()) {
    d.status = dec.status();
    return d;
  }
  video::FrameSourceOptions so;
  so.decode = vo;
  so.decoders = decoders;
  so.chunk_frames = 10;
  video::FrameSource source(std::move(dec).value(), table, so, false);
  while (auto f = source.pop()) d.frames.push_back(std::move(*f));
  source.join();
  d.sessions = source.sessions();
  d.status = !source.decode_status().ok() ? source.decode_status() : source.sample_status();
  return d;
}

TEST(ParallelDecode, ChunkedSessionsGiveTheSameFramesAsOneSession) {
  for (const Clip& c : kClips) {
    SCOPED_TRACE(c.name);
    if (!test::have_encoder(c.encoder)) continue;
    std::string path = make_clip(c);
    RemapTable table = make_resize_table(320, 180, 160, 90);
    Decoded one = decode_all(path, table, 1);
    ASSERT_TRUE(one.status.ok()) << one.status.message();
    ASSERT_EQ(one.frames.size(), 100u);
    for (int n : {2, 3}) {
      Decoded many = decode_all(path, table, n);
      ASSERT_TRUE(many.status.ok()) << many.status.message();
      EXPECT_EQ(many.sessions, n);
      ASSERT_EQ(many.frames.size(), one.frames.size());
      for (size_t i = 0; i < one.frames.size(); ++i) {
        const video::SampledFrame &a = one.frames[i], &b = many.frames[i];
        ASSERT_EQ(b.index, static_cast<int64_t>(i));
        ASSERT_EQ(b.t_ms, a.t_ms) << "frame " << i;
        ASSERT_EQ(0, std::memcmp(a.image.frame().bgr, b.image.frame().bgr,
                                 a.image.frame().stride * a.image.frame().height))
            << "frame " << i << " differs with " << n << " sessions";
      }
    }
  }
}

TEST(ParallelDecode, TruncatedVideoKeepsEveryFrameBeforeTheDamage) {
  std::string clip = test::temp_dir() + "/par_fs.mp4";
  ASSERT_TRUE(test::ffmpeg(
      "-f lavfi -i testsrc2=size=320x180:rate=25:duration=4 -pix_fmt yuv420p -c:v libx264 "
      "-preset ultrafast -g 12 -movflags +faststart '" +
      clip + "'"));
  std::ifstream in(clip, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string cut = test::temp_dir() + "/par_cut.mp4";
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() * 6 / 10);
  RemapTable table = make_resize_table(320, 180, 160, 90);
  Decoded one = decode_all(cut, table, 1), many = decode_all(cut, table, 3);
  EXPECT_EQ(one.status.code(), StatusCode::kCorrupt);
  EXPECT_EQ(many.status.code(), StatusCode::kCorrupt) << many.status.message();
  EXPECT_NE(many.status.message().find("truncated"), std::string::npos) << many.status.message();
  EXPECT_GT(many.frames.size(), 10u);
  ASSERT_LE(many.frames.size(), one.frames.size() + 12);
  size_t common = std::min(one.frames.size(), many.frames.size());
  for (size_t i = 0; i < common; ++i) EXPECT_EQ(many.frames[i].t_ms, one.frames[i].t_ms);
}

TEST(ParallelDecode, PipelineOutputEqualsOneSession) {
  if (!test::have_encoder("libx264")) GTEST_SKIP() << "ffmpeg has no libx264";
  std::string clip = make_clip(kClips[0]);
  auto boxes = [](std::span<const Frame> frames) -> Result<std::vector<std::vector<Detection>>> {
    std::vector<std::vector<Detection>> out;
    for (const Frame& f : frames) {
      Detection d;
      d.class_name = "px";
      d.confidence = f.row(f.height / 2)[3 * (f.width / 2)] / 255.f;
      d.x2 = static_cast<float>(f.width), d.y2 = static_cast<float>(f.height);
      out.push_back({d});
    }
    return out;
  };
  std::string text[2];
  for (int k = 0; k < 2; ++k) {
    video::VideoJob job;
    job.video = clip;
    job.out = test::temp_dir() + fmt::format("/par_out{}.jsonl", k);
    job.decode.device = DecodeDevice::kCpu;
    job.decoders = k == 0 ? 1 : 3;
    job.decode_chunk_frames = 10;
    job.batch = 4;
    job.progress = video::ProgressMode::kQuiet;
    auto r = video::run_video_job(job, boxes);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->frames, 100);
    std::ifstream in(job.out, std::ios::binary);
    text[k].assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  EXPECT_EQ(text[0], text[1]);
}

long resident_kb() {
  std::ifstream in("/proc/self/statm");
  long pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

// 10 minutes of 320×180 video at 25 fps (15,000 frames) through decode → resize → a stand-in
// detector → msgpack writer: resident memory after the first minute stays within noise of what it
// was at the first minute.
TEST(VideoMemory, FlatOverATenMinuteVideo) {
  if (!test::have_encoder("libx264")) GTEST_SKIP() << "ffmpeg has no libx264";
  std::string clip = test::temp_dir() + "/ten_minutes.mp4";
  ASSERT_TRUE(test::ffmpeg(
      "-f lavfi -i testsrc2=size=320x180:rate=25:duration=600 -pix_fmt yuv420p -c:v libx264 "
      "-preset ultrafast -g 250 '" +
      clip + "'"));
  std::vector<long> rss;  // one sample per 10 s of video
  int64_t seen = 0;
  auto detect = [&](std::span<const Frame> frames) -> Result<std::vector<std::vector<Detection>>> {
    std::vector<std::vector<Detection>> out(frames.size());
    for (size_t i = 0; i < frames.size(); ++i) {
      Detection d;
      d.class_name = "x";
      d.confidence = 0.5f;
      d.x2 = 10, d.y2 = 10;
      out[i].push_back(d);
      if (seen++ % 250 == 0) rss.push_back(resident_kb());
    }
    return out;
  };
  video::VideoJob job;
  job.video = clip;
  job.out = test::temp_dir() + "/ten_minutes.msgpack";
  job.decode.device = DecodeDevice::kCpu;
  job.batch = 4;
  job.progress = video::ProgressMode::kQuiet;
  auto r = video::run_video_job(job, detect);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->frames, 15000);
  ASSERT_EQ(rss.size(), 60u);
  long at_one_minute = rss[6];
  long peak = *std::max_element(rss.begin() + 6, rss.end());
  std::printf("resident: %ld kB at 1 min, peak after it %ld kB, at the end %ld kB\n", at_one_minute,
              peak, rss.back());
  EXPECT_LT(peak - at_one_minute, 4096)
      << "resident memory grew by " << (peak - at_one_minute) << " kB after the first minute";
}

}  // namespace
}  // namespace fungen
