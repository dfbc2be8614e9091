// detect_video.h — the video branch of `fungen detect`: flags and the per-video loop.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "fungen/detector.h"

namespace fungen::cli {

struct VideoFlags {
  std::string vr = "auto";
  std::string view = "stereographic";
  double fov = 90, fov_y = 0;  // fov_y 0: same as fov
  double pitch = -21, yaw = 0;
  std::string view_size = "640x640";
  std::string eye = "left";
  std::string decode = "auto";
  int decode_threads = 0;
  int decoders = 0;  // parallel decode sessions, 0: auto
  std::string progress = "auto";
  bool quiet = false;
  bool overwrite = false;
  bool recursive = false;
};

// Adds --vr --view --fov --fov-y --pitch --yaw --view-size --eye --decode --decode-threads
// --decoders
// --progress --quiet --overwrite -r/--recursive.
void add_video_flags(CLI::App* cmd, VideoFlags& flags);

// True when the inputs name videos (files with a video extension, or folders holding some).
bool has_video_inputs(const std::vector<std::string>& inputs, const VideoFlags& flags);

// Runs `detector` over every video; `out` is a file (one video), a folder, or empty (beside each
// video as <stem>.detections.msgpack). Returns the process exit code (130 after Ctrl-C).
int run_video_detect(const std::vector<std::string>& inputs, const std::string& out,
                     const VideoFlags& flags, Detector& detector, const DetectOptions& options,
                     const std::string& model_path, int batch, bool batch_given = true);

}  // namespace fungen::cli
