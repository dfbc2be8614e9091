// detect_video.cpp — `fungen detect VIDEO...`: one detections file per video (see
// src/video/writers/record_io.h for its records), resumable, with progress and Ctrl-C.
#include "cli/detect_video.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "cli/commands.h"
#include "fungen/log.h"
#include "fungen/video.h"

#ifdef FUNGEN_HAVE_VIDEO
#include "video/device_detect.h"
#include "video/pipeline.h"
#endif

namespace fungen::cli {
namespace {

namespace fs = std::filesystem;

#ifdef FUNGEN_HAVE_VIDEO
bool looks_like_video(const std::string& path) {
  return is_video_file_name(path);
}
#else
// Without FFmpeg src/video/ is not built; still recognise videos to say why they cannot be read.
bool looks_like_video(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".mp4" || ext == ".mkv" || ext == ".mov" || ext == ".webm" || ext == ".avi";
}
#endif

std::vector<std::string> find_videos(const std::vector<std::string>& inputs, bool recursive) {
  std::vector<std::string> files;
  for (const std::string& in : inputs) {
    std::error_code ec;
    if (!fs::is_directory(in, ec)) {
      files.push_back(in);
      continue;
    }
    std::vector<std::string> found;
    auto add = [&](const fs::directory_entry& e) {
      if (e.is_regular_file() && looks_like_video(e.path().string()))
        found.push_back(e.path().string());
    };
    if (recursive) {
      for (const auto& e : fs::recursive_directory_iterator(in, ec)) add(e);
    } else {
      for (const auto& e : fs::directory_iterator(in, ec)) add(e);
    }
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

#ifdef FUNGEN_HAVE_VIDEO
std::atomic<bool> g_interrupted{false};

extern "C" void on_sigint(int) {
  g_interrupted = true;
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C kills at once
}

Result<std::pair<int, int>> parse_size(const std::string& text) {
  int w = 0, h = 0;
  char x = 0;
  std::istringstream ss(text);
  if (!(ss >> w >> x >> h) || x != 'x' || w < 32 || h < 32 || w > 8192 || h > 8192) {
    return invalid_argument("--view-size: '" + text + "' is not WIDTHxHEIGHT (32..8192)");
  }
  return std::make_pair(w, h);
}

Result<video::ProgressMode> parse_progress(const VideoFlags& f) {
  if (f.quiet || f.progress == "none") return video::ProgressMode::kQuiet;
  if (f.progress == "auto") return video::ProgressMode::kAuto;
  if (f.progress == "bar") return video::ProgressMode::kBar;
  if (f.progress == "json") return video::ProgressMode::kJson;
  return invalid_argument("--progress: '" + f.progress + "' is not auto, bar, json or none");
}

std::string output_for(const std::string& video, const std::string& out, bool several) {
  std::error_code ec;
  bool out_is_dir = !out.empty() && (fs::is_directory(out, ec) || out.back() == '/' || several);
  std::string name = fs::path(video).stem().string() + ".detections.msgpack";
  if (out.empty()) return (fs::path(video).parent_path() / name).string();
  if (out_is_dir) return (fs::path(out) / name).string();
  return out;
}

video::Json detect_settings_json(const DetectOptions& o) {
  auto r6 = [](float v) { return std::round(static_cast<double>(v) * 1e6) / 1e6; };
  return {{"conf", r6(o.conf)},
          {"iou", r6(o.iou)},
          {"max_det", o.max_det},
          {"classes", o.classes},
          {"agnostic", o.agnostic}};
}
#endif

}  // namespace

void add_video_flags(CLI::App* cmd, VideoFlags& f) {
  auto* g = cmd;
  g->add_option("--vr", f.vr,
                "Videos: VR format, auto (from the file name, then the aspect ratio), none, or "
                "[sbs|rl|tb|mono]-[he180|equirect360|fisheye190|fisheye200|fisheye220]")
      ->capture_default_str();
  g->add_option("--view", f.view, "VR view projection: stereographic or rectilinear")
      ->capture_default_str();
  g->add_option("--fov", f.fov, "VR view horizontal field of view, degrees")->capture_default_str();
  g->add_option("--fov-y", f.fov_y, "VR view vertical field of view (default: --fov)");
  g->add_option("--pitch", f.pitch, "VR view pitch, degrees (negative looks down)")
      ->capture_default_str();
  g->add_option("--yaw", f.yaw, "VR view yaw, degrees (positive looks right)")
      ->capture_default_str();
  g->add_option("--view-size", f.view_size, "VR view size WIDTHxHEIGHT")->capture_default_str();
  g->add_option("--eye", f.eye, "VR eye: left or right")->capture_default_str();
  g->add_option("--decode", f.decode, "Video decoder: auto (NVDEC when usable), cpu, cuda, cuda:N")
      ->capture_default_str();
  g->add_option("--decode-threads", f.decode_threads, "CPU decoder threads (0: FFmpeg's choice)")
      ->check(CLI::Range(0, 256));
  g->add_option("--decoders", f.decoders,
                "Parallel decode sessions over keyframe-aligned chunks (0: auto; NVDEC 4, CPU 1 "
                "below 8 cores)")
      ->check(CLI::Range(0, 64));
  g->add_option("--progress", f.progress,
                "Videos: auto (a bar on a terminal), bar, json (lines on stdout), none")
      ->capture_default_str();
  g->add_flag("--quiet,-q", f.quiet, "Videos: no progress and no summary");
  g->add_flag("--overwrite", f.overwrite, "Videos: redo outputs that are complete or interrupted");
  g->add_flag("--recursive,-r", f.recursive, "Videos: search folders recursively");
}

bool has_video_inputs(const std::vector<std::string>& inputs, const VideoFlags& flags) {
  for (const std::string& f : find_videos(inputs, flags.recursive)) {
    if (looks_like_video(f)) return true;
  }
  return false;
}

int run_video_detect(const std::vector<std::string>& inputs, const std::string& out,
                     const VideoFlags& flags, Detector& detector, const DetectOptions& options,
                     const std::string& model_path, int batch, bool batch_given) {
#ifndef FUNGEN_HAVE_VIDEO
  return report(
      unsupported("this fungen was built without FFmpeg (FUNGEN_FFMPEG=OFF); videos "
                  "cannot be read"));
#else
  std::vector<std::string> videos = find_videos(inputs, flags.recursive);
  for (const std::string& v : videos) {
    if (!looks_like_video(v)) {
      return report(invalid_argument(v + ": give either images or videos, not both"));
    }
  }
  video::VideoJob base;
  auto decode = parse_decode_device(flags.decode);
  if (!decode.ok()) return report(decode.status());
  base.decode = decode.value();
  base.decode.threads = flags.decode_threads;
  base.decoders = flags.decoders;
  base.vr = flags.vr;
  if (flags.vr != "auto") {
    auto vr = parse_vr_format(flags.vr);
    if (!vr.ok()) return report(vr.status());
  }
  auto proj = parse_view_projection(flags.view);
  if (!proj.ok()) return report(proj.status());
  auto size = parse_size(flags.view_size);
  if (!size.ok()) return report(size.status());
  if (flags.eye != "left" && flags.eye != "right") {
    return report(invalid_argument("--eye: '" + flags.eye + "' is not left or right"));
  }
  auto progress = parse_progress(flags);
  if (!progress.ok()) return report(progress.status());
  base.view.projection = proj.value();
  base.view.fov_x_deg = flags.fov;
  base.view.fov_y_deg = flags.fov_y > 0 ? flags.fov_y : flags.fov;
  base.view.pitch_deg = flags.pitch;
  base.view.yaw_deg = flags.yaw;
  base.view.width = size->first, base.view.height = size->second;
  base.view.eye = flags.eye == "right" ? Eye::kRight : Eye::kLeft;
  base.input_width = detector.input_width();
  base.input_height = detector.input_height();
  base.batch = std::max(batch, 1);
  // NVDEC frames straight to the GPU detector (zero copy) when both are on the GPU. Its batch:
  // the model's static batch, --batch when given, else 16 (a profile's batch suits the CPU).
  const bool may_nvdec = base.decode.device != DecodeDevice::kCpu;
  if (may_nvdec && detector.static_batch() == 0 && !batch_given) {
    std::string why;
    if (video::make_device_detect(detector, options, 16, why))
      base.batch = std::max(base.batch, 16);
  }
  base.overwrite = flags.overwrite;
  base.progress = progress.value();
  base.model_info = {{"path", model_path},
                     {"input", {detector.input_width(), detector.input_height()}},
                     {"classes", detector.num_classes()}};
  base.detect_settings = detect_settings_json(options);
  base.stop = &g_interrupted;
  // On the GPU a short batch (a video's last) runs padded to the video batch with copies of its
  // last frame: it reuses the full batches' plan and CUDA graph (no plan build or capture at the
  // end of each video) and computes exactly as they do, like the NVDEC path (DeviceDetect).
  // (Asked per call: the engine places its nodes on a backend when it first plans a batch.)
  std::vector<Frame> padded;
  video::DetectBatchFn detect =
      [&](std::span<const Frame> frames) -> Result<std::vector<std::vector<Detection>>> {
    const size_t full = static_cast<size_t>(std::max(base.batch, 1));
    if (frames.empty() || frames.size() >= full || detector.static_batch() != 0 ||
        detector.engine().nodes_on("cuda") == 0)
      return detector.detect(frames, options);
    padded.assign(frames.begin(), frames.end());
    padded.resize(full, frames.back());
    FUNGEN_ASSIGN_OR_RETURN(auto dets, detector.detect(padded, options));
    dets.resize(frames.size());
    return dets;
  };

  g_interrupted = false;
  auto previous = std::signal(SIGINT, on_sigint);
  int exit_code = 0;
  for (const std::string& v : videos) {
    video::VideoJob job = base;
    job.video = v;
    job.out = output_for(v, out, videos.size() > 1);
    if (may_nvdec) {
      std::string why;
      job.device_detect = video::make_device_detect(detector, options, job.batch, why);
      if (!job.device_detect)
        log(LogLevel::kInfo, "{}: NVDEC frames are downloaded for the detector: {}", v, why);
    }
    auto r = video::run_video_job(job, detect);
    if (!r.ok()) {
      int code = report(r.status());
      if (exit_code == 0) exit_code = code;
      continue;
    }
    if (!flags.quiet) {
      const auto& res = r.value();
      if (res.skipped) {
        std::fprintf(stderr, "%s: %s is complete (%lld frames); kept (--overwrite redoes it)\n",
                     v.c_str(), job.out.c_str(), static_cast<long long>(res.frames));
      } else {
        std::fprintf(
            stderr, "%s: %lld frames (%s, %s decode%s%s) in %.1f s, %.1f fps -> %s%s\n", v.c_str(),
            static_cast<long long>(res.frames), res.vr.c_str(), res.info.decoder.c_str(),
            res.device_frames > 0
                ? fmt::format(", {} straight from GPU memory", res.device_frames).c_str()
                : "",
            res.resumed_from > 0 ? fmt::format(", resumed after {}", res.resumed_from).c_str() : "",
            res.seconds, res.seconds > 0 ? res.frames_this_run / res.seconds : 0.0,
            res.interrupted ? video::part_path_for(job.out).c_str() : job.out.c_str(),
            res.interrupted ? " (interrupted; run again to resume)" : "");
      }
    }
    if (r->interrupted || g_interrupted) {
      exit_code = 130;
      break;
    }
  }
  std::signal(SIGINT, previous);
  return exit_code;
#endif
}

}  // namespace fungen::cli
