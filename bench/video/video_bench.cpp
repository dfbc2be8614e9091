// fungen_video_bench — frames per second of one video through: decode only; decode + sample
// (VR unwarp or resize to the model input); detect only (the model on already sampled frames);
// decode + sample + detect (the full pipeline, no output file). One JSON line per mode.
//
// Decode only and decode + detect start their clocks alike: the CUDA context already up (the
// detector made it; decode only makes it first, reported as cuda_init_s), NVDEC decoder creation
// and its probe frame counted. Both also report first_frame_s (clock start to the first frame
// out: a popped frame, or the first detect batch done) and steady_fps (frames after that first
// output / time from it to the last output): the rate without start-up and teardown.
//
//   fungen_video_bench clip.mp4 --model yolo11n.onnx --batch 4 --max-frames 60
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "fungen/detector.h"
#include "fungen/video.h"
#include "util/cuda_capture_guard.h"
#include "video/decoder.h"
#include "video/device_detect.h"
#include "video/frame_source.h"
#include "video/pipeline.h"

using namespace fungen;
using Clock = std::chrono::steady_clock;

namespace {

// CPU time of the whole process (all threads), seconds.
double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}
double g_cpu_start = 0;  // process_cpu_seconds() when the current mode's clock started

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// When frames come out of a run: the first output (a frame, or a detect batch) and the last.
struct OutputClock {
  Clock::time_point start = Clock::now(), first, last;
  int64_t first_frames = 0, frames = 0;
  void out(int64_t n) {
    if (n <= 0) return;
    auto now = Clock::now();
    if (frames == 0) first = now, first_frames = n;
    last = now;
    frames += n;
  }
  // first_frame_s and steady_fps (0 when fewer than two outputs).
  nlohmann::ordered_json json() const {
    nlohmann::ordered_json j;
    if (frames == 0) return j;
    auto sec = [](Clock::time_point a, Clock::time_point b) {
      return std::chrono::duration<double>(b - a).count();
    };
    j["first_frame_s"] = std::round(sec(start, first) * 1000) / 1000;
    double span = sec(first, last);
    j["steady_fps"] = span > 0 ? std::round((frames - first_frames) / span * 10) / 10 : 0.0;
    return j;
  }
};

