// Config: profiles, precedence (flag > environment > file > profile), validation messages,
// JSON round trip, auto-detection from given hardware, settings per resolution.
#include <gtest/gtest.h>

#include <fstream>

#include "fungen/config.h"

namespace fungen {
namespace {

using Env = std::map<std::string, std::string>;

ConfigRequest request(Env env, std::string profile = "", std::string file = "",
                      std::map<std::string, std::string> flags = {}) {
  ConfigRequest r;
  r.profile = std::move(profile);
  r.file = std::move(file);
  r.flags = std::move(flags);
  r.getenv = [env = std::move(env)](const std::string& k) -> std::optional<std::string> {
    auto it = env.find(k);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  return r;
}

std::string write_temp(const std::string& name, const std::string& text) {
  std::string path = testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(Config, ProfilesHaveTheirDefinedShape) {
  auto small = Config::from_profile("cpu-small");
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->batch_size, 1);
  EXPECT_GE(small->threads, 1);
  EXPECT_LE(small->threads, 4);
  EXPECT_EQ(small->device, "cpu");
  EXPECT_FALSE(small->optical_flow);
  auto gpu = Config::from_profile("cuda-fp16");
  ASSERT_TRUE(gpu.ok());
  EXPECT_EQ(gpu->precision, "fp16");
  EXPECT_EQ(gpu->batch_size, 8);
  EXPECT_TRUE(gpu->optical_flow);
  EXPECT_TRUE(gpu->reid);
  auto debug = Config::from_profile("debug");
  ASSERT_TRUE(debug.ok());
  EXPECT_TRUE(debug->verbose);
  EXPECT_FALSE(debug->optimize);
  for (const std::string& p : Config::profile_names()) {
    auto c = Config::from_profile(p);
    ASSERT_TRUE(c.ok()) << p;
    EXPECT_TRUE(c->validate().ok()) << p << ": " << c->validate().message();
  }
  auto bad = Config::from_profile("rtx");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("cpu-small"), std::string::npos);  // lists the profiles
}

TEST(Config, PrecedenceFlagOverEnvOverFileOverProfile) {
  std::string file = write_temp(
      "fungen_prec.json",
      R"({"profile": "cpu", "conf_threshold": 0.3, "iou_threshold": 0.5, "batch_size": 2})");
  // Profile only.
  auto r0 = resolve_config(request({}, "cpu"));
  ASSERT_TRUE(r0.ok()) << r0.status().message();
  EXPECT_FLOAT_EQ(r0->config.conf_threshold, 0.25f);
  EXPECT_EQ(r0->sources["conf_threshold"], ConfigSource::kProfile);
  // File beats profile.
  auto r1 = resolve_config(request({}, "", file));
  ASSERT_TRUE(r1.ok()) << r1.status().message();
  EXPECT_EQ(r1->config.profile, "cpu");
  EXPECT_FLOAT_EQ(r1->config.conf_threshold, 0.3f);
  EXPECT_EQ(r1->config.batch_size, 2);
  EXPECT_EQ(r1->sources["conf_threshold"], ConfigSource::kFile);
  // Environment beats file.
  auto r2 = resolve_config(
      request({{"FUNGEN_CONF_THRESHOLD", "0.35"}, {"FUNGEN_BATCH_SIZE", "3"}}, "", file));
  ASSERT_TRUE(r2.ok()) << r2.status().message();
  EXPECT_FLOAT_EQ(r2->config.conf_threshold, 0.35f);
  EXPECT_EQ(r2->config.batch_size, 3);
  EXPECT_FLOAT_EQ(r2->config.iou_threshold, 0.5f);  // still the file's
  EXPECT_EQ(r2->sources["conf_threshold"], ConfigSource::kEnvironment);
  // Flag beats environment.
  auto r3 = resolve_config(
      request({{"FUNGEN_CONF_THRESHOLD", "0.35"}}, "", file, {{"conf_threshold", "0.4"}}));
  ASSERT_TRUE(r3.ok()) << r3.status().message();
  EXPECT_FLOAT_EQ(r3->config.conf_threshold, 0.4f);
  EXPECT_EQ(r3->sources["conf_threshold"], ConfigSource::kFlag);
}

TEST(Config, ProfileChoicePrecedence) {
  std::string file = write_temp("fungen_prof.json", R"({"profile": "debug"})");
  auto from_file = resolve_config(request({}, "", file));
  ASSERT_TRUE(from_file.ok());
  EXPECT_EQ(from_file->config.profile, "debug");
  auto from_env = resolve_config(request({{"FUNGEN_PROFILE", "cpu"}}, "", file));
  ASSERT_TRUE(from_env.ok());
  EXPECT_EQ(from_env->config.profile, "cpu");
  auto from_flag = resolve_config(request({{"FUNGEN_PROFILE", "cpu"}}, "cuda-fp16", file));
  ASSERT_TRUE(from_flag.ok());
  EXPECT_EQ(from_flag->config.profile, "cuda-fp16");
  EXPECT_EQ(from_flag->config.batch_size, 8);
  auto file_via_env = resolve_config(request({{"FUNGEN_CONFIG", file}}));
  ASSERT_TRUE(file_via_env.ok());
  EXPECT_EQ(file_via_env->config.profile, "debug");
  auto automatic = resolve_config(request({}));
  ASSERT_TRUE(automatic.ok()) << automatic.status().message();
  EXPECT_NE(automatic->profile_reason.find("auto-detected"), std::string::npos);
}

TEST(Config, EveryEnvironmentVariableOverrides) {
  auto r = resolve_config(request({{"FUNGEN_DEVICE", "cuda:1"},
                                   {"FUNGEN_MODEL_DIR", "/models"},
                                   {"FUNGEN_IOU_THRESHOLD", "0.6"},
                                   {"FUNGEN_THREADS", "3"}},
                                  "cpu"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->config.device, "cuda:1");
  EXPECT_EQ(r->config.model_dir, "/models");
  EXPECT_FLOAT_EQ(r->config.iou_threshold, 0.6f);
  EXPECT_EQ(r->config.threads, 3);
}

void expect_error(const Result<ResolvedConfig>& r, const std::vector<std::string>& parts) {
  ASSERT_FALSE(r.ok());
  for (const std::string& p : parts) {
    EXPECT_NE(r.status().message().find(p), std::string::npos)
        << "'" << p << "' not in: " << r.status().message();
  }
}

TEST(Config, ErrorsNameFieldValueRangeAndSource) {
  expect_error(resolve_config(request({{"FUNGEN_CONF_THRESHOLD", "1.5"}}, "cpu")),
               {"conf_threshold", "1.5", "[0, 1]", "FUNGEN_CONF_THRESHOLD"});
  expect_error(resolve_config(request({{"FUNGEN_BATCH_SIZE", "eight"}}, "cpu")),
               {"batch_size", "eight", "integer", "FUNGEN_BATCH_SIZE"});
  expect_error(resolve_config(request({}, "cpu", "", {{"batch_size", "0"}})),
               {"batch_size", "0", "[1, 1024]", "flag"});
  expect_error(resolve_config(request({{"FUNGEN_DEVICE", "gpu"}}, "cpu")),
               {"device", "gpu", "cuda:N"});
  std::string file = write_temp("fungen_bad.json", R"({"threads": -2})");
  expect_error(resolve_config(request({}, "cpu", file)), {"threads", "-2", "[0, 1024]", file});
  expect_error(resolve_config(request({{"FUNGEN_PROFILE", "fast"}})),
               {"fast", "FUNGEN_PROFILE", "cpu-small"});
}

TEST(Config, JsonRejectsUnknownFieldsAndWrongTypes) {
  auto unknown = Config::from_json(R"({"conf": 0.3})", "f.json");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unknown field 'conf'"), std::string::npos);
  auto type = Config::from_json(R"({"batch_size": "8"})", "f.json");
  ASSERT_FALSE(type.ok());
  EXPECT_NE(type.status().message().find("'batch_size'"), std::string::npos);
  EXPECT_NE(type.status().message().find("integer"), std::string::npos);
  auto broken = Config::from_json("{", "f.json");
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.status().message().find("not valid JSON"), std::string::npos);
  auto range = Config::from_json(R"({"iou_threshold": 2})", "f.json");
  ASSERT_TRUE(range.ok());  // parsing accepts it; validate() names it
  Status v = range->validate();
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.message().find("iou_threshold"), std::string::npos);
  EXPECT_NE(v.message().find("[0, 1]"), std::string::npos);
}

TEST(Config, SaveLoadRoundTrip) {
  Config c = Config::from_profile("cuda-fp16").value();
  c.conf_threshold = 0.4f;
  c.model_dir = "/data/models";
  c.vram_limit_gb = 6.5;
  std::string path = testing::TempDir() + "/fungen_roundtrip.json";
  ASSERT_TRUE(c.save(path).ok());
  auto back = Config::load(path);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->to_json(), c.to_json());
  EXPECT_NE(c.to_json().find("\"conf_threshold\": 0.4,"), std::string::npos) << c.to_json();
}

