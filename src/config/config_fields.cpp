// config_fields.cpp — see config_fields.h.
#include "config/config_fields.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace fungen::config_detail {

const std::vector<Field>& fields() {
  static const std::vector<Field> table = {
      {"profile", "", &Config::profile, 0, 0, {"cpu-small", "cpu", "cuda-fp16", "debug"}},
      {"device", "FUNGEN_DEVICE", &Config::device, 0, 0, {}},
      {"model_dir", "FUNGEN_MODEL_DIR", &Config::model_dir, 0, 0, {}},
      {"model_name", "", &Config::model_name, 0, 0, {}},
      {"names_file", "", &Config::names_file, 0, 0, {}},
      {"conf_threshold", "FUNGEN_CONF_THRESHOLD", &Config::conf_threshold, 0, 1, {}},
      {"iou_threshold", "FUNGEN_IOU_THRESHOLD", &Config::iou_threshold, 0, 1, {}},
      {"max_det", "", &Config::max_det, 1, 100000, {}},
      {"batch_size", "FUNGEN_BATCH_SIZE", &Config::batch_size, 1, 1024, {}},
      {"threads", "FUNGEN_THREADS", &Config::threads, 0, 1024, {}},
      {"precision", "", &Config::precision, 0, 0, {"fp32", "fp16"}},
      {"optimize", "", &Config::optimize, 0, 0, {}},
      {"warmup", "", &Config::warmup, 0, 0, {}},
      {"verbose", "", &Config::verbose, 0, 0, {}},
      {"log_level", "", &Config::log_level, 0, 0, {"error", "warn", "info", "debug"}},
      {"optical_flow", "", &Config::optical_flow, 0, 0, {}},
      {"reid", "", &Config::reid, 0, 0, {}},
      {"default_tracker", "", &Config::default_tracker, 0, 0, {}},
      {"num_workers", "", &Config::num_workers, 1, 256, {}},
      {"vram_limit_gb", "", &Config::vram_limit_gb, 0, 1024, {}},
  };
  return table;
}

const Field* find_field(const std::string& name) {
  for (const Field& f : fields()) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

namespace {

std::string number_text(double v) {
  std::ostringstream ss;
  ss << v;
  return ss.str();
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

bool valid_device(const std::string& d) {
  if (d == "auto" || d == "cpu" || d == "cuda") return true;
  if (d.rfind("cuda:", 0) != 0 || d.size() == 5 || d.size() > 8) return false;
  for (size_t i = 5; i < d.size(); ++i) {
    if (d[i] < '0' || d[i] > '9') return false;
  }
  return true;
}

}  // namespace

std::string field_value_text(const Config& c, const Field& f) {
  return std::visit(
      [&](auto m) -> std::string {
        using T = std::decay_t<decltype(c.*m)>;
        if constexpr (std::is_same_v<T, std::string>)
          return c.*m;
        else if constexpr (std::is_same_v<T, bool>)
          return (c.*m) ? "true" : "false";
        else
          return number_text(static_cast<double>(c.*m));
      },
      f.member);
}

std::string check_field(const Config& c, const Field& f) {
  return std::visit(
      [&](auto m) -> std::string {
        using T = std::decay_t<decltype(c.*m)>;
        if constexpr (std::is_same_v<T, std::string>) {
          const std::string& v = c.*m;
          if (std::string(f.name) == "device") {
            return valid_device(v) ? "" : "'" + v + "' is not one of auto, cpu, cuda, cuda:N";
          }
          if (f.choices.empty()) return "";
          for (const std::string& ch : f.choices) {
            if (v == ch) return "";
          }
          return "'" + v + "' is not one of " + join(f.choices);
        } else if constexpr (std::is_same_v<T, bool>) {
          return "";
        } else {
          double v = static_cast<double>(c.*m);
          if (std::isfinite(v) && v >= f.min && v <= f.max) return "";
          return number_text(v) + " is outside the allowed range [" + number_text(f.min) + ", " +
                 number_text(f.max) + "]";
        }
      },
      f.member);
}

Status set_from_text(Config& c, const Field& f, const std::string& text) {
  auto bad = [&](const std::string& want) {
    return invalid_argument("config field '" + std::string(f.name) + "': '" + text + "' is not " +
                            want);
  };
  return std::visit(
      [&](auto m) -> Status {
        using T = std::decay_t<decltype(c.*m)>;
        if constexpr (std::is_same_v<T, std::string>) {
          c.*m = text;
        } else if constexpr (std::is_same_v<T, bool>) {
          if (text == "true" || text == "1" || text == "yes" || text == "on")
            c.*m = true;
          else if (text == "false" || text == "0" || text == "no" || text == "off")
            c.*m = false;
          else
            return bad("a boolean (true/false, 1/0, yes/no, on/off)");
        } else if constexpr (std::is_same_v<T, int>) {
          errno = 0;
          char* end = nullptr;
          long v = std::strtol(text.c_str(), &end, 10);
          if (text.empty() || *end != '\0' || errno != 0 || v < -1000000000L || v > 1000000000L) {
            return bad("an integer");
          }
          c.*m = static_cast<int>(v);
        } else {
          errno = 0;
          char* end = nullptr;
          double v = std::strtod(text.c_str(), &end);
          if (text.empty() || *end != '\0' || errno != 0) return bad("a number");
          c.*m = static_cast<T>(v);
        }
        return Status();
      },
      f.member);
}

}  // namespace fungen::config_detail
