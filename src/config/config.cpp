// config.cpp — profiles, auto-detection, JSON load/save, validation, precedence.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "config/config_fields.h"
#include "fungen/config.h"
#include "io/npy.h"

namespace fungen {
namespace cd = config_detail;

namespace {

struct ProfileSpec {
  const char* name;
  void (*apply)(Config&);
};

int cpu_small_threads() {
  int n = static_cast<int>(std::thread::hardware_concurrency());
  return std::clamp(n, 1, 4);
}

// One table of profiles; each starts from Config's defaults.
const ProfileSpec kProfiles[] = {
    {"cpu-small",  // Raspberry-Pi class: one frame at a time, at most 4 threads, no extras
     [](Config& c) {
       c.device = "cpu";
       c.batch_size = 1;
       c.threads = cpu_small_threads();
       c.num_workers = 1;
       c.optical_flow = false;
       c.reid = false;
     }},
    {"cpu",  // a desktop/server CPU: small batches, every physical core
     [](Config& c) {
       c.device = "cpu";
       c.batch_size = 4;
       c.threads = 0;
       c.num_workers = 2;
     }},
    {"cuda-fp16",  // RTX-3090 class GPU: FP16 engine, batch 8, flow and re-identification on
     [](Config& c) {
       c.device = "cuda";
       c.precision = "fp16";
       c.batch_size = 8;
       c.num_workers = 4;
       c.optical_flow = true;
       c.reid = true;
     }},
    {"debug",  // verbose logs, no optimizations, no warm-up, one frame at a time
     [](Config& c) {
       c.device = "auto";
       c.batch_size = 1;
       c.threads = 1;
       c.optimize = false;
       c.warmup = false;
       c.verbose = true;
       c.log_level = "debug";
     }},
};

std::string fmt_float(float v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.7g", static_cast<double>(v));
  return buf;
}

std::string join_profiles() {
  std::string s;
  for (const ProfileSpec& p : kProfiles) s += (s.empty() ? "" : ", ") + std::string(p.name);
  return s;
}

}  // namespace

std::vector<std::string> Config::profile_names() {
  std::vector<std::string> v;
  for (const ProfileSpec& p : kProfiles) v.push_back(p.name);
  return v;
}

Result<Config> Config::from_profile(const std::string& name) {
  for (const ProfileSpec& p : kProfiles) {
    if (name == p.name) {
      Config c;
      c.profile = p.name;
      p.apply(c);
      return c;
    }
  }
  return invalid_argument("unknown profile '" + name + "'; profiles: " + join_profiles());
}

Config Config::auto_detect(const HardwareInfo& hw, const BuildInfo& build, std::string* reason) {
  std::string why;
  std::string name;
  if (!hw.gpus.empty() && build.cuda) {
    name = "cuda-fp16";
    why = "CUDA GPU " + hw.gpus[0].name + " found and this build has the CUDA backend";
  } else if (hw.physical_cores <= 4 || hw.ram_total_gb < 4.0) {
    name = "cpu-small";
    std::ostringstream ss;
    ss << hw.physical_cores << " physical cores, " << static_cast<int>(hw.ram_total_gb + 0.5)
       << " GB RAM";
    why = ss.str();
  } else {
    name = "cpu";
    why = std::to_string(hw.physical_cores) + " physical cores";
  }
  if (!hw.gpus.empty() && !build.cuda) {
    why += "; GPU " + hw.gpus[0].name +
           " found, but this build has no CUDA backend (rebuild with "
           "-DFUNGEN_CUDA=ON to use it with the cuda-fp16 profile)";
  } else if (hw.gpus.empty() && name != "cuda-fp16") {
    why += "; no CUDA GPU (" + hw.cuda_status + ")";
  }
  Config c = from_profile(name).value();
  if (name == "cpu-small") c.threads = std::clamp(hw.physical_cores, 1, 4);
  if (reason) *reason = why;
  return c;
}

Config Config::auto_detect() {
  return auto_detect(detect_hardware(), build_info());
}

namespace {

// Applies one JSON object's fields onto `c`; `skip_profile` ignores the "profile" key.
Status apply_json(Config& c, const nlohmann::json& j, const std::string& source, bool skip_profile,
                  std::map<std::string, ConfigSource>* sources) {
  if (!j.is_object()) return invalid_argument(source + ": a config file is a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    const cd::Field* f = cd::find_field(key);
    if (f == nullptr) {
      std::string known;
      for (const cd::Field& x : cd::fields())
        known += (known.empty() ? "" : ", ") + std::string(x.name);
      return invalid_argument(source + ": unknown field '" + key + "'; fields: " + known);
    }
    if (skip_profile && key == "profile") continue;
    const nlohmann::json& v = it.value();
    Status s = std::visit(
        [&](auto m) -> Status {
          using T = std::decay_t<decltype(c.*m)>;
          if constexpr (std::is_same_v<T, std::string>) {
            if (!v.is_string()) return invalid_argument("a string");
            c.*m = v.get<std::string>();
          } else if constexpr (std::is_same_v<T, bool>) {
            if (!v.is_boolean()) return invalid_argument("true or false");
            c.*m = v.get<bool>();
          } else if constexpr (std::is_same_v<T, int>) {
            if (!v.is_number_integer()) return invalid_argument("an integer");
            long long x = v.get<long long>();
            c.*m = static_cast<int>(std::clamp<long long>(x, -1000000000LL, 1000000000LL));
          } else {
            if (!v.is_number()) return invalid_argument("a number");
            c.*m = static_cast<T>(v.get<double>());
          }
          return Status();
        },
        f->member);
    if (!s.ok()) {
      return invalid_argument(source + ": field '" + key + "' is " + v.dump() + "; it must be " +
                              s.message());
    }
    if (sources) (*sources)[key] = ConfigSource::kFile;
  }
  return Status();
}

Result<nlohmann::json> parse_json(const std::string& text, const std::string& source) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    return invalid_argument(source + ": not valid JSON (" + e.what() + ")");
  }
}

