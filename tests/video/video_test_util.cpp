#include "video_test_util.h"

#include <unistd.h>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>

namespace fungen::test {
namespace {

struct TempDir {
  std::string path;
  TempDir() {
    path = (std::filesystem::temp_directory_path() /
            ("fungen_video_tests_" + std::to_string(::getpid())))
               .string();
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    if (!std::getenv("FUNGEN_KEEP_TEST_FILES")) {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  }
};

}  // namespace

const std::string& temp_dir() {
  static TempDir dir;
  return dir.path;
}

int run_command(const std::string& command) {
  std::string full = command + " >>" + temp_dir() + "/commands.log 2>&1";
  int rc = std::system(full.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
}

std::string capture(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (!p) return out;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

bool have_encoder(const std::string& name) {
  static std::map<std::string, bool> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  std::string list =
      capture(std::string(FUNGEN_FFMPEG_EXE) + " -hide_banner -encoders 2>/dev/null");
  bool found = list.find(" " + name + " ") != std::string::npos;
  cache[name] = found;
  return found;
}

bool ffmpeg(const std::string& args) {
  return run_command(std::string(FUNGEN_FFMPEG_EXE) + " -hide_banner -loglevel error -y " + args) ==
         0;
}

std::vector<double> ffprobe_frame_times(const std::string& path) {
  std::string probe = std::string(FUNGEN_FFPROBE_EXE) + " -v error -select_streams v:0 ";
  std::string start = capture(probe + "-show_entries stream=start_time -of csv=p=0 '" + path + "'");
  double start_s = std::atof(start.c_str());
  std::string out =
      capture(probe + "-show_entries frame=best_effort_timestamp_time -of csv=p=0 '" + path + "'");
  std::vector<double> times;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    times.push_back((std::atof(line.c_str()) - start_s) * 1000.0);
  }
  return times;
}

std::vector<Image> ffmpeg_decode_bgr(const std::string& path, int width, int height) {
  std::string raw =
      capture(std::string(FUNGEN_FFMPEG_EXE) + " -v error -i '" + path +
              "' -sws_flags bilinear+accurate_rnd+full_chroma_int -f rawvideo -pix_fmt bgr24 -");
  size_t bytes = static_cast<size_t>(width) * height * 3;
  std::vector<Image> frames;
  for (size_t off = 0; off + bytes <= raw.size(); off += bytes) {
    Image img(width, height);
    std::copy(raw.begin() + off, raw.begin() + off + bytes, img.data());
    frames.push_back(std::move(img));
  }
  return frames;
}

double mean_abs_diff(const Image& a, const Image& b) {
  if (a.width() != b.width() || a.height() != b.height()) return 1e9;
  size_t n = static_cast<size_t>(a.width()) * a.height() * 3;
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += std::abs(int(a.data()[i]) - int(b.data()[i]));
  return n ? sum / n : 0.0;
}

bool encode_frames(const std::vector<Image>& frames, double fps, const std::string& codec_args,
                   const std::string& out_path) {
  if (frames.empty()) return false;
  std::string raw = out_path + ".bgr";
  FILE* f = std::fopen(raw.c_str(), "wb");
  if (!f) return false;
  for (const Image& img : frames) {
    std::fwrite(img.data(), 1, static_cast<size_t>(img.width()) * img.height() * 3, f);
  }
  std::fclose(f);
  char rate[32];
  std::snprintf(rate, sizeof rate, "%g", fps);
  bool ok = ffmpeg("-f rawvideo -pix_fmt bgr24 -s " + std::to_string(frames[0].width()) + "x" +
                   std::to_string(frames[0].height()) + " -r " + rate + " -i '" + raw + "' " +
                   codec_args + " '" + out_path + "'");
  std::filesystem::remove(raw);
  return ok;
}

}  // namespace fungen::test
