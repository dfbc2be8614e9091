// fungen doctor — what hardware fungen sees, which profile it picks, what the build contains,
// and what is missing with how to get it.
#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "fungen/config.h"

namespace fungen::cli {
namespace {

int run_doctor() {
  HardwareInfo hw = detect_hardware();
  BuildInfo build = build_info();
  std::string reason;
  Config auto_cfg = Config::auto_detect(hw, build, &reason);

  std::printf("fungen %s (%s, %s)\n\n", build.version.c_str(), build.build_type.c_str(),
              build.compiler.c_str());
  std::printf("CPU     %s (%s)\n", hw.cpu_model.empty() ? "unknown" : hw.cpu_model.c_str(),
              hw.arch.c_str());
  std::printf("        %d physical cores, %d usable logical CPUs\n", hw.physical_cores,
              hw.logical_cpus);
  std::string feats;
  for (const std::string& f : hw.cpu_features) feats += (feats.empty() ? "" : " ") + f;
  std::printf("        features: %s\n", feats.empty() ? "(none of interest)" : feats.c_str());
  std::printf("RAM     %.1f GB total, %.1f GB available\n", hw.ram_total_gb, hw.ram_available_gb);
  if (hw.gpus.empty()) {
    std::printf("GPU     none: %s\n", hw.cuda_status.c_str());
  } else {
    std::printf("GPU     CUDA driver %d.%d\n", hw.cuda_driver_version / 1000,
                (hw.cuda_driver_version % 1000) / 10);
    for (const GpuInfo& g : hw.gpus) {
      std::printf("        cuda:%d %s, %.1f GB, compute %d.%d\n", g.index, g.name.c_str(),
                  g.memory_gb, g.compute_major, g.compute_minor);
    }
  }
  std::printf("\nBuild   CPU reference backend: yes\n");
  std::printf("        oneDNN CPU backend (FUNGEN_ONEDNN): %s\n", build.onednn ? "yes" : "no");
  std::printf("        CUDA backend (FUNGEN_CUDA):        %s\n", build.cuda ? "yes" : "no");
  std::printf("        FFmpeg video input (FUNGEN_FFMPEG): %s\n", build.ffmpeg ? "yes" : "no");
  std::printf("\nProfile %s: %s\n", auto_cfg.profile.c_str(), reason.c_str());
  std::printf("        batch %d, threads %d%s, precision %s, device %s\n", auto_cfg.batch_size,
              auto_cfg.threads, auto_cfg.threads == 0 ? " (= physical cores)" : "",
              auto_cfg.precision.c_str(), auto_cfg.device.c_str());

  std::printf("\nMissing\n");
  int missing = 0;
  if (!build.onednn) {
    ++missing;
    std::printf(
        "  - oneDNN: faster CPU convolutions. apt-get install libdnnl-dev, then reconfigure "
        "with -DFUNGEN_ONEDNN=ON\n");
  }
  if (!build.ffmpeg) {
    ++missing;
    std::printf(
        "  - FFmpeg: video input. apt-get install libavformat-dev libavcodec-dev libavutil-dev "
        "libswscale-dev, then reconfigure with -DFUNGEN_FFMPEG=ON\n");
  }
  if (!build.cuda) {
    ++missing;
    if (!hw.gpus.empty()) {
      std::printf(
          "  - CUDA backend: this machine has %zu NVIDIA GPU(s) this build cannot use. Install the "
          "CUDA toolkit and cuDNN, then reconfigure with -DFUNGEN_CUDA=ON\n",
          hw.gpus.size());
    } else {
      std::printf(
          "  - CUDA backend: not built (no GPU here either; only needed on NVIDIA machines: CUDA "
          "toolkit + cuDNN, -DFUNGEN_CUDA=ON)\n");
    }
  } else if (hw.gpus.empty()) {
    ++missing;
    std::printf("  - a CUDA GPU: this build has the CUDA backend but %s\n", hw.cuda_status.c_str());
  }
  if (missing == 0) std::printf("  nothing\n");
  return 0;
}

}  // namespace

Action add_doctor_command(CLI::App& app) {
  app.add_subcommand("doctor",
                     "Report hardware, the profile fungen would pick, what this build contains and "
                     "what is missing");
  return [] { return run_doctor(); };
}

}  // namespace fungen::cli
