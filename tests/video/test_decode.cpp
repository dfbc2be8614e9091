// Decoding generated clips: frame counts, timestamps and pixels against ffprobe/ffmpeg.
#include <gtest/gtest.h>

#include <cmath>

#include <fmt/format.h>

#include "fungen/video.h"
#include "video_test_util.h"

namespace fungen {
namespace {

using test::ffmpeg;
using test::have_encoder;
using test::temp_dir;

struct ClipCase {
  const char* name;
  const char* encoder;  // skipped when this ffmpeg lacks it
  const char* args;     // ffmpeg arguments after the lavfi input (testsrc2 at an even size)
  const char* ext;
  int width, height;
  int bit_depth;
};

// testsrc2 has colour bars, moving shapes and a frame counter: every frame differs.
const ClipCase kClips[] = {
    {"h264_8bit", "libx264", "-c:v libx264 -preset ultrafast -pix_fmt yuv420p -bf 2", "mp4", 320,
     240, 8},
    {"h264_444_odd", "libx264", "-vf scale=321:241 -c:v libx264 -preset ultrafast -pix_fmt yuv444p",
     "mp4", 321, 241, 8},
    {"hevc_10bit", "libx265",
     "-c:v libx265 -preset ultrafast -pix_fmt yuv420p10le -x265-params log-level=none", "mkv", 320,
     240, 10},
    {"hevc_8bit_mp4", "libx265",
     "-c:v libx265 -preset ultrafast -pix_fmt yuv420p -tag:v hvc1 -x265-params log-level=none",
     "mp4", 256, 144, 8},
    {"vp9_odd", "libvpx-vp9",
     "-vf scale=333:187 -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -pix_fmt yuv420p", "webm",
     333, 187, 8},
    {"vp9_10bit", "libvpx-vp9",
     "-c:v libvpx-vp9 -deadline realtime -cpu-used 8 -pix_fmt yuv420p10le", "webm", 192, 108, 10},
    {"av1_svt", "libsvtav1", "-c:v libsvtav1 -preset 12 -pix_fmt yuv420p", "mkv", 320, 240, 8},
    // NVDEC's 8-bit output layout (semi-planar NV12), through the rawvideo decoder. (P010 has no
    // container tag: nut stores it as rgb555, so it is covered on the GPU machine only.)
    {"nv12_raw", "rawvideo", "-c:v rawvideo -pix_fmt nv12", "nut", 320, 240, 8},
    {"av1_aom_10bit", "libaom-av1",
     "-c:v libaom-av1 -cpu-used 8 -usage realtime -pix_fmt yuv420p10le", "mkv", 160, 96, 10},
};

class DecodeClip : public ::testing::TestWithParam<ClipCase> {};

TEST_P(DecodeClip, FramesTimesAndPixelsMatchFfmpeg) {
  const ClipCase& c = GetParam();
  if (!have_encoder(c.encoder)) GTEST_SKIP() << "ffmpeg has no " << c.encoder;
  std::string path = temp_dir() + "/" + c.name + "." + c.ext;
  ASSERT_TRUE(ffmpeg(fmt::format("-f lavfi -i testsrc2=size={}x{}:rate=25:duration=1.2 {} '{}'",
                                 c.width & ~1, c.height & ~1, c.args, path)));
  auto reader = VideoReader::open(path, {.threads = 2, .device = DecodeDevice::kCpu});
  ASSERT_TRUE(reader.ok()) << reader.status().message();
  const VideoInfo& info = reader->info();
  EXPECT_EQ(info.width, c.width);
  EXPECT_EQ(info.height, c.height);
  EXPECT_EQ(info.bit_depth, c.bit_depth);
  EXPECT_NEAR(info.fps, 25.0, 0.01);
  EXPECT_EQ(info.decoder, "cpu");

  std::vector<double> expected_times = test::ffprobe_frame_times(path);
  std::vector<Image> expected_pixels = test::ffmpeg_decode_bgr(path, c.width, c.height);
  ASSERT_EQ(expected_times.size(), 30u);
  ASSERT_EQ(expected_pixels.size(), expected_times.size());
  VideoFrame f;
  size_t n = 0;
  while (true) {
    auto more = reader->read(f);
    ASSERT_TRUE(more.ok()) << more.status().message();
    if (!more.value()) break;
    ASSERT_LT(n, expected_times.size());
    EXPECT_EQ(f.index, static_cast<int64_t>(n));
    EXPECT_NEAR(f.t_ms, expected_times[n], 0.01) << "frame " << n;
    // Same pictures up to colour-conversion details (chroma upsampling, rounding); a wrong
    // orientation, plane or bit depth is tens of levels off.
    EXPECT_LT(test::mean_abs_diff(f.image, expected_pixels[n]), 3.0) << "frame " << n;
    ++n;
  }
  EXPECT_EQ(n, expected_times.size());
}

INSTANTIATE_TEST_SUITE_P(Codecs, DecodeClip, ::testing::ValuesIn(kClips),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Decode, VariableFrameRateKeepsEachFramesTime) {
  std::string path = temp_dir() + "/vfr.mkv";
  // 15 frames 40 ms apart, then 15 frames 100 ms apart.
  ASSERT_TRUE(
      ffmpeg("-f lavfi -i testsrc2=size=160x120:rate=25:duration=1.2 "
             "-vf \"setpts='if(lt(N,15),N*0.04,0.6+(N-15)*0.1)/TB'\" -fps_mode passthrough "
             "-c:v libx264 -preset ultrafast -pix_fmt yuv420p '" +
             path + "'"));
  std::vector<double> expected = test::ffprobe_frame_times(path);
  ASSERT_EQ(expected.size(), 30u);
  auto reader = VideoReader::open(path, {.device = DecodeDevice::kCpu});
  ASSERT_TRUE(reader.ok()) << reader.status().message();
  VideoFrame f;
  std::vector<double> got;
  while (true) {
    auto more = reader->read(f);
    ASSERT_TRUE(more.ok()) << more.status().message();
    if (!more.value()) break;
    got.push_back(f.t_ms);
  }
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], 0.01) << "frame " << i;
  // Really variable: the second half's frames are further apart than the first half's.
  EXPECT_GT(got[29] - got[28], 1.8 * (got[2] - got[1]));
}

