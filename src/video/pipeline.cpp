#include "video/pipeline.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <thread>

#include "fungen/log.h"
#include "util/cuda_capture_guard.h"
#include "video/bounded_queue.h"
#include "video/decoder.h"
#include "video/frame_source.h"

namespace fungen::video {
namespace {

struct DetectedFrame {
  int64_t index = 0;
  double t_ms = 0;
  std::vector<Detection> detections;
};

// What a frame record describes and how detector boxes map into it.
struct Geometry {
  VrFormat vr;
  RemapTable table;
  int record_width = 0, record_height = 0;
  double scale_x = 1, scale_y = 1;  // sampled-frame pixels → record pixels
};

Result<Geometry> plan_geometry(const VideoJob& job, const VideoInfo& info) {
  Geometry g;
  if (job.vr == "auto") {
    g.vr = detect_vr_format(job.video, info.width, info.height);
  } else {
    FUNGEN_ASSIGN_OR_RETURN(g.vr, parse_vr_format(job.vr));
  }
  if (g.vr.is_vr()) {
    const UnwarpOptions& v = job.view;
    if (v.width < 32 || v.height < 32 || v.width > 8192 || v.height > 8192) {
      return invalid_argument(
          fmt::format("view size {}x{} is outside 32..8192", v.width, v.height));
    }
    if (v.fov_x_deg <= 0 || v.fov_y_deg <= 0 || v.fov_x_deg >= 360 || v.fov_y_deg >= 360 ||
        (v.projection == ViewProjection::kRectilinear &&
         (v.fov_x_deg >= 180 || v.fov_y_deg >= 180))) {
      return invalid_argument("view FOV must be in (0, 360) degrees, (0, 180) for rectilinear");
    }
    g.table = make_unwarp_table(g.vr, v, info.width, info.height);
    g.record_width = v.width, g.record_height = v.height;
  } else {
    LetterboxParams lp =
        letterbox_params(info.width, info.height, job.input_width, job.input_height);
    g.table = make_resize_table(info.width, info.height, lp.resized_width, lp.resized_height);
    g.record_width = info.width, g.record_height = info.height;
    g.scale_x = static_cast<double>(info.width) / lp.resized_width;
    g.scale_y = static_cast<double>(info.height) / lp.resized_height;
  }
  return g;
}

Json make_header(const VideoJob& job, const VideoInfo& info, const Geometry& g) {
  std::error_code ec;
  auto bytes = std::filesystem::file_size(job.video, ec);
  Json settings = {{"detect", job.detect_settings}, {"vr", g.vr.to_string()}};
  if (g.vr.is_vr()) {
    const UnwarpOptions& v = job.view;
    settings["view"] = {
        {"projection",
         v.projection == ViewProjection::kRectilinear ? "rectilinear" : "stereographic"},
        {"fov_x", v.fov_x_deg},
        {"fov_y", v.fov_y_deg},
        {"pitch", v.pitch_deg},
        {"yaw", v.yaw_deg},
        {"width", v.width},
        {"height", v.height},
        {"eye", v.eye == Eye::kRight ? "right" : "left"}};
  }
  settings["input"] = {job.input_width, job.input_height};
  settings["batch"] = job.batch;
  return {{"type", "header"},
          {"format", "fungen-detections"},
          {"format_version", 1},
          {"video", job.video},
          {"video_bytes", ec ? 0 : static_cast<uint64_t>(bytes)},
          {"model", job.model_info},
          {"fungen_version", FUNGEN_VERSION},
          {"settings", settings},
          {"video_info",
           {{"width", info.width},
            {"height", info.height},
            {"fps", info.fps},
            {"frame_count", info.frame_count},
            {"duration_ms", info.duration_ms},
            {"codec", info.codec},
            {"rotation", info.rotation}}},
          {"boxes_in", g.vr.is_vr() ? "view" : "video"}};
}

}  // namespace

Result<VideoJobResult> run_video_job(const VideoJob& job, const DetectBatchFn& detect) {
  auto t0 = std::chrono::steady_clock::now();
  FUNGEN_ASSIGN_OR_RETURN(std::unique_ptr<Decoder> decoder, Decoder::open(job.video, job.decode));
  VideoJobResult result;
  result.info = decoder->info();
  const VideoInfo& info = result.info;
  FUNGEN_ASSIGN_OR_RETURN(Geometry geo, plan_geometry(job, info));
  result.vr = geo.vr.to_string();
  const int batch = std::max(job.batch, 1);
  Json header = make_header(job, info, geo);

  // Reuse a complete output, or resume an interrupted one.
  std::unique_ptr<RecordWriter> writer;
  int64_t first = 0;
  if (!job.out.empty()) {
    RecordFormat format = record_format_for(job.out);
    std::error_code ec;
    if (!job.overwrite && std::filesystem::exists(job.out, ec)) {
      auto scan = scan_records(job.out, format);
      std::string why =
          scan.ok() ? incomplete_reason(scan.value(), header) : scan.status().message();
      if (why.empty()) {
        result.skipped = true;
        result.frames = static_cast<int64_t>(scan->frames.size());
        log(LogLevel::kInfo, "{}: complete, {} frames; kept (--overwrite redoes it)", job.out,
            result.frames);
        return result;
      }
      log(LogLevel::kWarn, "{}: redoing it: {}", job.out, why);
    }
    uint64_t keep = 0;
    std::string part = part_path_for(job.out);
    if (!job.overwrite && std::filesystem::exists(part, ec)) {
      auto scan = scan_records(part, format);
      if (scan.ok() && scan->has_header && scan->header == header) {
        // Resume at a batch boundary so every batch holds the same frames as an uninterrupted run.
        size_t k = scan->frames.size() / batch * batch;
        keep = k > 0 ? scan->frames[k - 1].end_offset : scan->header_end;
        first = static_cast<int64_t>(k);
        if (k > 0) {
          FUNGEN_RETURN_IF_ERROR(decoder->skip_through(scan->frames[k - 1].t_ms + 0.01, first));
        }
        log(LogLevel::kInfo, "{}: resuming after {} frames of an interrupted run", job.out, first);
      } else {
        log(LogLevel::kInfo, "{}: starting over ({})", part,
            scan.ok() ? "made with other settings" : scan.status().message());
      }
    }
    FUNGEN_ASSIGN_OR_RETURN(writer, RecordWriter::open(job.out, format, header, keep));
  }
  result.resumed_from = first;

  std::atomic<bool> stop_local{false};
  auto stopping = [&] { return stop_local.load() || (job.stop && job.stop->load()); };
  FrameSourceOptions source_options;
  source_options.decode = job.decode;
  source_options.decoders = job.decoders;
  source_options.chunk_frames = std::max(job.decode_chunk_frames, 1);
  source_options.queue_capacity = static_cast<size_t>(2 * batch);
  source_options.device_sink = job.device_sink;
  source_options.device_detect = job.device_detect;

  FrameSource source(std::move(decoder), geo.table, source_options, first > 0);
  BoundedQueue<std::vector<DetectedFrame>> detected_q(3);
  auto cancel_all = [&] {
    source.cancel();
    detected_q.cancel();
  };
  Status detect_status;

  // Frames on the host through `detect`, frames left on the device through job.device_detect.
  std::vector<Frame> views;
  std::vector<DeviceFrame> on_device;
  std::vector<size_t> host_at, device_at;
  auto detect_batch = [&](const std::vector<SampledFrame>& frames,
                          std::vector<DetectedFrame>& out) -> Status {
    if (!detect) return Status();
    views.clear(), on_device.clear(), host_at.clear(), device_at.clear();
    for (size_t i = 0; i < frames.size(); ++i) {
      if (frames[i].device) {
        on_device.push_back(frames[i].device_frame);
        device_at.push_back(i);
      } else {
        views.push_back(frames[i].image.frame());
        host_at.push_back(i);
      }
    }
    if (!views.empty()) {
      FUNGEN_ASSIGN_OR_RETURN(auto dets, detect(views));
      for (size_t k = 0; k < host_at.size(); ++k) out[host_at[k]].detections = std::move(dets[k]);
    }
    if (!on_device.empty()) {
      FUNGEN_ASSIGN_OR_RETURN(auto dets, job.device_detect.detect(on_device));
      result.device_frames += static_cast<int64_t>(on_device.size());
      for (size_t k = 0; k < device_at.size(); ++k)
        out[device_at[k]].detections = std::move(dets[k]);
    }
    return Status();
  };

  std::thread detect_thread([&] {
    std::vector<SampledFrame> frames;
    while (!stopping()) {
      frames.clear();
      while (static_cast<int>(frames.size()) < batch) {
        auto s = source.pop();
        if (!s) break;
        frames.push_back(std::move(*s));
      }
      if (frames.empty()) break;
      std::vector<DetectedFrame> out(frames.size());
      Status st = detect_batch(frames, out);
      // Device frames go back to their pool as soon as their batch is done (the last reference
      // to a pool frees it: a CUDA call, see cuda_capture_guard.h).
      {
        CudaCallScope calls(std::any_of(frames.begin(), frames.end(),
                                        [](const SampledFrame& s) { return s.device != nullptr; }));
        for (SampledFrame& s : frames) s.device.reset();
      }
      if (!st.ok()) {
        detect_status = st;
        cancel_all();
        break;
      }
      for (size_t i = 0; i < frames.size(); ++i) {
        out[i].index = frames[i].index, out[i].t_ms = frames[i].t_ms;
        for (Detection& d : out[i].detections) {
          d.x1 = std::clamp(static_cast<float>(d.x1 * geo.scale_x), 0.f,
                            static_cast<float>(geo.record_width));
          d.x2 = std::clamp(static_cast<float>(d.x2 * geo.scale_x), 0.f,
                            static_cast<float>(geo.record_width));
          d.y1 = std::clamp(static_cast<float>(d.y1 * geo.scale_y), 0.f,
                            static_cast<float>(geo.record_height));
          d.y2 = std::clamp(static_cast<float>(d.y2 * geo.scale_y), 0.f,
                            static_cast<float>(geo.record_height));
        }
      }
      if (!detected_q.push(std::move(out))) break;
    }
    detected_q.close();
  });

  // The writer runs here.
  std::string label = std::filesystem::path(job.video).filename().string();
  int64_t total = info.frame_count > 0
                      ? info.frame_count
                      : static_cast<int64_t>(std::llround(info.duration_ms * info.fps / 1000.0));
  Progress progress(job.progress, label, total, first);
  Status write_status;
  int64_t done = first;
  auto last_flush = std::chrono::steady_clock::now();
  while (auto frames = detected_q.pop()) {
    for (const DetectedFrame& f : *frames) {
      if (job.stop_after_frames >= 0 && done >= job.stop_after_frames) {
        stop_local = true;
        break;
      }
      if (writer) {
        write_status = writer->write(
            frame_record(f.index, f.t_ms, geo.record_width, geo.record_height, f.detections));
        if (!write_status.ok()) break;
      }
      ++done;
    }
    if (!write_status.ok() || stop_local) {
      cancel_all();
      break;
    }
    auto now = std::chrono::steady_clock::now();
    if (writer && now - last_flush > std::chrono::seconds(1)) {
      write_status = writer->flush();
      last_flush = now;
      if (!write_status.ok()) {
        cancel_all();
        break;
      }
    }
    progress.update(done);
  }
  if (stopping()) source.cancel();
  detect_thread.join();
  source.cancel();  // the detect stage ended (end, error or stop): release the decoders
  source.join();
  Status decode_status = source.decode_status();
  Status sample_status = source.sample_status();

  result.frames = done;
  result.frames_this_run = done - first;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // A stop that came after the last frame was written interrupts nothing.
  bool all_written = source.reached_end() && done == first + source.frames_pushed();
  result.interrupted = stopping() && !all_written;
  for (const Status* s : {&write_status, &sample_status, &detect_status}) {
    if (!s->ok()) {
      if (writer) (void)writer->flush();
      progress.done(done, "failed");
      std::string kept = writer ? fmt::format(
                                      "; the {} frames written so far are kept in {} and a "
                                      "rerun resumes",
                                      done, writer->part_path())
                                : "";
      return Status(s->code(), s->message() + kept);
    }
  }
  if (result.interrupted) {
    if (writer) FUNGEN_RETURN_IF_ERROR(writer->flush());
    progress.done(done, "interrupted");
    return result;
  }
  if (!decode_status.ok()) {
    // A damaged video: keep every frame before the damage and say so in the footer.
    if (writer) {
      Json footer = {{"type", "footer"},
                     {"frames", done},
                     {"complete", false},
                     {"error", decode_status.message()}};
      FUNGEN_RETURN_IF_ERROR(writer->finish(footer));
    }
    progress.done(done, "damaged");
    std::string kept =
        writer ? fmt::format("; the detections of its first {} frames are in {}", done, job.out)
               : "";
    return Status(decode_status.code(), decode_status.message() + kept);
  }
  if (writer) {
    FUNGEN_RETURN_IF_ERROR(
        writer->finish({{"type", "footer"}, {"frames", done}, {"complete", true}}));
  }
  progress.done(done, "done");
  return result;
}

}  // namespace fungen::video
