// The video pipeline with a stand-in detector: file structure in both formats, timestamps equal
// to ffprobe's, resume after an interruption giving the same file, reuse of complete outputs,
// and damaged videos ending with a clear error that keeps every earlier frame.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "video/pipeline.h"
#include "video/writers/record_io.h"
#include "video_test_util.h"

namespace fungen {
namespace {

using video::Json;

// A deterministic stand-in for the Detector: one box around the brightest 8×8 block, with a
// confidence from its brightness, and a second box whose class depends on the mean colour.
Result<std::vector<std::vector<Detection>>> fake_detect(std::span<const Frame> frames) {
  std::vector<std::vector<Detection>> out;
  for (const Frame& f : frames) {
    int best = -1, bx = 0, by = 0;
    long sum = 0;
    for (int y = 0; y + 8 <= f.height; y += 8) {
      for (int x = 0; x + 8 <= f.width; x += 8) {
        int s = 0;
        for (int yy = 0; yy < 8; ++yy)
          for (int xx = 0; xx < 8; ++xx) s += f.row(y + yy)[3 * (x + xx) + 1];
        sum += s;
        if (s > best) best = s, bx = x, by = y;
      }
    }
    Detection d;
    d.class_id = 0, d.class_name = "bright";
    d.confidence = static_cast<float>(best) / (64 * 255);
    d.x1 = static_cast<float>(bx), d.y1 = static_cast<float>(by);
    d.x2 = static_cast<float>(bx + 8), d.y2 = static_cast<float>(by + 8);
    Detection m = d;
    m.class_id = static_cast<int>(sum % 3) + 1, m.class_name = "mean";
    m.confidence = 0.5f;
    m.x1 = 0, m.y1 = 0, m.x2 = static_cast<float>(f.width), m.y2 = static_cast<float>(f.height);
    out.push_back({d, m});
  }
  return out;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string make_clip(const std::string& name, double seconds, const std::string& extra = "") {
  std::string path = test::temp_dir() + "/" + name;
  if (!std::filesystem::exists(path)) {
    EXPECT_TRUE(
        test::ffmpeg(fmt::format("-f lavfi -i testsrc2=size=320x180:rate=25:duration={} "
                                 "-c:v libx264 -preset ultrafast -pix_fmt yuv420p -g 12 {} '{}'",
                                 seconds, extra, path)));
  }
  return path;
}

video::VideoJob job_for(const std::string& video, const std::string& out, int batch = 4) {
  video::VideoJob job;
  job.video = video;
  job.out = out;
  job.decode.device = DecodeDevice::kCpu;
  job.batch = batch;
  job.progress = video::ProgressMode::kQuiet;
  job.model_info = {{"path", "fake"}};
  return job;
}

TEST(Pipeline, WritesHeaderFramesFooterInBothFormats) {
  std::string clip = make_clip("pipe.mp4", 2.0);
  std::vector<double> times = test::ffprobe_frame_times(clip);
  ASSERT_EQ(times.size(), 50u);
  std::vector<video::ScanResult> scans;
  for (const char* ext : {"jsonl", "msgpack"}) {
    std::string out = test::temp_dir() + "/pipe." + ext;
    auto r = video::run_video_job(job_for(clip, out), fake_detect);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->frames, 50);
    EXPECT_FALSE(std::filesystem::exists(video::part_path_for(out)));
    auto scan = video::scan_records(out, video::record_format_for(out));
    ASSERT_TRUE(scan.ok());
    EXPECT_EQ(video::incomplete_reason(scan.value(), scan->header), "");
    EXPECT_EQ(scan->header["type"], "header");
    EXPECT_EQ(scan->header["video"], clip);
    EXPECT_EQ(scan->header["settings"]["vr"], "none");
    EXPECT_EQ(scan->footer["frames"], 50);
    EXPECT_EQ(scan->footer["complete"], true);
    ASSERT_EQ(scan->frames.size(), 50u);
    for (size_t i = 0; i < 50; ++i) EXPECT_NEAR(scan->frames[i].t_ms, times[i], 0.01);
    scans.push_back(std::move(scan).value());
  }
  // The first frame record: boxes in video pixels (the stand-in saw the 640×360 resize).
  std::string text = read_all(test::temp_dir() + "/pipe.jsonl");
  size_t l1 = text.find('\n') + 1;
  Json frame0 = Json::parse(text.substr(l1, text.find('\n', l1) - l1));
  EXPECT_EQ(frame0["type"], "frame");
  EXPECT_EQ(frame0["frame"], 0);
  EXPECT_EQ(frame0["width"], 320);
  EXPECT_EQ(frame0["height"], 180);
  ASSERT_EQ(frame0["detections"].size(), 2u);
  EXPECT_EQ(frame0["detections"][1]["x2"], 320.0);
  EXPECT_EQ(frame0["detections"][1]["y2"], 180.0);
  // jsonl and msgpack hold the same records.
  EXPECT_EQ(scans[0].header, scans[1].header);
  EXPECT_EQ(scans[0].footer, scans[1].footer);
}

TEST(Pipeline, ResumeAfterInterruptionGivesTheSameFile) {
  std::string clip = make_clip("resume.mp4", 2.4);
  for (const char* ext : {"jsonl", "msgpack"}) {
    std::string whole = test::temp_dir() + "/whole." + ext;
    ASSERT_TRUE(video::run_video_job(job_for(clip, whole, 4), fake_detect).ok());
    std::string out = test::temp_dir() + "/resumed." + ext;
    // Interrupted after 23 frames (mid-batch), the part file stays...
    video::VideoJob first = job_for(clip, out, 4);
    first.stop_after_frames = 23;
    auto r1 = video::run_video_job(first, fake_detect);
    ASSERT_TRUE(r1.ok()) << r1.status().message();
    EXPECT_TRUE(r1->interrupted);
    EXPECT_FALSE(std::filesystem::exists(out));
    std::string part = video::part_path_for(out);
    ASSERT_TRUE(std::filesystem::exists(part));
    // ...a torn record at its end, as a kill during a write leaves...
    std::string torn =
        std::string(ext) == "jsonl" ? "{\"type\":\"frame\",\"frame\":23,\"t_" : "\x86\xa4type";
    std::ofstream(part, std::ios::app | std::ios::binary) << torn;
    // ...and the next run resumes at a batch boundary and ends with the very same file.
    auto r2 = video::run_video_job(job_for(clip, out, 4), fake_detect);
    ASSERT_TRUE(r2.ok()) << r2.status().message();
    EXPECT_EQ(r2->resumed_from, 20);
    EXPECT_EQ(r2->frames, 60);
    EXPECT_EQ(read_all(out), read_all(whole)) << ext;
  }
}

TEST(Pipeline, CompleteOutputIsReusedAndOverwriteRedoesIt) {
  std::string clip = make_clip("reuse.mp4", 0.8);
  std::string out = test::temp_dir() + "/reuse.jsonl";
  ASSERT_TRUE(video::run_video_job(job_for(clip, out), fake_detect).ok());
  auto again = video::run_video_job(job_for(clip, out), fake_detect);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->skipped);
  EXPECT_EQ(again->frames, 20);
  // Other settings: not reused.
  video::VideoJob other = job_for(clip, out);
  other.detect_settings = {{"conf", 0.5}};
  auto redo = video::run_video_job(other, fake_detect);
  ASSERT_TRUE(redo.ok());
  EXPECT_FALSE(redo->skipped);
  // A file without its footer (e.g. copied while being written) is not reused.
  std::string text = read_all(out);
  text.erase(text.rfind("{\"type\":\"footer\""));
  std::ofstream(out, std::ios::binary | std::ios::trunc) << text;
  auto fixed = video::run_video_job(other, fake_detect);
  ASSERT_TRUE(fixed.ok());
  EXPECT_FALSE(fixed->skipped);
  EXPECT_EQ(fixed->frames, 20);
  video::VideoJob over = other;
  over.overwrite = true;
  auto o = video::run_video_job(over, fake_detect);
  ASSERT_TRUE(o.ok());
  EXPECT_FALSE(o->skipped);
}

// Frames of `path` with their records, for comparing a damaged run with a clean one.
std::vector<Json> frame_records(const std::string& path) {
  std::vector<Json> out;
  std::string text = read_all(path);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    Json j = Json::parse(text.substr(pos, nl - pos));
    if (j["type"] == "frame") out.push_back(j);
    pos = nl + 1;
  }
  return out;
}

