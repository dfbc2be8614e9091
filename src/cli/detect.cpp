// fungen detect — YOLO detection on PNG/JPEG images; JSON lines out.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/config_options.h"
#include "cli/detect_video.h"  // video branch (owned by the video work)
#include "fungen/config.h"
#include "fungen/detector.h"
#include "fungen/image.h"
#include "io/npy.h"

namespace fungen::cli {
namespace {

struct DetectCliOptions {
  ConfigFlags config;
  std::string model;
  std::string name;
  std::string names_file;
  std::vector<std::string> inputs;
  std::string classes;
  bool agnostic = false;
  bool json = false;
  std::string out;
  std::string save_input;
  std::string make_test_image;
  std::string size = "640x640";
  uint32_t seed = 1;
  VideoFlags video;  // videos: see cli/detect_video.h
};

Result<std::vector<int>> parse_class_list(const std::string& text) {
  std::vector<int> ids;
  if (text.empty()) return ids;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    int v = -1;
    try {
      v = std::stoi(item, &used);
    } catch (...) {
      used = 0;
    }
    if (used != item.size() || v < 0) {
      return invalid_argument("--classes: '" + item + "' is not a class id (want e.g. 0,2,5)");
    }
    ids.push_back(v);
  }
  return ids;
}

// Expands directories (their .png/.jpg/.jpeg files, sorted by name, not recursive).
std::vector<std::string> expand_inputs(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const std::string& in : inputs) {
    std::error_code ec;
    if (std::filesystem::is_directory(in, ec)) {
      std::vector<std::string> found;
      for (const auto& entry : std::filesystem::directory_iterator(in, ec)) {
        if (entry.is_regular_file() && is_image_file_name(entry.path().string())) {
          found.push_back(entry.path().string());
        }
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(in);
    }
  }
  return files;
}

nlohmann::ordered_json to_json(const std::string& path, const Frame& frame,
                               const std::vector<Detection>& dets) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const Detection& d : dets) {
    list.push_back({{"class_id", d.class_id},
                    {"class_name", d.class_name},
                    {"confidence", d.confidence},
                    {"x1", d.x1},
                    {"y1", d.y1},
                    {"x2", d.x2},
                    {"y2", d.y2}});
  }
  return {{"image", path}, {"width", frame.width}, {"height", frame.height}, {"detections", list}};
}

// Writes each image's letterboxed model input as DIR/<image stem>.npy (3×H×W float32).
Status save_inputs(Detector& detector, const std::vector<Frame>& frames,
                   const std::vector<std::string>& names, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return io_error(dir + ": cannot create directory (" + ec.message() + ")");
  for (size_t k = 0; k < frames.size(); ++k) {
    FUNGEN_ASSIGN_OR_RETURN(Tensor t, detector.preprocess({&frames[k], 1}));
    Tensor one = t.reshaped({t.dim(1), t.dim(2), t.dim(3)});
    std::string path = dir + "/" + std::filesystem::path(names[k]).stem().string() + ".npy";
    FUNGEN_RETURN_IF_ERROR(write_npy(path, one));
  }
  return Status();
}

int make_image(const DetectCliOptions& opt) {
  int w = 0, h = 0;
  char x = 0;
  std::istringstream ss(opt.size);
  if (!(ss >> w >> x >> h) || x != 'x' || w < 1 || h < 1 || w > 16384 || h > 16384) {
    return report(invalid_argument("--size: '" + opt.size + "' is not WIDTHxHEIGHT (1..16384)"));
  }
  Image img = make_test_image(w, h, opt.seed);
  Status s = write_png(opt.make_test_image, img.frame());
  if (!s.ok()) return report(s);
  std::fprintf(stderr, "wrote %s (%dx%d, seed %u)\n", opt.make_test_image.c_str(), w, h, opt.seed);
  return 0;
}

}  // namespace

Result<std::string> resolve_model_path(const std::string& model, const std::string& model_dir,
                                       const std::string& name);
std::string default_model_dir();