void emit(const std::string& video, const std::string& mode, int64_t frames, double s,
          const nlohmann::ordered_json& extra = {}) {
  nlohmann::ordered_json j = {{"video", video},
                              {"mode", mode},
                              {"frames", frames},
                              {"seconds", std::round(s * 1000) / 1000},
                              {"fps", s > 0 ? std::round(frames / s * 10) / 10 : 0.0}};
  // Cores busy on average while the mode ran (CPU time / wall time): how much of the machine a
  // stage leaves idle.
  double cpu = process_cpu_seconds() - g_cpu_start;
  j["cpu_s"] = std::round(cpu * 1000) / 1000;
  j["cores_busy"] = s > 0 ? std::round(cpu / s * 100) / 100 : 0.0;
  for (auto it = extra.begin(); it != extra.end(); ++it) j[it.key()] = it.value();
  std::printf("%s\n", j.dump().c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fungen video benchmark"};
  std::string video, model, vr = "auto", decode = "cpu", modes = "decode,sample,detect,pipeline";
  int batch = 1, threads = 0, decode_threads = 0, decoders = 1;
  int64_t max_frames = -1;
  app.add_option("video", video)->required();
  app.add_option("--model,-m", model, "ONNX model (detect and pipeline modes)");
  app.add_option("--vr", vr);
  app.add_option("--decode", decode);
  app.add_option("--decode-threads", decode_threads);
  app.add_option("--decoders", decoders, "parallel decode sessions (0: auto)");
  app.add_option("--batch", batch);
  app.add_option("--threads", threads, "engine threads");
  std::string backend = "auto";
  app.add_option("--backend", backend, "engine backend: auto, cpu, cuda, reference");
  app.add_option("--max-frames", max_frames);
  app.add_option("--modes", modes);
  std::string device_frames = "on";
  app.add_option("--device-frames", device_frames,
                 "pipeline mode: NVDEC frames straight to the GPU detector (on) or downloaded and "
                 "sampled on the CPU (off)")
      ->check(CLI::IsMember({"on", "off"}));
  std::string out;
  app.add_option("--out", out, "decode+sample mode: also write a detections file (empty records)");
  CLI11_PARSE(app, argc, argv);
  auto has = [&](const char* m) { return modes.find(m) != std::string::npos; };

  auto dev = parse_decode_device(decode);
  if (!dev.ok()) return std::fprintf(stderr, "%s\n", dev.status().message().c_str()), 2;
  VideoOptions vo = dev.value();
  vo.threads = decode_threads;

  if (has("decode")) {
    // The CUDA context first, outside the clock: the pipeline modes find it made by the detector
    // (and the primary context lives while this reference does). Left in, it made decode only
    // ~0.45 s slower than decode + detect on the H100 (cuInit and context creation).
    video::BufferRefPtr cuda_context;
    double cuda_init_s = 0;
    if (vo.device != DecodeDevice::kCpu) {
      auto t = Clock::now();
      CudaCallScope calls;
      video::quiet_ffmpeg_logs();
      auto made = video::create_cuda_device(vo.cuda_device);
      if (made.ok()) cuda_context = std::move(made).value();
      cuda_init_s = seconds_since(t);
    }
    auto t = Clock::now();  // decoder start-up included, as in the pipeline modes
    OutputClock clock;
    g_cpu_start = process_cpu_seconds();
    auto dec = video::Decoder::open(video, vo);
    if (!dec.ok()) return std::fprintf(stderr, "%s\n", dec.status().message().c_str()), 3;
    VideoInfo info = (*dec)->info();
    // Through the pipeline's source with sampling off: one session, or --decoders N over
    // keyframe-aligned chunks; NVDEC frames stay on the GPU.
    video::FrameSourceOptions so;
    so.decode = vo;
    so.decoders = decoders;
    so.sample = false;
    // The rest as run_video_job sets it (chunk size, priority: FrameSourceOptions' defaults).
    so.queue_capacity = static_cast<size_t>(std::max(8, 2 * batch));
    RemapTable none;
    int64_t n = 0;
    int sessions = 1;
    {
      video::FrameSource source(std::move(dec).value(), none, so, false);
      while ((max_frames < 0 || n < max_frames) && source.pop()) ++n, clock.out(1);
      source.cancel();
      source.join();
      sessions = source.sessions();
      if (!source.decode_status().ok() || !source.sample_status().ok()) {
        std::fprintf(stderr, "%s%s\n", source.decode_status().message().c_str(),
                     source.sample_status().message().c_str());
        return 3;
      }
    }
    nlohmann::ordered_json extra = {
        {"size", std::to_string(info.width) + "x" + std::to_string(info.height)},
        {"codec", info.codec},
        {"decoder", info.decoder},
        {"sessions", sessions}};
    extra.update(clock.json());
    if (vo.device != DecodeDevice::kCpu)
      extra["cuda_init_s"] = std::round(cuda_init_s * 1000) / 1000;
    emit(video, "decode", n, seconds_since(t), extra);
    CudaCallScope calls(cuda_context != nullptr);  // may destroy the primary context
    cuda_context.reset();
  }
  video::VideoJob job;
  job.video = video;
  job.decode = vo;
  job.decoders = decoders;
  job.vr = vr;
  job.batch = batch;
  job.progress = video::ProgressMode::kQuiet;
  job.stop_after_frames = max_frames;
  if (has("sample")) {
    video::VideoJob sample_job = job;
    sample_job.out = out;
    sample_job.overwrite = true;
    g_cpu_start = process_cpu_seconds();
    auto r = video::run_video_job(sample_job, nullptr);
    if (!r.ok()) return std::fprintf(stderr, "%s\n", r.status().message().c_str()), 3;
    emit(video, "decode+sample", r->frames, r->seconds, {{"vr", r->vr}});
  }
  if (model.empty() || (!has("detect") && !has("pipeline"))) return 0;
  DetectorOptions dopt;
  dopt.threads = threads;
  dopt.backend = backend;
  auto det = Detector::load(model, dopt);
  if (!det.ok()) return std::fprintf(stderr, "%s\n", det.status().message().c_str()), 3;
  job.input_width = det->input_width(), job.input_height = det->input_height();
  if (det->static_batch() > 0) job.batch = det->static_batch();
  if (has("detect")) {
    // The model on sampled frames of this video, without decoding in the loop.
    VideoReader reader = VideoReader::open(video, vo).value();
    VrFormat fmt = vr == "auto" ? detect_vr_format(video, reader.info().width, reader.info().height)
                                : parse_vr_format(vr).value();
    RemapTable table;
    if (fmt.is_vr()) {
      table = make_unwarp_table(fmt, {}, reader.info().width, reader.info().height);
    } else {
      LetterboxParams lp = letterbox_params(reader.info().width, reader.info().height,
                                            det->input_width(), det->input_height());
      table = make_resize_table(reader.info().width, reader.info().height, lp.resized_width,
                                lp.resized_height);
    }
    std::vector<VideoFrame> frames(static_cast<size_t>(job.batch));
    for (auto& f : frames) (void)reader.read(f, table);
    std::vector<Frame> views;
    for (auto& f : frames) views.push_back(f.image.frame());
    auto warm = det->detect(views);  // warm-up
    int64_t per_frame =
        warm.ok() && !warm.value().empty() ? static_cast<int64_t>(warm.value()[0].size()) : -1;
    int64_t n = 0;
    auto t = Clock::now();
    g_cpu_start = process_cpu_seconds();
    int64_t target = max_frames > 0 ? max_frames : 32;
    // On a thread of its own, like the pipeline's detect stage.
    Status failed;
    std::thread worker([&] {
      while (n < target) {
        auto r = det->detect(views);
        if (!r.ok()) {
          failed = r.status();
          return;
        }
        n += static_cast<int64_t>(views.size());
      }
    });
    if (std::getenv("FUNGEN_BENCH_DETECT_ON_MAIN")) {  // diagnosis: the same loop, main thread
      worker.join();
      n = 0;
      t = Clock::now();
      g_cpu_start = process_cpu_seconds();
      while (n < target && failed.ok()) {
        auto r = det->detect(views);
        if (!r.ok()) failed = r.status();
        n += static_cast<int64_t>(views.size());
      }
    } else {
      worker.join();
    }
    if (!failed.ok()) return std::fprintf(stderr, "%s\n", failed.message().c_str()), 3;
    emit(video, "detect", n, seconds_since(t),
         {{"batch", job.batch}, {"detections_per_frame", per_frame}});
  }
  if (has("pipeline")) {
    double detect_s = 0;
    int64_t detections = 0;
    OutputClock clock;  // frames out = detect batches done (one thread: the detect stage)
    video::DetectBatchFn fn = [&](std::span<const Frame> frames) {
      auto t = Clock::now();
      auto r = det->detect(frames);
      detect_s += seconds_since(t);
      if (r.ok()) clock.out(static_cast<int64_t>(frames.size()));
      if (r.ok())
        for (const auto& d : r.value()) detections += static_cast<int64_t>(d.size());
      return r;
    };
    std::string why = "--device-frames off";
    if (device_frames == "on" && vo.device != DecodeDevice::kCpu) {
      // Timed like the frames: the device path's detect calls count in detect_busy_s.
      video::DeviceDetectFns fns = video::make_device_detect(*det, {}, job.batch, why);
      if (fns) {
        job.device_detect.declines = fns.declines;
        job.device_detect.detect = [&, inner = fns.detect](std::span<const video::DeviceFrame> f) {
          auto t = Clock::now();
          auto r = inner(f);
          detect_s += seconds_since(t);
          if (r.ok()) clock.out(static_cast<int64_t>(f.size()));
          if (r.ok())
            for (const auto& d : r.value()) detections += static_cast<int64_t>(d.size());
          return r;
        };
        why.clear();
      }
    }
    g_cpu_start = process_cpu_seconds();
    clock.start = Clock::now();
    auto r = video::run_video_job(job, fn);
    if (!r.ok()) return std::fprintf(stderr, "%s\n", r.status().message().c_str()), 3;
    nlohmann::ordered_json extra = {{"vr", r->vr},
                                    {"device_frames", why.empty() ? "on" : "off: " + why},
                                    {"frames_from_device", r->device_frames},
                                    {"batch", job.batch},
                                    {"detect_busy_s", std::round(detect_s * 1000) / 1000},
                                    {"detections", detections}};
    extra.update(clock.json());
    emit(video, "decode+detect", r->frames, r->seconds, extra);
  }
  return 0;
}