TEST(Pipeline, TruncatedVideoEndsWithAClearErrorKeepingEarlierFrames) {
  // faststart: the index is at the front, so the cut loses frame data, not the index.
  std::string clip = make_clip("whole_fs.mp4", 2.0, "-movflags +faststart");
  std::string clean = test::temp_dir() + "/clean.jsonl";
  ASSERT_TRUE(video::run_video_job(job_for(clip, clean), fake_detect).ok());
  std::string cut = test::temp_dir() + "/cut.mp4";
  std::string bytes = read_all(clip);
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() * 6 / 10);
  std::string out = test::temp_dir() + "/cut.jsonl";
  auto r = video::run_video_job(job_for(cut, out), fake_detect);
  ASSERT_FALSE(r.ok());
  if (std::getenv("FUNGEN_TEST_VERBOSE")) std::printf("error: %s\n", r.status().message().c_str());
  EXPECT_EQ(r.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(r.status().message().find("truncated"), std::string::npos) << r.status().message();
  auto scan = video::scan_records(out, video::RecordFormat::kJsonl);
  ASSERT_TRUE(scan.ok());
  EXPECT_EQ(scan->footer["complete"], false);
  EXPECT_FALSE(scan->footer["error"].get<std::string>().empty());
  std::vector<Json> got = frame_records(out), want = frame_records(clean);
  EXPECT_GT(got.size(), 10u);
  EXPECT_LT(got.size(), 50u);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], want[i]) << "frame " << i;
}