TEST(Config, AutoDetectFromHardware) {
  HardwareInfo hw;
  hw.physical_cores = 16;
  hw.logical_cpus = 32;
  hw.ram_total_gb = 64;
  hw.cuda_status = "no NVIDIA driver";
  BuildInfo cpu_build, cuda_build;
  cuda_build.cuda = true;
  std::string why;
  EXPECT_EQ(Config::auto_detect(hw, cpu_build, &why).profile, "cpu");
  hw.gpus.push_back({0, "NVIDIA GeForce RTX 3090", 24.0, 8, 6});
  hw.cuda_status = "ok";
  EXPECT_EQ(Config::auto_detect(hw, cuda_build, &why).profile, "cuda-fp16");
  EXPECT_NE(why.find("RTX 3090"), std::string::npos);
  Config c = Config::auto_detect(hw, cpu_build, &why);
  EXPECT_EQ(c.profile, "cpu");
  EXPECT_NE(why.find("-DFUNGEN_CUDA=ON"), std::string::npos) << why;
  HardwareInfo pi;
  pi.physical_cores = 4;
  pi.logical_cpus = 4;
  pi.ram_total_gb = 8;
  c = Config::auto_detect(pi, cpu_build, &why);
  EXPECT_EQ(c.profile, "cpu-small");
  EXPECT_EQ(c.threads, 4);
  EXPECT_EQ(c.batch_size, 1);
}

