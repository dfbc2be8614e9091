// video_test_util.h — make test clips with the ffmpeg CLI and read ffprobe's view of them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fungen/image.h"

namespace fungen::test {

// A fresh directory for this test program's files (removed at exit unless FUNGEN_KEEP_TEST_FILES).
const std::string& temp_dir();
// Runs a shell command; returns its exit status. Output goes to a log unless `echo`.
int run_command(const std::string& command);
// Runs a shell command and returns its stdout.
std::string capture(const std::string& command);
bool have_encoder(const std::string& name);
// ffmpeg with "-hide_banner -loglevel error -y" and the given arguments; true on success.
bool ffmpeg(const std::string& args);

// Presentation times (ms from the stream start) of every frame, as ffprobe decodes them.
std::vector<double> ffprobe_frame_times(const std::string& path);
// ffmpeg's own decode of every frame as BGR (rotation applied as players do), width × height,
// with swscale's accurate rounding and bilinear chroma (its default is a coarser fast path).
std::vector<Image> ffmpeg_decode_bgr(const std::string& path, int width, int height);
// Mean absolute difference of two equally sized images.
double mean_abs_diff(const Image& a, const Image& b);

// Encodes raw BGR frames (all the same size) at `fps` with the given codec arguments.
bool encode_frames(const std::vector<Image>& frames, double fps, const std::string& codec_args,
                   const std::string& out_path);

}  // namespace fungen::test
