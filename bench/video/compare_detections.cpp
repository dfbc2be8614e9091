// fungen_compare_detections — two detections files (.jsonl from `fungen detect VIDEO`) of the
// same video, frame by frame: the same frames and times, and per frame the same detections under
// the rules of compare_rules.h (boxes paired by geometry within --px, scores within --score;
// a box on one side only is a flip when a cut-off of the detector explains it — top max_det,
// conf, an NMS near tie — and fails the frame otherwise). Prints the first differences, the
// flips, the frames that are not bit-identical, and PASS or FAIL (exit 0 or 1). Made for the GPU
// machine: NVDEC + zero-copy GPU detect against CPU decode + GPU detect.
//
//   fungen_compare_detections nvdec.jsonl cpu.jsonl --px 1 --score 0.01
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "compare_rules.h"

namespace {

using fungen::compare::Box;
using fungen::compare::FrameRec;

bool read_file(const std::string& path, std::vector<FrameRec>& frames, bool& complete,
               nlohmann::json& settings) {
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
    if (type == "header" && j.contains("settings") && j["settings"].contains("detect"))
      settings = j["settings"]["detect"];
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

// "3, 7-9, 12" (at most `limit` ranges, then "...").
std::string ranges(const std::vector<int64_t>& v, size_t limit = 12) {
  std::string s;
  size_t shown = 0;
  for (size_t i = 0; i < v.size();) {
    size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
    if (shown++ == limit) return s + ", ...";
    if (!s.empty()) s += ", ";
    s += std::to_string(v[i]) + (j > i ? "-" + std::to_string(v[j]) : "");
    i = j + 1;
  }
  return s.empty() ? "none" : s;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"compare two detections files frame by frame"};
  std::string a_path, b_path;
  fungen::compare::Limits lim;
  int show = 10;
  app.add_option("a", a_path)->required();
  app.add_option("b", b_path)->required();
  app.add_option("--px", lim.px, "largest box edge difference of a pair, pixels")
      ->capture_default_str();
  app.add_option("--score", lim.score, "largest score difference of a pair; the flip window")
      ->capture_default_str();
  auto* max_det = app.add_option("--max-det", lim.max_det, "default: the header's settings");
  auto* conf = app.add_option("--conf", lim.conf, "default: the header's settings");
  auto* iou = app.add_option("--iou", lim.iou, "default: the header's settings");
  app.add_option("--flip-min-px", lim.flip_min_px,
                 "an NMS near tie's two boxes differ by more than this (a smaller move fails)")
      ->capture_default_str();
  app.add_option("--max-flips-per-frame", lim.max_flips_per_frame)->capture_default_str();
  app.add_option("--max-flip-fraction", lim.max_flip_fraction,
                 "flipped boxes allowed per paired box over the run")
      ->capture_default_str();
  app.add_option("--show", show, "differences printed")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::vector<FrameRec> a, b;
  bool a_done = false, b_done = false;
  nlohmann::json sa, sb;
  if (!read_file(a_path, a, a_done, sa) || !read_file(b_path, b, b_done, sb)) return 2;
  auto report = [&](const std::string& what) {
    if (show-- > 0) std::printf("  %s\n", what.c_str());
  };
  if (sa != sb) report("the files were made with different detect settings");
  if (sa.is_object()) {
    if (max_det->count() == 0) lim.max_det = sa.value("max_det", lim.max_det);
    if (conf->count() == 0) lim.conf = sa.value("conf", lim.conf);
    if (iou->count() == 0) lim.iou = sa.value("iou", lim.iou);
    lim.agnostic = sa.value("agnostic", lim.agnostic);
  }
  if (!a_done || !b_done) report("a file has no complete footer");
  if (a.size() != b.size())
    report("frames: " + std::to_string(a.size()) + " vs " + std::to_string(b.size()));
  int64_t bad_frames = 0, paired = 0, flips = 0;
  double worst_px = 0, worst_score = 0;
  std::vector<int64_t> inexact, flipped;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    fungen::compare::FrameResult r = fungen::compare::compare_frame(a[i], b[i], lim);
    paired += r.paired, flips += r.flips;
    worst_px = std::max(worst_px, r.worst_px), worst_score = std::max(worst_score, r.worst_score);
    if (!r.exact) inexact.push_back(a[i].frame);
    if (r.flips > 0) {
      flipped.push_back(a[i].frame);
      report("frame " + std::to_string(a[i].frame) + ": " + std::to_string(r.flips) +
             " boxes flipped at a cut-off (" + std::to_string(a[i].boxes.size()) + " vs " +
             std::to_string(b[i].boxes.size()) + " detections)");
    }
    if (!r.ok) {
      ++bad_frames;
      report("frame " + std::to_string(a[i].frame) + " (t " + std::to_string(a[i].t_ms) +
             " ms): " + std::to_string(a[i].boxes.size()) + " vs " +
             std::to_string(b[i].boxes.size()) + " detections: " + r.why);
    }
  }
  const int64_t allowed = fungen::compare::flips_allowed(paired, lim);
  if (flips > allowed)
    report(std::to_string(flips) + " flipped boxes over the run, more than the " +
           std::to_string(allowed) + " allowed");
  bool pass =
      a_done && b_done && a.size() == b.size() && bad_frames == 0 && !a.empty() && flips <= allowed;
  std::printf("  frames not bit-identical: %s\n", ranges(inexact).c_str());
  std::printf(
      "%s: %zu vs %zu frames, %lld frames differ, %lld boxes matched, %lld flips at cut-offs in "
      "%zu frames, worst box edge %.3f px, worst score %.4f (limits %.2f px, %.3f; max_det %d, "
      "conf %.3f, iou %.3f) -> %s\n",
      a_path.c_str(), a.size(), b.size(), static_cast<long long>(bad_frames),
      static_cast<long long>(paired), static_cast<long long>(flips), flipped.size(), worst_px,
      worst_score, lim.px, lim.score, lim.max_det, lim.conf, lim.iou, pass ? "PASS" : "FAIL");
  return pass ? 0 : 1;
}
