// fungen_compare_detections — two detections files (.jsonl from `fungen detect VIDEO`) of the
// same video, frame by frame: the same frames and times, and per frame the same detections
// (matched greedily, best score first: same class, every box edge within --px pixels, scores
// within --score). Prints the first differences and PASS or FAIL (exit 0 or 1). Made for the
// GPU machine: NVDEC + zero-copy GPU detect against CPU decode + GPU detect.
//
//   fungen_compare_detections nvdec.jsonl cpu.jsonl --px 1 --score 0.01
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace {

struct Box {
  int cls = 0;
  double score = 0, x1 = 0, y1 = 0, x2 = 0, y2 = 0;
};
struct FrameRec {
  int64_t frame = 0;
  double t_ms = 0;
  std::vector<Box> boxes;
};

bool read_file(const std::string& path, std::vector<FrameRec>& frames, bool& complete) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "%s: cannot open\n", path.c_str());
    return false;
  }
  std::string line;
  complete = false;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) {
      std::fprintf(stderr, "%s: a line is not JSON\n", path.c_str());
      return false;
    }
    std::string type = j.value("type", "");
    if (type == "footer") complete = j.value("complete", false);
    if (type != "frame") continue;
    FrameRec f;
    f.frame = j.value("frame", int64_t{-1});
    f.t_ms = j.value("t_ms", 0.0);
    for (const auto& d : j.value("detections", nlohmann::json::array())) {
      Box b;
      b.cls = d.value("class_id", d.value("class", -1));
      b.score = d.value("confidence", d.value("score", 0.0));
      if (d.contains("box") && d["box"].is_array() && d["box"].size() == 4) {
        b.x1 = d["box"][0], b.y1 = d["box"][1], b.x2 = d["box"][2], b.y2 = d["box"][3];
      } else {
        b.x1 = d.value("x1", 0.0), b.y1 = d.value("y1", 0.0);
        b.x2 = d.value("x2", 0.0), b.y2 = d.value("y2", 0.0);
      }
      f.boxes.push_back(b);
    }
    frames.push_back(std::move(f));
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"compare two detections files frame by frame"};
  std::string a_path, b_path;
  double px = 1.0, score = 1e-2;
  int show = 10;
  app.add_option("a", a_path)->required();
  app.add_option("b", b_path)->required();
  app.add_option("--px", px, "largest box edge difference, pixels")->capture_default_str();
  app.add_option("--score", score, "largest score difference")->capture_default_str();
  app.add_option("--show", show, "differences printed")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::vector<FrameRec> a, b;
  bool a_done = false, b_done = false;
  if (!read_file(a_path, a, a_done) || !read_file(b_path, b, b_done)) return 2;
  int64_t bad_frames = 0, boxes = 0;
  double worst_px = 0, worst_score = 0;
  auto report = [&](const std::string& what) {
    if (show-- > 0) std::printf("  %s\n", what.c_str());
  };
  if (!a_done || !b_done) report("a file has no complete footer");
  if (a.size() != b.size())
    report("frames: " + std::to_string(a.size()) + " vs " + std::to_string(b.size()));
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    const FrameRec &fa = a[i], &fb = b[i];
    bool ok = fa.frame == fb.frame && std::fabs(fa.t_ms - fb.t_ms) < 1e-6 &&
              fa.boxes.size() == fb.boxes.size();
    std::vector<bool> used(fb.boxes.size(), false);
    for (const Box& x : fa.boxes) {
      int best = -1;
      double best_d = 1e30;
      for (size_t k = 0; k < fb.boxes.size(); ++k) {
        const Box& y = fb.boxes[k];
        if (used[k] || y.cls != x.cls) continue;
        double d = std::max({std::fabs(x.x1 - y.x1), std::fabs(x.y1 - y.y1), std::fabs(x.x2 - y.x2),
                             std::fabs(x.y2 - y.y2)});
        if (d < best_d) best_d = d, best = static_cast<int>(k);
      }
      if (best < 0) {
        ok = false;
        continue;
      }
      used[static_cast<size_t>(best)] = true;
      double ds = std::fabs(x.score - fb.boxes[static_cast<size_t>(best)].score);
      worst_px = std::max(worst_px, best_d), worst_score = std::max(worst_score, ds);
      if (best_d > px || ds > score) ok = false;
      ++boxes;
    }
    if (!ok) {
      ++bad_frames;
      report("frame " + std::to_string(fa.frame) + " (t " + std::to_string(fa.t_ms) +
             " ms): " + std::to_string(fa.boxes.size()) + " vs " + std::to_string(fb.boxes.size()) +
             " detections (frame " + std::to_string(fb.frame) + ", t " + std::to_string(fb.t_ms) +
             " ms)");
    }
  }
  bool pass = a_done && b_done && a.size() == b.size() && bad_frames == 0 && !a.empty();
  std::printf(
      "%s: %zu vs %zu frames, %lld frames differ, %lld boxes matched, worst box edge %.3f px, "
      "worst score %.4f (limits %.2f px, %.3f) -> %s\n",
      a_path.c_str(), a.size(), b.size(), static_cast<long long>(bad_frames),
      static_cast<long long>(boxes), worst_px, worst_score, px, score, pass ? "PASS" : "FAIL");
  return pass ? 0 : 1;
}