TEST(Decode, RotationMetadataIsHonoured) {
  std::string plain = temp_dir() + "/rot_src.mp4";
  ASSERT_TRUE(
      ffmpeg("-f lavfi -i testsrc2=size=320x176:rate=25:duration=0.4 -c:v libx264 "
             "-preset ultrafast -pix_fmt yuv420p '" +
             plain + "'"));
  for (int rotate : {90, 180, 270}) {
    std::string path = temp_dir() + "/rot" + std::to_string(rotate) + ".mp4";
    ASSERT_TRUE(ffmpeg("-i '" + plain + "' -c copy -metadata:s:v:0 rotate=" +
                       std::to_string(rotate) + " '" + path + "'"));
    auto reader = VideoReader::open(path, {.device = DecodeDevice::kCpu});
    ASSERT_TRUE(reader.ok()) << reader.status().message();
    const VideoInfo& info = reader->info();
    // ffprobe's "rotation" is the display matrix's counter-clockwise angle; players turn the
    // picture back by it, i.e. clockwise by 360 - rotation.
    int ccw = std::atoi(test::capture(std::string(FUNGEN_FFPROBE_EXE) +
                                      " -v error -select_streams "
                                      "v:0 -show_entries stream_side_data=rotation -of csv=p=0 '" +
                                      path + "'")
                            .c_str());
    EXPECT_EQ(info.rotation, ((360 - ccw) % 360 + 360) % 360);
    int w = info.rotation == 180 ? 320 : 176, h = info.rotation == 180 ? 176 : 320;
    EXPECT_EQ(info.width, w);
    EXPECT_EQ(info.height, h);
    std::vector<Image> expected = test::ffmpeg_decode_bgr(path, w, h);  // ffmpeg autorotates
    ASSERT_EQ(expected.size(), 10u);
    VideoFrame f;
    for (size_t i = 0; i < expected.size(); ++i) {
      auto more = reader->read(f);
      ASSERT_TRUE(more.ok() && more.value());
      EXPECT_LT(test::mean_abs_diff(f.image, expected[i]), 2.0) << rotate << " frame " << i;
    }
  }
}

TEST(Decode, MissingAndNonVideoFilesAreClearErrors) {
  auto missing = VideoReader::open(temp_dir() + "/nope.mp4");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  std::string text = temp_dir() + "/not_a_video.mp4";
  FILE* f = std::fopen(text.c_str(), "w");
  std::fputs("hello, this is not a video\n", f);
  std::fclose(f);
  auto bad = VideoReader::open(text);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("not_a_video.mp4"), std::string::npos);
}

TEST(Decode, AutoDeviceFallsBackToCpuWithAReason) {
  std::string path = temp_dir() + "/auto.mp4";
  ASSERT_TRUE(
      ffmpeg("-f lavfi -i testsrc2=size=160x96:rate=25:duration=0.2 -c:v libx264 "
             "-preset ultrafast -pix_fmt yuv420p '" +
             path + "'"));
  auto reader = VideoReader::open(path, {.device = DecodeDevice::kAuto});
  ASSERT_TRUE(reader.ok()) << reader.status().message();
  if (reader->info().decoder == "cpu") {
    EXPECT_FALSE(reader->info().fallback_reason.empty());
  }
  VideoFrame f;
  int n = 0;
  while (reader->read(f).value()) ++n;
  EXPECT_EQ(n, 5);
}

}  // namespace
}  // namespace fungen
