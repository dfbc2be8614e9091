#include "video/writers/record_io.h"

#include <unistd.h>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "video/writers/record_codec.h"

namespace fungen::video {
namespace {

double round_to(double v, double step) {
  return std::round(v / step) * step;
}

Status write_bytes(FILE* f, const std::string& bytes, const std::string& path) {
  if (std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) {
    return io_error(path + ": write failed (" + std::strerror(errno) + "); is the disk full?");
  }
  return Status();
}

}  // namespace

RecordFormat record_format_for(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".msgpack" || ext == ".mpk" || ext == ".msgp" ? RecordFormat::kMsgpack
                                                              : RecordFormat::kJsonl;
}

std::string part_path_for(const std::string& path) {
  return path + ".part";
}

Json frame_record(int64_t frame, double t_ms, int width, int height,
                  const std::vector<Detection>& detections) {
  Json list = Json::array();
  for (const Detection& d : detections) {
    list.push_back({{"class_id", d.class_id},
                    {"class_name", d.class_name},
                    {"confidence", round_to(d.confidence, 1e-5)},
                    {"x1", round_to(d.x1, 0.01)},
                    {"y1", round_to(d.y1, 0.01)},
                    {"x2", round_to(d.x2, 0.01)},
                    {"y2", round_to(d.y2, 0.01)}});
  }
  return {{"type", "frame"}, {"frame", frame},   {"t_ms", round_to(t_ms, 1e-3)},
          {"width", width},  {"height", height}, {"detections", std::move(list)}};
}

RecordWriter::~RecordWriter() {
  if (file_) std::fclose(file_);
}

Result<std::unique_ptr<RecordWriter>> RecordWriter::open(const std::string& path,
                                                         RecordFormat format, const Json& header,
                                                         uint64_t keep_bytes) {
  std::unique_ptr<RecordWriter> w(new RecordWriter());
  w->path_ = path;
  w->part_path_ = part_path_for(path);
  w->format_ = format;
  std::error_code ec;
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (keep_bytes > 0) {
    std::filesystem::resize_file(w->part_path_, keep_bytes, ec);
    if (ec) return io_error(w->part_path_ + ": cannot cut to resume (" + ec.message() + ")");
    w->file_ = std::fopen(w->part_path_.c_str(), "ab");
  } else {
    w->file_ = std::fopen(w->part_path_.c_str(), "wb");
  }
  if (!w->file_) return io_error(w->part_path_ + ": cannot write (" + std::strerror(errno) + ")");
  std::setvbuf(w->file_, nullptr, _IOFBF, 1 << 20);
  if (keep_bytes == 0) FUNGEN_RETURN_IF_ERROR(w->write(header));
  return w;
}

Status RecordWriter::write(const Json& record) {
  return write_bytes(file_, encode_record(record, format_), part_path_);
}

Status RecordWriter::flush() {
  if (std::fflush(file_) != 0) {
    return io_error(part_path_ + ": write failed (" + std::strerror(errno) +
                    "); is the disk full?");
  }
  return Status();
}

Status RecordWriter::finish(const Json& footer) {
  FUNGEN_RETURN_IF_ERROR(write(footer));
  FUNGEN_RETURN_IF_ERROR(flush());
  ::fsync(fileno(file_));
  bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!closed) return io_error(part_path_ + ": close failed (" + std::strerror(errno) + ")");
  if (std::rename(part_path_.c_str(), path_.c_str()) != 0) {
    return io_error(path_ + ": cannot rename " + part_path_ + " (" + std::strerror(errno) + ")");
  }
  return Status();
}

Result<ScanResult> scan_records(const std::string& path, RecordFormat format) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found(path + ": cannot read");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ScanResult scan;
  size_t offset = 0;
  Json rec;
  while (offset < bytes.size()) {
    size_t start = offset;
    DecodeOutcome r = decode_record(bytes, offset, format, rec);
    if (r != DecodeOutcome::kOk) {
      scan.stopped =
          fmt::format("{} record at byte {}",
                      r == DecodeOutcome::kIncomplete ? "an unfinished" : "a garbled", start);
      break;
    }
    std::string type = rec.value("type", "");
    if (!scan.has_header) {
      if (type != "header") {
        scan.stopped = "the first record is not a header";
        break;
      }
      scan.has_header = true;
      scan.header = rec;
      scan.header_end = offset;
      continue;
    }
    if (scan.has_footer) {
      scan.stopped = "records after the footer";
      break;
    }
    if (type == "frame") {
      int64_t expect = static_cast<int64_t>(scan.frames.size());
      if (!rec.contains("frame") || !rec["frame"].is_number_integer() ||
          rec["frame"].get<int64_t>() != expect || !rec.contains("t_ms")) {
        scan.stopped = fmt::format("frame record at byte {} is not frame {}", start, expect);
        break;
      }
      scan.frames.push_back({expect, rec["t_ms"].get<double>(), offset});
    } else if (type == "footer") {
      scan.has_footer = true;
      scan.footer = rec;
    } else {
      scan.stopped = fmt::format("unknown record type '{}' at byte {}", type, start);
      break;
    }
  }
  return scan;
}

std::string incomplete_reason(const ScanResult& scan, const Json& header) {
  if (!scan.has_header) return "it has no header";
  if (scan.header != header) return "it was made with other settings, model or video";
  if (!scan.stopped.empty()) return "it ends with " + scan.stopped;
  if (!scan.has_footer) return "it has no footer (an interrupted run)";
  if (!scan.footer.value("complete", false)) {
    return "its footer marks it incomplete (" +
           scan.footer.value("error", std::string("no reason")) + ")";
  }
  if (scan.footer.value("frames", int64_t{-1}) != static_cast<int64_t>(scan.frames.size())) {
    return "its footer's frame count disagrees with its records";
  }
  return "";
}

}  // namespace fungen::video