Result<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found(path + ": cannot open the config file");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

Result<Config> Config::from_json(const std::string& text, const std::string& source) {
  FUNGEN_ASSIGN_OR_RETURN(nlohmann::json j, parse_json(text, source));
  Config c;
  if (j.is_object() && j.contains("profile")) {
    if (!j["profile"].is_string())
      return invalid_argument(source + ": field 'profile' must be a string");
    auto base = from_profile(j["profile"].get<std::string>());
    if (!base.ok()) return base.status().with_context(source);
    c = std::move(base).value();
  }
  FUNGEN_RETURN_IF_ERROR(apply_json(c, j, source, true, nullptr));
  return c;
}

Result<Config> Config::load(const std::string& path) {
  FUNGEN_ASSIGN_OR_RETURN(std::string text, read_text(path));
  return from_json(text, path);
}

std::string Config::to_json() const {
  nlohmann::ordered_json j;
  for (const cd::Field& f : cd::fields()) {
    std::visit(
        [&](auto m) {
          using T = std::decay_t<decltype(this->*m)>;
          if constexpr (std::is_same_v<T, float>) {
            j[f.name] =
                std::stod(fmt_float(this->*m));  // 0.4f prints as 0.4, not 0.4000000059604645
          } else {
            j[f.name] = this->*m;
          }
        },
        f.member);
  }
  return j.dump(2) + "\n";
}

Status Config::save(const std::string& path) const {
  return write_file_atomically(path, to_json());
}

Status Config::validate() const {
  for (const cd::Field& f : cd::fields()) {
    std::string why = cd::check_field(*this, f);
    if (!why.empty()) return invalid_argument("config field '" + std::string(f.name) + "': " + why);
  }
  return Status();
}

ResolutionSettings Config::optimal_settings_for_resolution(int width, int height) const {
  const double mp = static_cast<double>(width) * height / 1e6;
  ResolutionSettings s;
  if (mp <= 1920.0 * 1080 / 1e6 * 1.05) {
    s = {8, 1.0, 60};
  } else if (mp <= 3840.0 * 2160 / 1e6 * 1.05) {
    s = {4, 0.75, 30};
  } else if (mp <= 6144.0 * 3072 / 1e6 * 1.05) {
    s = {3, 0.5, 30};
  } else {
    s = {2, 0.5, 24};
  }
  s.batch_size = std::clamp(s.batch_size, 1, std::max(batch_size, 1));
  return s;
}

const char* config_source_name(ConfigSource s) {
  switch (s) {
    case ConfigSource::kProfile:
      return "profile";
    case ConfigSource::kFile:
      return "file";
    case ConfigSource::kEnvironment:
      return "environment";
    case ConfigSource::kFlag:
      return "flag";
  }
  return "?";
}

