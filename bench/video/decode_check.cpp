// fungen_decode_check — checks a decode path against the reference (one CPU session): the same
// frames, times and sampled pixels (VR unwarp or resize to 640), then prints PASS or FAIL. Made
// for the GPU machine: NVDEC with 1..N sessions, frames kept on the GPU and handed to a
// DeviceFrameSink (here one that checks what it is given, then declines, so the frame is
// downloaded and sampled on the CPU like the reference).
//
//   fungen_decode_check clip.mp4 --decode cuda --decoders 1,4,8
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "fungen/video.h"
#include "video/decoder.h"
#include "video/frame_source.h"

using namespace fungen;

namespace {

struct Run {
  std::vector<video::SampledFrame> frames;
  std::string decoder;
  int sessions = 0;
  double seconds = 0;
  Status status;
};

Run decode_with(const std::string& path, VideoOptions vo, int decoders, const RemapTable& table,
                const video::DeviceFrameSink& sink) {
  Run run;
  auto t0 = std::chrono::steady_clock::now();
  auto dec = video::Decoder::open(path, vo);
  if (!dec.ok()) {
    run.status = dec.status();
    return run;
  }
  run.decoder = (*dec)->info().decoder;
  if (!(*dec)->info().fallback_reason.empty()) {
    std::printf("  fallback: %s\n", (*dec)->info().fallback_reason.c_str());
  }
  video::FrameSourceOptions so;
  so.decode = vo;
  so.decoders = decoders;
  so.chunk_frames = 32;
  so.device_sink = sink;
  video::FrameSource source(std::move(dec).value(), table, so, false);
  while (auto f = source.pop()) run.frames.push_back(std::move(*f));
  source.join();
  run.sessions = source.sessions();
  run.status = !source.decode_status().ok() ? source.decode_status() : source.sample_status();
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fungen decode check"};
  std::string video, decode = "cuda", sessions = "1,4";
  app.add_option("video", video)->required();
  app.add_option("--decode", decode, "decoder to check: cuda, cuda:N, cpu");
  app.add_option("--decoders", sessions, "comma list of session counts");
  CLI11_PARSE(app, argc, argv);
  auto dev = parse_decode_device(decode);
  if (!dev.ok()) return std::fprintf(stderr, "%s\n", dev.status().message().c_str()), 2;

  VideoOptions cpu;
  cpu.device = DecodeDevice::kCpu;
  auto probe = video::Decoder::open(video, cpu);
  if (!probe.ok()) return std::fprintf(stderr, "%s\n", probe.status().message().c_str()), 3;
  const VideoInfo info = (*probe)->info();
  probe->reset();
  VrFormat vr = detect_vr_format(video, info.width, info.height);
  RemapTable table = vr.is_vr() ? make_unwarp_table(vr, {}, info.width, info.height)
                                : make_resize_table(info.width, info.height, 640,
                                                    std::max(1, 640 * info.height / info.width));
  Run ref = decode_with(video, cpu, 1, table, nullptr);
  if (!ref.status.ok()) return std::fprintf(stderr, "%s\n", ref.status.message().c_str()), 3;
  std::printf("%s: %dx%d %s, %zu frames; reference: cpu, 1 session, %.1f fps\n", video.c_str(),
              info.width, info.height, info.codec.c_str(), ref.frames.size(),
              ref.frames.size() / ref.seconds);

  // A sink that checks the device frame's description, then declines it.
  std::atomic<int64_t> sink_calls{0}, sink_bad{0};
  video::DeviceFrameSink sink = [&](const video::DeviceFrame& f, Image&) -> Result<bool> {
    ++sink_calls;
    bool ok = f.planes[0] && f.planes[1] && f.pitch[0] >= f.width * (f.ten_bit ? 2 : 1) &&
              f.pitch[1] >= f.width * (f.ten_bit ? 2 : 1) && f.width == info.coded_width &&
              f.height == info.coded_height && f.ten_bit == (info.bit_depth > 8) && f.table;
    if (!ok) ++sink_bad;
    return false;
  };
  bool all_pass = true;
  size_t start = 0;
  while (start <= sessions.size()) {
    size_t comma = sessions.find(',', start);
    if (comma == std::string::npos) comma = sessions.size();
    int n = std::atoi(sessions.substr(start, comma - start).c_str());
    start = comma + 1;
    if (n <= 0) continue;
    sink_calls = 0, sink_bad = 0;
    Run got = decode_with(video, dev.value(), n, table, sink);
    std::string why;
    int max_diff = 0;
    if (!got.status.ok()) {
      why = got.status.message();
    } else if (got.frames.size() != ref.frames.size()) {
      why = "frame count " + std::to_string(got.frames.size());
    } else {
      for (size_t i = 0; i < ref.frames.size() && why.empty(); ++i) {
        const Frame a = ref.frames[i].image.frame(), b = got.frames[i].image.frame();
        if (got.frames[i].t_ms != ref.frames[i].t_ms || got.frames[i].index != (int64_t)i) {
          why = "frame " + std::to_string(i) + ": time or index differs";
        }
        for (int y = 0; y < a.height; ++y)
          for (int x = 0; x < a.width * 3; ++x)
            max_diff = std::max(max_diff, std::abs(a.row(y)[x] - b.row(y)[x]));
      }
      if (why.empty() && max_diff > 1) why = "pixels differ by up to " + std::to_string(max_diff);
    }
    if (got.decoder == "cuda" && sink_calls != static_cast<int64_t>(got.frames.size())) {
      why += " device sink called " + std::to_string(sink_calls.load()) + " times";
    }
    if (sink_bad > 0) why += " device frames described wrongly: " + std::to_string(sink_bad.load());
    bool pass = why.empty();
    all_pass = all_pass && pass;
    std::printf("%s %s, %d sessions (asked %d): %zu frames, %.1f fps, max pixel diff %d%s%s\n",
                pass ? "PASS" : "FAIL", got.decoder.c_str(), got.sessions, n, got.frames.size(),
                got.seconds > 0 ? got.frames.size() / got.seconds : 0.0, max_diff, pass ? "" : ": ",
                why.c_str());
  }
  return all_pass ? 0 : 1;
}
