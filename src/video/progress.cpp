#include "video/progress.h"

#include <unistd.h>
#include <algorithm>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace fungen::video {
namespace {

std::string clock_text(double seconds) {
  if (seconds < 0 || seconds > 1e7) return "--:--";
  int s = static_cast<int>(seconds + 0.5);
  return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
                   : fmt::format("{}:{:02}", s / 60, s % 60);
}

}  // namespace

ProgressMode resolve_progress_mode(ProgressMode mode) {
  if (mode != ProgressMode::kAuto) return mode;
  return ::isatty(fileno(stderr)) ? ProgressMode::kBar : ProgressMode::kQuiet;
}

Progress::Progress(ProgressMode mode, std::string label, int64_t total_frames, int64_t first_frame)
    : mode_(resolve_progress_mode(mode)),
      label_(std::move(label)),
      total_(total_frames),
      first_(first_frame),
      start_(std::chrono::steady_clock::now()),
      last_print_(start_) {}

void Progress::update(int64_t frames_done) {
  if (mode_ == ProgressMode::kQuiet) return;
  auto now = std::chrono::steady_clock::now();
  double since = std::chrono::duration<double>(now - last_print_).count();
  if (since < (mode_ == ProgressMode::kJson ? 1.0 : 0.25)) return;
  last_print_ = now;
  print(frames_done, false, "running");
}

void Progress::done(int64_t frames_done, const std::string& state) {
  if (mode_ == ProgressMode::kQuiet) return;
  print(frames_done, true, state);
}

void Progress::print(int64_t frames_done, bool final, const std::string& state) {
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  int64_t here = frames_done - first_;
  double fps = elapsed > 0 ? here / elapsed : 0.0;
  double eta = total_ > 0 && fps > 0 ? (total_ - frames_done) / fps : -1;
  if (mode_ == ProgressMode::kJson) {
    nlohmann::ordered_json j = {{"type", "progress"},
                                {"video", label_},
                                {"state", state},
                                {"frames", frames_done},
                                {"total", total_},
                                {"fps", std::round(fps * 10) / 10},
                                {"elapsed_s", std::round(elapsed * 10) / 10},
                                {"eta_s", eta < 0 ? nlohmann::ordered_json(nullptr)
                                                  : nlohmann::ordered_json(std::round(eta))}};
    std::fputs((j.dump() + "\n").c_str(), stdout);
    std::fflush(stdout);
    return;
  }
  std::string bar;
  if (total_ > 0) {
    double frac = std::min(1.0, static_cast<double>(frames_done) / total_);
    int filled = static_cast<int>(frac * 30);
    bar = fmt::format("[{}{}] {:3.0f}% ", std::string(filled, '#'), std::string(30 - filled, '.'),
                      frac * 100);
  }
  std::string total = total_ > 0 ? fmt::format("/{}", total_) : "";
  std::fprintf(stderr, "\r%s: %s%lld%s frames  %.1f fps  %s %s\x1b[K%s", label_.c_str(),
               bar.c_str(), static_cast<long long>(frames_done), total.c_str(), fps,
               final ? "elapsed" : "ETA", clock_text(final ? elapsed : eta).c_str(),
               final ? (" (" + state + ")\n").c_str() : "");
  std::fflush(stderr);
}

}  // namespace fungen::video