Status set_config_field(Config& config, const std::string& field, const std::string& value) {
  const cd::Field* f = cd::find_field(field);
  if (f == nullptr) return invalid_argument("unknown config field '" + field + "'");
  return cd::set_from_text(config, *f, value);
}

std::vector<std::pair<std::string, std::string>> config_fields() {
  std::vector<std::pair<std::string, std::string>> v;
  for (const cd::Field& f : cd::fields()) v.emplace_back(f.name, f.env);
  return v;
}

Result<ResolvedConfig> resolve_config(const ConfigRequest& request) {
  auto env =
      request.getenv ? request.getenv : [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
  ResolvedConfig r;
  // The file: --config, else $FUNGEN_CONFIG.
  r.file = request.file;
  if (r.file.empty()) r.file = env("FUNGEN_CONFIG").value_or("");
  nlohmann::json file_json;
  if (!r.file.empty()) {
    FUNGEN_ASSIGN_OR_RETURN(std::string text, read_text(r.file));
    FUNGEN_ASSIGN_OR_RETURN(file_json, parse_json(text, r.file));
    if (!file_json.is_object())
      return invalid_argument(r.file + ": a config file is a JSON object");
  }
  // The profile: --profile > FUNGEN_PROFILE > the file's > auto-detection.
  std::string profile;
  ConfigSource profile_source = ConfigSource::kProfile;
  std::optional<std::string> env_profile = env("FUNGEN_PROFILE");
  if (!request.profile.empty()) {
    profile = request.profile;
    profile_source = ConfigSource::kFlag;
    r.profile_reason = "--profile " + profile;
  } else if (env_profile && !env_profile->empty()) {
    profile = *env_profile;
    profile_source = ConfigSource::kEnvironment;
    r.profile_reason = "FUNGEN_PROFILE=" + profile;
  } else if (file_json.is_object() && file_json.contains("profile")) {
    if (!file_json["profile"].is_string())
      return invalid_argument(r.file + ": field 'profile' must be a string");
    profile = file_json["profile"].get<std::string>();
    profile_source = ConfigSource::kFile;
    r.profile_reason = "\"profile\" in " + r.file;
  }
  if (profile.empty()) {
    std::string why;
    r.config = Config::auto_detect(detect_hardware(), build_info(), &why);
    r.profile_reason = "auto-detected: " + why;
  } else {
    auto base = Config::from_profile(profile);
    if (!base.ok()) return base.status().with_context(r.profile_reason);
    r.config = std::move(base).value();
  }
  for (const cd::Field& f : cd::fields()) r.sources[f.name] = ConfigSource::kProfile;
  r.sources["profile"] = profile_source;
  // File, then environment, then flags: each overrides the one before.
  if (file_json.is_object())
    FUNGEN_RETURN_IF_ERROR(apply_json(r.config, file_json, r.file, true, &r.sources));
  std::map<std::string, std::string> origin;  // field -> "FUNGEN_X" / "--flag" for messages
  for (const cd::Field& f : cd::fields()) {
    if (*f.env == '\0') continue;
    std::optional<std::string> v = env(f.env);
    if (!v || v->empty()) continue;
    Status s = cd::set_from_text(r.config, f, *v);
    if (!s.ok()) return s.with_context(std::string(f.env));
    r.sources[f.name] = ConfigSource::kEnvironment;
    origin[f.name] = f.env;
  }
  for (const auto& [name, value] : request.flags) {
    const cd::Field* f = cd::find_field(name);
    if (f == nullptr) return invalid_argument("unknown config field '" + name + "'");
    Status s = cd::set_from_text(r.config, *f, value);
    if (!s.ok()) return s;
    r.sources[name] = ConfigSource::kFlag;
    origin[name] = "command-line flag";
  }
  for (const cd::Field& f : cd::fields()) {
    std::string why = cd::check_field(r.config, f);
    if (why.empty()) continue;
    ConfigSource src = r.sources[f.name];
    std::string from = src == ConfigSource::kFile ? r.file
                       : origin.count(f.name)     ? origin[f.name]
                                                  : "profile " + r.config.profile;
    return invalid_argument("config field '" + std::string(f.name) + "' (from " + from +
                            "): " + why);
  }
  return r;
}

}  // namespace fungen
