// record_io.h — the detections file of a video: a header record, one record per frame and a
// footer, as JSON lines (.jsonl) or concatenated msgpack maps (.msgpack); written through
// "<out>.part" and renamed at the end, scanned back to resume or to verify a finished file.
//
//   {"type":"header","format":"fungen-detections","format_version":1,"video":...,"model":...,
//    "fungen_version":...,"settings":{...},"video_info":{...}}
//   {"type":"frame","frame":0,"t_ms":0.0,"width":640,"height":640,"detections":[{"class_id",
//    "class_name","confidence","x1","y1","x2","y2"}, ...]}
//   {"type":"footer","frames":N,"complete":true}          (complete:false + "error" on damage)
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fungen/detector.h"
#include "fungen/status.h"

namespace fungen::video {

using Json = nlohmann::ordered_json;

enum class RecordFormat { kJsonl, kMsgpack };

// .msgpack / .mpk / .msgp → msgpack; anything else (.jsonl, .json, .ndjson) → JSON lines.
RecordFormat record_format_for(const std::string& path);
std::string part_path_for(const std::string& path);

// Boxes rounded to 1/100 px and confidences to 1e-5, so text and msgpack agree exactly.
Json frame_record(int64_t frame, double t_ms, int width, int height,
                  const std::vector<Detection>& detections);

class RecordWriter {
 public:
  // Writes to part_path_for(path). keep_bytes == 0: a new file starting with `header`;
  // otherwise the existing part file is cut to keep_bytes and appended to (resume).
  static Result<std::unique_ptr<RecordWriter>> open(const std::string& path, RecordFormat format,
                                                    const Json& header, uint64_t keep_bytes);
  ~RecordWriter();

  Status write(const Json& record);
  // Pushes buffered records to the OS (a kill after this loses nothing written so far).
  Status flush();
  // Appends the footer, syncs and renames the part file to the final path.
  Status finish(const Json& footer);
  const std::string& part_path() const { return part_path_; }

 private:
  RecordWriter() = default;
  std::string path_, part_path_;
  RecordFormat format_ = RecordFormat::kJsonl;
  FILE* file_ = nullptr;
};

struct ScannedFrame {
  int64_t frame = 0;
  double t_ms = 0;
  uint64_t end_offset = 0;  // file offset just after this record
};

struct ScanResult {
  bool has_header = false;
  Json header;
  uint64_t header_end = 0;
  std::vector<ScannedFrame> frames;  // consecutive from frame 0
  bool has_footer = false;
  Json footer;
  std::string stopped;  // why reading stopped before the end of the file ("" if it did not)
};

// Reads every complete record; a torn or garbled tail ends the scan (reported in `stopped`).
Result<ScanResult> scan_records(const std::string& path, RecordFormat format);

// Why `scan` is not a complete file for `header` ("" when it is complete and matches).
std::string incomplete_reason(const ScanResult& scan, const Json& header);

}  // namespace fungen::video
