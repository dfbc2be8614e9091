// device_detect.cpp — see device_detect.h.
#include "video/device_detect.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#ifdef FUNGEN_HAVE_CUDA
#include "detect/device_detect.h"
#endif

namespace fungen::video {

std::string device_frame_declines(const DeviceFrame& f) {
  if (f.ten_bit) return "10/16-bit frames (P010/P016): the GPU preprocessing reads 8-bit NV12";
  if (f.rotation != 0)
    return fmt::format(
        "the video is rotated {} degrees: the GPU preprocessing reads unrotated "
        "frames",
        f.rotation);
  if (!f.table || f.table->src_width != f.width || f.table->src_height != f.height)
    return fmt::format("the frame is {}x{} and the sampling table was made for another size",
                       f.width, f.height);
  if (f.width < 2 || f.height < 2 || (f.width & 1) || (f.height & 1))
    return fmt::format("odd frame size {}x{} (NV12 chroma)", f.width, f.height);
  return "";
}

#ifdef FUNGEN_HAVE_CUDA
namespace {

gpu::YuvMatrix to_gpu(YuvMatrix m) {
  switch (m) {
    case YuvMatrix::kBt709:
      return gpu::YuvMatrix::kBt709;
    case YuvMatrix::kBt2020:
      return gpu::YuvMatrix::kBt2020;
    default:
      return gpu::YuvMatrix::kBt601;
  }
}

struct State {
  Detector* detector = nullptr;
  DetectOptions options;
  const RemapTable* uploaded_for = nullptr;  // this job's table once uploaded
  gpu::DeviceRemap remap;
  std::vector<gpu::DeviceFrame> frames;
  int batch = 1;
};

}  // namespace

DeviceDetectFns make_device_detect(Detector& detector, const DetectOptions& options, int batch,
                                   std::string& why) {
  auto ok = detect::DeviceDetect::available(detector, batch, why);
  if (!ok.ok()) {
    why = ok.status().message();
    return {};
  }
  if (!ok.value()) return {};
  // Kernels loaded and the CUDA graph captured now, before a decoder runs (graph captures and
  // NVDEC's CUDA calls exclude each other anyway: util/cuda_capture_guard.h).
  // FUNGEN_DEVICE_WARMUP=0 skips it (the first batches then run eagerly and the capture happens
  // while NVDEC decodes: a check of the guard).
  const char* env = std::getenv("FUNGEN_DEVICE_WARMUP");
  Status warm;
  if (!(env && std::strcmp(env, "0") == 0))
    warm = detect::DeviceDetect::warm_up(detector, options, std::max(batch, 1));
  if (!warm.ok()) {
    why = "the GPU pipeline failed on a test frame: " + warm.message();
    return {};
  }
  auto st = std::make_shared<State>();
  st->detector = &detector;
  st->options = options;
  st->batch = std::max(batch, 1);
  DeviceDetectFns fns;
  fns.declines = [](const DeviceFrame& f) { return device_frame_declines(f); };
  fns.detect =
      [st](std::span<const DeviceFrame> frames) -> Result<std::vector<std::vector<Detection>>> {
    if (frames.empty()) return std::vector<std::vector<Detection>>{};
    const RemapTable* table = frames[0].table;
    for (const DeviceFrame& f : frames) {
      if (f.table != table || !table)
        return internal_error("device detect: frames of one batch with different tables");
    }
    if (st->uploaded_for != table) {  // once per job (the table lives as long as the job)
      FUNGEN_ASSIGN_OR_RETURN(st->remap, detect::DeviceDetect::upload_remap(*st->detector, *table));
      st->uploaded_for = table;
    }
    st->frames.clear();
    for (const DeviceFrame& f : frames) {
      gpu::DeviceFrame g;
      g.format = gpu::PixelFormat::kNv12;
      g.width = f.width, g.height = f.height;
      g.data[0] = f.planes[0], g.data[1] = f.planes[1];
      g.pitch[0] = f.pitch[0], g.pitch[1] = f.pitch[1];
      g.matrix = to_gpu(f.matrix);
      g.full_range = f.full_range;
      st->frames.push_back(g);
    }
    // Padded to the full batch: a short last batch reuses the full batches' plan and graph.
    return detect::DeviceDetect::detect(*st->detector, st->frames, &st->remap, st->options,
                                        st->batch);
  };
  return fns;
}
#else
DeviceDetectFns make_device_detect(Detector&, const DetectOptions&, int, std::string& why) {
  why = "this fungen was built without CUDA";
  return {};
}
#endif

}  // namespace fungen::video