TEST(Pipeline, CorruptedVideoEndsWithAClearErrorKeepingEarlierFrames) {
  std::string clip = make_clip("whole.mkv", 2.0);
  std::string clean = test::temp_dir() + "/clean_mkv.jsonl";
  ASSERT_TRUE(video::run_video_job(job_for(clip, clean), fake_detect).ok());
  std::string bytes = read_all(clip);
  // Garble a stretch in the middle of the file.
  for (size_t i = bytes.size() / 2; i < bytes.size() / 2 + 4000; ++i)
    bytes[i] = static_cast<char>((i * 7919) & 0xff);
  std::string bad = test::temp_dir() + "/garbled.mkv";
  std::ofstream(bad, std::ios::binary) << bytes;
  std::string out = test::temp_dir() + "/garbled.jsonl";
  auto r = video::run_video_job(job_for(bad, out), fake_detect);
  ASSERT_FALSE(r.ok());
  if (std::getenv("FUNGEN_TEST_VERBOSE")) std::printf("error: %s\n", r.status().message().c_str());
  EXPECT_EQ(r.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(r.status().message().find("garbled.mkv"), std::string::npos) << r.status().message();
  std::vector<Json> got = frame_records(out), want = frame_records(clean);
  EXPECT_GT(got.size(), 5u);
  EXPECT_LT(got.size(), 50u);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], want[i]) << "frame " << i;
}

TEST(Pipeline, VrVideoRecordsAreInTheViewsPixels) {
  std::string path = test::temp_dir() + "/scene_FISHEYE190_LR.mp4";
  ASSERT_TRUE(
      test::ffmpeg("-f lavfi -i testsrc2=size=800x400:rate=25:duration=0.4 -c:v libx264 "
                   "-preset ultrafast -pix_fmt yuv420p '" +
                   path + "'"));
  std::string out = test::temp_dir() + "/vr.msgpack";
  video::VideoJob job = job_for(path, out, 2);
  job.view.width = job.view.height = 320;
  auto r = video::run_video_job(job, fake_detect);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->vr, "sbs-fisheye190");
  auto scan = video::scan_records(out, video::RecordFormat::kMsgpack);
  ASSERT_TRUE(scan.ok());
  EXPECT_EQ(scan->header["settings"]["vr"], "sbs-fisheye190");
  EXPECT_EQ(scan->header["settings"]["view"]["pitch"], -21.0);
  EXPECT_EQ(scan->header["boxes_in"], "view");
  EXPECT_EQ(scan->frames.size(), 10u);
}

}  // namespace
}  // namespace fungen
