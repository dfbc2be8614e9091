// Detections-file records: both encodings round-trip, torn or garbled tails stop the scan at the
// last complete record, and completeness needs header match + footer + matching count.
#ifdef FUNGEN_HAVE_VIDEO
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "video/writers/record_codec.h"
#include "video/writers/record_io.h"

namespace fungen::video {
namespace {

Json header() {
  return {{"type", "header"}, {"video", "v.mp4"}, {"settings", {{"conf", 0.25}}}};
}

std::string write_file(RecordFormat f, int frames, bool footer) {
  std::string path = (std::filesystem::temp_directory_path() /
                      ("fungen_records_" + std::to_string(frames) +
                       (f == RecordFormat::kJsonl ? ".jsonl" : ".msgpack")))
                         .string();
  std::string bytes = encode_record(header(), f);
  for (int i = 0; i < frames; ++i) {
    Detection d;
    d.class_id = i % 3, d.class_name = "c" + std::to_string(i % 3),
    d.confidence = 0.123456789f * (i + 1) / 10;
    d.x1 = 1.234567f * i, d.y1 = 2, d.x2 = 300.5f, d.y2 = 400.25f;
    bytes += encode_record(frame_record(i, i * 33.366666, 640, 360, {d}), f);
  }
  if (footer)
    bytes += encode_record({{"type", "footer"}, {"frames", frames}, {"complete", true}}, f);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  return path;
}

TEST(VideoRecords, BothFormatsRoundTripTheSameRecords) {
  auto a = scan_records(write_file(RecordFormat::kJsonl, 5, true), RecordFormat::kJsonl);
  auto b = scan_records(write_file(RecordFormat::kMsgpack, 5, true), RecordFormat::kMsgpack);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->header, header());
  EXPECT_EQ(b->header, header());
  ASSERT_EQ(a->frames.size(), 5u);
  ASSERT_EQ(b->frames.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(a->frames[i].t_ms, b->frames[i].t_ms);
  EXPECT_EQ(incomplete_reason(a.value(), header()), "");
  EXPECT_EQ(incomplete_reason(b.value(), header()), "");
  Json rec = frame_record(3, 100.0004999, 10, 10, {});
  EXPECT_EQ(rec["t_ms"], 100.0);
}

TEST(VideoRecords, TornTailsStopAtTheLastCompleteRecord) {
  for (RecordFormat f : {RecordFormat::kJsonl, RecordFormat::kMsgpack}) {
    std::string path = write_file(f, 7, false);
    auto full = scan_records(path, f);
    ASSERT_TRUE(full.ok());
    uint64_t end = full->frames.back().end_offset;
    EXPECT_EQ(end, std::filesystem::file_size(path));
    // Cut in the middle of the last record.
    std::filesystem::resize_file(path, end - 5);
    auto torn = scan_records(path, f);
    ASSERT_TRUE(torn.ok());
    EXPECT_EQ(torn->frames.size(), 6u);
    EXPECT_NE(torn->stopped, "");
    EXPECT_NE(incomplete_reason(torn.value(), header()), "");
    // Complete but without footer: incomplete.
    auto nofooter = scan_records(write_file(f, 3, false), f);
    EXPECT_NE(incomplete_reason(nofooter.value(), header()).find("footer"), std::string::npos);
    // Other settings: not this run's file.
    Json other = header();
    other["settings"]["conf"] = 0.5;
    auto done = scan_records(write_file(f, 3, true), f);
    EXPECT_NE(incomplete_reason(done.value(), other), "");
  }
}

TEST(VideoRecords, FormatFollowsTheExtension) {
  EXPECT_EQ(record_format_for("a/b.msgpack"), RecordFormat::kMsgpack);
  EXPECT_EQ(record_format_for("a/b.MPK"), RecordFormat::kMsgpack);
  EXPECT_EQ(record_format_for("a/b.jsonl"), RecordFormat::kJsonl);
  EXPECT_EQ(part_path_for("x.jsonl"), "x.jsonl.part");
}

}  // namespace
}  // namespace fungen::video
#endif  // FUNGEN_HAVE_VIDEO