int run_detect(const DetectCliOptions& opt) {
  if (!opt.make_test_image.empty()) return make_image(opt);
  if (opt.inputs.empty()) return report(invalid_argument("give at least one IMAGE or DIR"));
  auto classes = parse_class_list(opt.classes);
  if (!classes.ok()) return report(classes.status());
  auto resolved = resolve_config_flags(opt.config);
  if (!resolved.ok()) return report(resolved.status());
  const Config& cfg = resolved->config;
  std::string model_dir = cfg.model_dir.empty() ? default_model_dir() : cfg.model_dir;
  auto model_path =
      resolve_model_path(opt.model, model_dir, opt.name.empty() ? cfg.model_name : opt.name);
  if (!model_path.ok()) return report(model_path.status());

  DetectorOptions dopt;
  dopt.threads = cfg.threads;
  dopt.names_file = opt.names_file.empty() ? cfg.names_file : opt.names_file;
  auto detector = Detector::load(model_path.value(), dopt);
  if (!detector.ok()) return report(detector.status());

  DetectOptions o;
  o.conf = cfg.conf_threshold;
  o.iou = cfg.iou_threshold;
  o.max_det = cfg.max_det;
  o.classes = classes.value();
  o.agnostic = opt.agnostic;
  if (has_video_inputs(opt.inputs, opt.video)) {  // videos: src/cli/detect_video.cpp
    int batch = detector->static_batch() > 0 ? detector->static_batch() : cfg.batch_size;
    auto src = resolved->sources.find("batch_size");
    bool batch_given = src != resolved->sources.end() && src->second != ConfigSource::kProfile;
    return run_video_detect(opt.inputs, opt.out, opt.video, *detector, o, model_path.value(), batch,
                            batch_given);
  }

  std::vector<std::string> files = expand_inputs(opt.inputs);
  if (files.empty())
    return report(invalid_argument("no .png/.jpg/.jpeg images in the given inputs"));
  std::string lines;
  int exit_code = 0;
  size_t batch = static_cast<size_t>(
      std::max(detector->static_batch() > 0 ? detector->static_batch() : cfg.batch_size, 1));
  for (size_t begin = 0; begin < files.size(); begin += batch) {
    std::vector<Image> images;
    std::vector<std::string> names;
    for (size_t i = begin; i < std::min(files.size(), begin + batch); ++i) {
      auto img = read_image(files[i]);
      if (!img.ok()) {
        int code = report(img.status());
        if (exit_code == 0) exit_code = code;
        continue;
      }
      images.push_back(std::move(img).value());
      names.push_back(files[i]);
    }
    if (images.empty()) continue;
    std::vector<Frame> frames;
    for (const Image& im : images) frames.push_back(im.frame());
    if (!opt.save_input.empty()) {
      Status s = save_inputs(*detector, frames, names, opt.save_input);
      if (!s.ok()) return report(s);
    }
    auto result = detector->detect(frames, o);
    if (!result.ok()) return report(result.status());
    for (size_t k = 0; k < frames.size(); ++k) {
      const auto& dets = result.value()[k];
      if (opt.json || !opt.out.empty()) {
        std::string line = to_json(names[k], frames[k], dets).dump() + "\n";
        if (opt.json) std::fputs(line.c_str(), stdout);
        lines += line;
      } else {
        std::printf("%s: %dx%d, %zu detections\n", names[k].c_str(), frames[k].width,
                    frames[k].height, dets.size());
        for (const Detection& d : dets) {
          std::printf("  %-12s %.3f  [%.1f, %.1f, %.1f, %.1f]\n", d.class_name.c_str(),
                      d.confidence, d.x1, d.y1, d.x2, d.y2);
        }
      }
    }
    std::fflush(stdout);
  }
  if (!opt.out.empty()) {
    Status s = write_file_atomically(opt.out, lines);
    if (!s.ok()) return report(s);
  }
  return exit_code;
}

Action add_detect_command(CLI::App& app) {
  auto opt = std::make_shared<DetectCliOptions>();
  CLI::App* cmd =
      app.add_subcommand("detect", "Detect objects in PNG/JPEG images with a YOLO ONNX model");
  cmd->footer(
      "Output: a human-readable summary, or with --json one JSON object per image per line:\n"
      "  {\"image\", \"width\", \"height\", \"detections\": [{\"class_id\", \"class_name\", "
      "\"confidence\",\n"
      "   \"x1\", \"y1\", \"x2\", \"y2\"}, ...]}  (boxes in the image's pixels, best first).\n"
      "An image that cannot be read prints one error line; the others are still processed and\n"
      "the exit code is then 3. Exit codes: 0 ok, 2 bad command line, 3 bad input, 4 I/O error,\n"
      "5 out of memory.");
  cmd->add_option("inputs", opt->inputs, "Images (.png/.jpg/.jpeg) or directories of them");
  auto* model =
      cmd->add_option("--model,-m", opt->model,
                      "Model file (.onnx, a fungen .engine plan, or .pt to convert once)");
  auto* name =
      cmd->add_option("--name", opt->name,
                      "Model name in the model directory: NAME.engine > NAME.onnx > NAME.pt "
                      "(default: the config's model_name)");
  model->excludes(name);
  add_config_flags(cmd, opt->config, true);
  cmd->add_option("--names", opt->names_file, "Class names file, used when the model has none");
  cmd->add_option("--classes", opt->classes, "Keep only these class ids, e.g. 0,2");
  cmd->add_flag("--agnostic", opt->agnostic, "Class-agnostic NMS");
  cmd->add_flag("--json", opt->json, "Print one JSON object per image per line");
  cmd->add_option("--out,-o", opt->out, "Write the JSON lines to this file (atomically)");
  cmd->add_option("--save-input", opt->save_input,
                  "Also write each image's letterboxed model input as DIR/<stem>.npy (debugging)");
  cmd->add_option("--make-test-image", opt->make_test_image,
                  "Write a deterministic synthetic test picture (PNG) here and exit");
  cmd->add_option("--size", opt->size, "Size of --make-test-image, WIDTHxHEIGHT")
      ->capture_default_str();
  cmd->add_option("--seed", opt->seed, "Seed of --make-test-image")->capture_default_str();
  add_video_flags(cmd, opt->video);
  return [opt] { return run_detect(*opt); };
}

}  // namespace fungen::cli

#include "detect/model_discovery.h"

namespace fungen::cli {

std::string default_model_dir() {
  const char* cache = std::getenv("FUNGEN_CACHE");
  if (cache && *cache) return std::string(cache) + "/models";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.cache/fungen/models";
}

Result<std::string> resolve_model_path(const std::string& model, const std::string& model_dir,
                                       const std::string& name) {
  if (!model.empty()) {
    auto found = detect::find_model("", model);
    if (!found.ok()) return found.status();
    return found->path;
  }
  if (name.empty())
    return invalid_argument("give --model FILE, or --name NAME (with --model-dir DIR)");
  auto found = detect::find_model(model_dir, name);
  if (!found.ok()) return found.status();
  return found->path;
}

}  // namespace fungen::cli
