// fungen/config.h — settings: hardware profiles, auto-detection, JSON files, environment.
//
//   fungen::HardwareInfo hw = fungen::detect_hardware();   // CPU, RAM, CUDA GPUs (driver via
//   dlopen) auto cfg = fungen::resolve_config({.profile = "", .file = "fungen.json"});  // see
//   precedence if (!cfg) { std::cerr << cfg.status().message() << "\n"; return 1; } auto s =
//   cfg->config.optimal_settings_for_resolution(3840, 2160);  // batch, resize, fps
//
// Precedence, highest first: command-line flag > environment (FUNGEN_*) > config file > profile
// default. The profile itself is chosen the same way: --profile > FUNGEN_PROFILE > the file's
// "profile" > auto_detect(). Environment variables: FUNGEN_PROFILE, FUNGEN_DEVICE,
// FUNGEN_MODEL_DIR, FUNGEN_CONF_THRESHOLD, FUNGEN_IOU_THRESHOLD, FUNGEN_BATCH_SIZE,
// FUNGEN_THREADS (and FUNGEN_CONFIG: the file, when no --config is given).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fungen/status.h"

namespace fungen {

struct GpuInfo {
  int index = 0;
  std::string name;
  double memory_gb = 0;
  int compute_major = 0, compute_minor = 0;
};

struct HardwareInfo {
  std::string cpu_model;
  std::string arch;      // "x86_64", "aarch64", ...
  int logical_cpus = 1;  // usable by this process (affinity mask)
  int physical_cores = 1;
  std::vector<std::string>
      cpu_features;  // of interest to fungen: avx2, fma, avx512f, avx512_vnni, ...
  double ram_total_gb = 0;
  double ram_available_gb = 0;
  std::vector<GpuInfo> gpus;    // CUDA devices seen by the driver
  int cuda_driver_version = 0;  // e.g. 12040; 0 when no driver
  std::string cuda_status;      // why there are no GPUs, or "ok"
};

// Reads /proc/cpuinfo, /proc/meminfo, the affinity mask, and loads libcuda.so.1 at run time
// (cuInit, cuDeviceGetCount, cuDeviceGetName, cuDeviceTotalMem): a CPU-only build sees GPUs too.
HardwareInfo detect_hardware();

// What this binary was built with (CMake options FUNGEN_CUDA, FUNGEN_ONEDNN, FUNGEN_FFMPEG).
struct BuildInfo {
  std::string version;
  bool cuda = false;
  bool onednn = false;
  bool ffmpeg = false;
  std::string build_type;
  std::string compiler;
};
BuildInfo build_info();

struct ResolutionSettings {
  int batch_size = 1;
  double resize_factor = 1.0;  // scale frames by this before detection
  double target_fps = 30;
};

struct Config {
  std::string profile = "cpu";
  std::string device = "auto";  // auto | cpu | cuda | cuda:N
  std::string model_dir;        // "" = ${FUNGEN_CACHE:-~/.cache/fungen}/models
  std::string model_name = "yolo11n";
  std::string names_file;          // class names when the model has none
  float conf_threshold = 0.25f;    // [0, 1]
  float iou_threshold = 0.45f;     // [0, 1]
  int max_det = 300;               // [1, 100000]
  int batch_size = 1;              // [1, 1024]; the most frames per inference
  int threads = 0;                 // [0, 1024]; 0 = one per physical core
  std::string precision = "fp32";  // fp32 | fp16
  bool optimize = true;            // build optimized engines at load
  bool warmup = true;              // run a few inferences at load
  bool verbose = false;
  std::string log_level = "warn";  // error | warn | info | debug
  bool optical_flow = false;
  bool reid = false;  // re-identification in the tracker
  std::string default_tracker = "bytetrack";
  int num_workers = 1;       // [1, 256] decode/pre-process workers
  double vram_limit_gb = 0;  // [0, 1024]; 0 = no limit

  static std::vector<std::string> profile_names();  // cpu-small, cpu, cuda-fp16, debug
  static Result<Config> from_profile(const std::string& name);
  // Picks a profile for this machine and this build; `reason` says why.
  static Config auto_detect(const HardwareInfo& hw, const BuildInfo& build,
                            std::string* reason = nullptr);
  static Config auto_detect();

  // JSON: every field optional; a file's "profile" picks the defaults for the rest. Unknown
  // fields and wrong types are errors naming the field.
  static Result<Config> from_json(const std::string& text, const std::string& source = "config");
  static Result<Config> load(const std::string& path);
  std::string to_json() const;
  Status save(const std::string& path) const;  // atomic

  // Every field in range; an error names the field, the bad value and the allowed range.
  Status validate() const;

  // 1080p and below: batch 8, scale 1.0, 60 fps; 4K: batch 4, 0.75, 30; 6K: 3, 0.5, 30;
  // 8K: batch 2, 0.5, 24. The batch is capped by this config's batch_size.
  ResolutionSettings optimal_settings_for_resolution(int width, int height) const;
};

// Where each field's value came from, for `fungen config show`.
enum class ConfigSource { kProfile, kFile, kEnvironment, kFlag };
const char* config_source_name(ConfigSource s);

// Inputs of resolve_config(): flags given on the command line (unset = not given).
struct ConfigRequest {
  std::string profile;                       // --profile
  std::string file;                          // --config (else $FUNGEN_CONFIG)
  std::map<std::string, std::string> flags;  // field name -> value, e.g. {"conf_threshold", "0.4"}
  // Reads an environment variable; defaults to getenv. Tests inject their own.
  std::function<std::optional<std::string>(const std::string&)> getenv;
};

struct ResolvedConfig {
  Config config;
  std::map<std::string, ConfigSource> sources;  // field -> where its value came from
  std::string profile_reason;                   // why this profile
  std::string file;                             // the file read, if any
};

// Applies the precedence above, then validate(). Errors name the field, the value, the allowed
// range and where the value came from (flag, FUNGEN_* variable or file).
Result<ResolvedConfig> resolve_config(const ConfigRequest& request);

// Sets one field from text (the form used by environment variables and flags).
Status set_config_field(Config& config, const std::string& field, const std::string& value);
// Field names, in declaration order, and the environment variable of each (or "").
std::vector<std::pair<std::string, std::string>> config_fields();

}  // namespace fungen
