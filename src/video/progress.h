// progress.h — progress of a video job: a bar with fps and ETA on a terminal, JSON lines, or
// nothing.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace fungen::video {

enum class ProgressMode { kAuto, kBar, kJson, kQuiet };  // kAuto: a bar when stderr is a terminal

class Progress {
 public:
  Progress(ProgressMode mode, std::string label, int64_t total_frames, int64_t first_frame);
  // Called after each written frame; prints at most a few times a second.
  void update(int64_t frames_done);
  // Final line (a newline after the bar).
  void done(int64_t frames_done, const std::string& state);

 private:
  void print(int64_t frames_done, bool final, const std::string& state);
  ProgressMode mode_;
  std::string label_;
  int64_t total_, first_;
  std::chrono::steady_clock::time_point start_, last_print_;
};

ProgressMode resolve_progress_mode(ProgressMode mode);

}  // namespace fungen::video
