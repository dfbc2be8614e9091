// Activation ranges for int8 (fungen/calibration.h): a JSON file next to the model, recorded by
// running the model in fp32 on letterboxed sample images.
#include "fungen/calibration.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "fungen/detector.h"
#include "fungen/engine.h"
#include "fungen/image.h"
#include "io/npy.h"

namespace fungen {

std::string default_calibration_path(const std::string& model_path) {
  return model_path + ".int8.json";
}

Result<CalibrationTable> read_calibration(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return not_found(path +
                     ": no calibration file; make one with --calibrate DIR (a folder of sample "
                     "images)");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  CalibrationTable t;
  try {
    nlohmann::json j = nlohmann::json::parse(ss.str());
    if (j.value("format", "") != "fungen-int8-calibration")
      return corrupt(path + ": not a fungen calibration file (make it again with --calibrate DIR)");
    t.images = j.value("images", 0);
    t.model = j.value("model", "");
    for (auto& [name, v] : j.at("absmax").items()) t.absmax[name] = v.get<float>();
    if (j.contains("p99.99"))
      for (auto& [name, v] : j.at("p99.99").items()) t.p9999[name] = v.get<float>();
    if (j.contains("min") && j.contains("max")) {
      for (auto& [name, v] : j.at("min").items()) t.min[name] = v.get<float>();
      for (auto& [name, v] : j.at("max").items()) t.max[name] = v.get<float>();
    }
  } catch (const nlohmann::json::exception& e) {
    return corrupt(path + ": bad calibration file (" + e.what() +
                   "); make it again with --calibrate DIR");
  }
  if (t.absmax.empty()) return corrupt(path + ": the calibration file has no ranges");
  return t;
}

Status write_calibration(const std::string& path, const CalibrationTable& table) {
  nlohmann::ordered_json j;
  j["format"] = "fungen-int8-calibration";
  j["method"] =
      "per convolution input: largest |x|, 99.99th percentile of |x| (largest over the images), "
      "smallest and largest x, "
      "fp32 cpu run on letterboxed images";
  j["model"] = table.model;
  j["images"] = table.images;
  nlohmann::ordered_json ranges = nlohmann::ordered_json::object();
  for (const auto& [name, v] : table.absmax) ranges[name] = v;
  j["absmax"] = ranges;
  nlohmann::ordered_json p = nlohmann::ordered_json::object();
  for (const auto& [name, v] : table.p9999) p[name] = v;
  j["p99.99"] = p;
  for (const auto& [key, map] : {std::pair{"min", &table.min}, std::pair{"max", &table.max}}) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (const auto& [name, v] : *map) m[name] = v;
    j[key] = m;
  }
  return write_file_atomically(path, j.dump(1) + "\n");
}

Result<std::vector<std::string>> list_images(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    return not_found(dir + ": not a directory (--calibrate wants a folder of sample images)");
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.is_regular_file() && is_image_file_name(e.path().string()))
      out.push_back(e.path().string());
  }
  if (ec) return io_error(dir + ": cannot list (" + ec.message() + ")");
  if (out.empty())
    return not_found(dir + ": no .png/.jpg/.jpeg images there; give a folder that holds some");
  std::sort(out.begin(), out.end());
  return out;
}

Result<CalibrationTable> calibrate(const std::string& model_path,
                                   const std::vector<std::string>& image_paths,
                                   const CalibrateOptions& options) {
  auto ranges = std::make_shared<CalibrationTable>();
  EngineOptions eo;
  eo.threads = options.threads;
  eo.backend = "cpu";
  eo.record_ranges = ranges;
  FUNGEN_ASSIGN_OR_RETURN(Engine engine, Engine::load(model_path, eo));
  FUNGEN_ASSIGN_OR_RETURN(Detector det, Detector::from_engine(std::move(engine)));
  std::vector<Tensor> outputs;
  for (const std::string& path : image_paths) {
    FUNGEN_ASSIGN_OR_RETURN(Image img, read_image(path));
    Frame f = img.frame();
    FUNGEN_ASSIGN_OR_RETURN(Tensor x, det.preprocess({&f, 1}));
    Status s = det.engine().run({&x, 1}, outputs);
    if (!s.ok()) return s.with_context(path);
    ++ranges->images;
  }
  if (ranges->absmax.empty())
    return unsupported(model_path +
                       ": no convolution ran on the cpu backend; nothing to calibrate");
  ranges->model = std::filesystem::path(model_path).filename().string();
  return *ranges;
}

}  // namespace fungen