TEST(Config, DetectHardwareSeesThisMachine) {
  HardwareInfo hw = detect_hardware();
  EXPECT_GE(hw.logical_cpus, 1);
  EXPECT_GE(hw.physical_cores, 1);
  EXPECT_GT(hw.ram_total_gb, 0.1);
  EXPECT_FALSE(hw.cuda_status.empty());
}

TEST(Config, SettingsPerResolution) {
  Config gpu = Config::from_profile("cuda-fp16").value();
  ResolutionSettings hd = gpu.optimal_settings_for_resolution(1920, 1080);
  EXPECT_EQ(hd.batch_size, 8);
  EXPECT_DOUBLE_EQ(hd.resize_factor, 1.0);
  ResolutionSettings k8 = gpu.optimal_settings_for_resolution(7680, 4320);
  EXPECT_EQ(k8.batch_size, 2);
  EXPECT_DOUBLE_EQ(k8.resize_factor, 0.5);
  ResolutionSettings k4 = gpu.optimal_settings_for_resolution(3840, 2160);
  EXPECT_GT(k4.batch_size, k8.batch_size);
  EXPECT_LT(k4.batch_size, hd.batch_size);
  Config small = Config::from_profile("cpu-small").value();
  EXPECT_EQ(small.optimal_settings_for_resolution(1920, 1080).batch_size,
            1);  // capped by the profile
}

}  // namespace
}  // namespace fungen
