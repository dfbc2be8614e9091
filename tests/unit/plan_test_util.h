// plan_test_util.h — helpers of the plan file tests (test_plan_file.cpp, test_plan_rebuild.cpp):
// a small conv model with a raw head's output shape, temporary folders, a plan converted from it,
// and a log capture.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "fungen/engine.h"
#include "fungen/log.h"
#include "model_builder.h"
#include "op_test_util.h"
#include "runtime/plan_file.h"

namespace fungen::test {
namespace fs = std::filesystem;

// images [N,3,16,16] -> Conv 3x3 (8) + SiLU -> Conv 1x1 (6) -> [N, 6, 256]: a raw head's shape.
inline std::string conv_model(uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  Tensor w1 = random_tensor({8, 3, 3, 3}, rng, -0.5f, 0.5f);
  Tensor b1 = random_tensor({8}, rng, -0.1f, 0.1f);
  Tensor w2 = random_tensor({6, 8, 1, 1}, rng, -0.5f, 0.5f);
  for (int64_t i = 0; i < w2.numel(); ++i) w2.data<float>()[i] *= scale;
  ModelBuilder b(17);
  b.input("images", DType::kFloat32, {std::string("N"), int64_t{3}, int64_t{16}, int64_t{16}});
  b.initializer("w1", w1).initializer("b1", b1).initializer("w2", w2);
  b.initializer("shape", int64_tensor({3}, {0, 6, 256}));
  b.node("Conv", {"images", "w1", "b1"}, {"c1"},
         {{"pads", attr_ints({1, 1, 1, 1})}, {"kernel_shape", attr_ints({3, 3})}});
  b.node("Sigmoid", {"c1"}, {"s1"});
  b.node("Mul", {"c1", "s1"}, {"a1"});
  b.node("Conv", {"a1", "w2"}, {"c2"});
  b.node("Reshape", {"c2", "shape"}, {"output0"});
  b.output("output0");
  b.metadata("imgsz", "[16, 16]");
  return b.build();
}

inline std::string make_dir(const std::string& name) {
  std::string dir = testing::TempDir() + "/fungen_plan_" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

inline void write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

inline std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The backend these tests plan for: oneDNN when built in (fusions, runs), else the reference.
inline std::string cpu_backend() {
#ifdef FUNGEN_HAVE_ONEDNN
  return "cpu";
#else
  return "reference";
#endif
}

inline Tensor run_once(Engine& e, const Tensor& in) {
  std::vector<Tensor> out;
  Status s = e.run({&in, 1}, out);
  EXPECT_TRUE(s.ok()) << s.message();
  return out.empty() ? Tensor() : out[0].clone();
}

// Collects log lines while alive.
struct LogCapture {
  std::mutex m;
  std::vector<std::string> lines;
  LogCapture() {
    set_log_sink([this](LogLevel, std::string_view msg) {
      std::lock_guard<std::mutex> lock(m);
      lines.emplace_back(msg);
    });
  }
  ~LogCapture() { set_log_sink(nullptr); }
  size_t count(const std::string& needle) {
    std::lock_guard<std::mutex> lock(m);
    size_t n = 0;
    for (const auto& l : lines) n += l.find(needle) != std::string::npos;
    return n;
  }
};

// Builds dir/m.onnx and dir/m.engine (batches 1 and 2); returns the plan path.
inline std::string converted(const std::string& dir, uint32_t seed = 3) {
  write(dir + "/m.onnx", conv_model(seed));
  auto plan = build_plan(dir + "/m.onnx", {.backend = cpu_backend(), .batches = {1, 2}});
  EXPECT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_TRUE(write_plan_file(dir + "/m.engine", plan.value()).ok());
  return dir + "/m.engine";
}

}  // namespace fungen::test
