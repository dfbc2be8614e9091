// Helpers shared by the cuda backend tests (test_backend_cuda_*.cpp): small ONNX building blocks,
// a scoped environment switch, "this model on cuda equals the reference kernels", and the
// exported test models of FUNGEN_TEST_MODELS (weight-stripped files refilled).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "bench/gpu/model_weights.h"
#include "fungen/engine.h"
#include "model_builder.h"
#include "op_test_util.h"

namespace fungen::test {

inline AttrList conv_attrs(int64_t k, int64_t stride, int64_t group = 1) {
  const int64_t p = k / 2;
  return {{"pads", attr_ints({p, p, p, p})},
          {"strides", attr_ints({stride, stride})},
          {"kernel_shape", attr_ints({k, k})},
          {"group", attr_int(group)}};
}

// Conv (+ bias) (+ SiLU as Sigmoid * x), weights of variance 1/fan_in so that deep chains keep
// activations near 1 (fp16 stays far from overflow, errors stay relative).
inline void scaled_conv(ModelBuilder& b, std::mt19937& rng, const std::string& x,
                        const std::string& y, int64_t cin, int64_t cout, int64_t k, int64_t stride,
                        bool bias, bool silu) {
  const float a = std::sqrt(3.0f / static_cast<float>(cin * k * k));
  b.initializer(y + "_w", random_tensor({cout, cin, k, k}, rng, -a, a));
  std::vector<std::string> in = {x, y + "_w"};
  if (bias) {
    b.initializer(y + "_b", random_tensor({cout}, rng, -0.5f, 0.5f));
    in.push_back(y + "_b");
  }
  const std::string c = silu ? y + "_c" : y;
  b.node("Conv", in, {c}, conv_attrs(k, stride));
  if (silu) {
    b.node("Sigmoid", {c}, {y + "_s"});
    b.node("Mul", {c, y + "_s"}, {y});
  }
}

// conv -> SiLU (Sigmoid * x, fused by the optimizer into the convolution).
inline void conv_silu(ModelBuilder& b, std::mt19937& rng, const std::string& x,
                      const std::string& y, int64_t cin, int64_t cout, int64_t k, int64_t stride,
                      int64_t group) {
  b.initializer(y + "_w", random_tensor({cout, cin / group, k, k}, rng, -0.5f, 0.5f));
  b.initializer(y + "_b", random_tensor({cout}, rng));
  b.node("Conv", {x, y + "_w", y + "_b"}, {y + "_c"}, conv_attrs(k, stride, group));
  b.node("Sigmoid", {y + "_c"}, {y + "_s"});
  b.node("Mul", {y + "_c", y + "_s"}, {y});
}

// Sets an environment variable for the scope (the backend reads its switches when created) and
// puts back what it was afterwards (unset, or the caller's value: a switch exported for a whole
// test run, e.g. FUNGEN_CUDA_HEAD_KERNEL=old, stays in force after a test set it briefly); a
// null value leaves it as it is.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    had_ = old != nullptr;
    if (had_) old_ = old;
    if (value) setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (had_)
      setenv(name_, old_.c_str(), 1);
    else
      unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  bool had_ = false;
  std::string old_;
};

// One engine at several batch sizes in turn (eager, captured and replayed graphs at each): per
// entry of `batches`, a fresh random input {batch, rest...} through `ref` and `gpu`, every output
// within rel L2 `tol`.
inline void expect_batches_match(Engine& ref, Engine& gpu, const Shape& rest,
                                 std::initializer_list<int64_t> batches, double tol,
                                 std::mt19937& rng, const std::string& label) {
  for (int64_t batch : batches) {
    Shape shape = {batch};
    shape.insert(shape.end(), rest.begin(), rest.end());
    Tensor input = random_tensor(shape, rng, -2.0f, 2.0f);
    std::vector<Tensor> want, got;
    ASSERT_TRUE(ref.run({&input, 1}, want).ok());
    Status s = gpu.run({&input, 1}, got);
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_EQ(got.size(), want.size());
    for (size_t o = 0; o < want.size(); ++o) {
      EXPECT_LE(rel_l2(got[o], want[o]), tol) << label << " batch " << batch << " output " << o;
    }
  }
}

// Loads `bytes` on the reference kernels and on cuda in `precision`, runs both `runs` times on
// fresh random inputs (a stale read of the previous run's values would match otherwise) and
// expects every output within rel L2 1e-2 (fp16) or 1e-4 (fp32); with `all_on_gpu`, that no node
// fell back to the CPU.
inline void expect_cuda_matches_reference(const std::string& bytes, const std::string& precision,
                                          std::mt19937& rng, int runs, const std::string& label,
                                          uint32_t seed, bool all_on_gpu) {
  std::span<const uint8_t> span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  auto ref = Engine::load_from_memory(span, {.backend = "reference"});
  auto gpu = Engine::load_from_memory(span, {.backend = "cuda", .precision = precision});
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  ASSERT_TRUE(gpu.ok()) << gpu.status().message();
  const double tol = precision == "fp16" ? 1e-2 : 1e-4;
  for (int rep = 0; rep < runs; ++rep) {
    std::vector<Tensor> inputs, want, got;
    for (const auto& in : ref->inputs())
      inputs.push_back(random_tensor(in.shape, rng, -2.0f, 2.0f));
    ASSERT_TRUE(ref->run(inputs, want).ok());
    Status s = gpu->run(inputs, got);
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_EQ(got.size(), want.size());
    for (size_t o = 0; o < want.size(); ++o) {
      EXPECT_LE(rel_l2(got[o], want[o]), tol)
          << label << " " << precision << " output " << o << " run " << rep << " seed " << seed;
    }
  }
  if (all_on_gpu) {
    EXPECT_EQ(gpu->nodes_on("reference") + gpu->nodes_on("cpu"), 0u)
        << "every node should run on the GPU";
  }
}

// The .onnx files of the ':'-separated folders of FUNGEN_TEST_MODELS whose names `wanted` takes,
// sorted.
inline std::vector<std::string> test_model_files(
    const std::function<bool(const std::string&)>& wanted) {
  const char* d = std::getenv("FUNGEN_TEST_MODELS");
  std::stringstream ss(d ? d : "");
  std::vector<std::string> files;
  for (std::string dir; std::getline(ss, dir, ':');) {
    if (dir.empty() || !std::filesystem::is_directory(dir)) continue;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      const std::string name = e.path().filename().string();
      if (e.path().extension() == ".onnx" && wanted(name)) files.push_back(e.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

// The file's bytes; conv weights refilled (seeded) when --strip-weights zeroed them all, which
// `refilled` (optional) reports.
inline std::vector<uint8_t> test_model_bytes(const std::string& path, uint32_t seed,
                                             bool* refilled = nullptr) {
  std::vector<uint8_t> bytes = bench::read_file(path);
  bool all_zero = true;
  bench::for_each_conv_weight(bytes, [&](float* w, int64_t n, int64_t) {
    all_zero = all_zero && std::all_of(w, w + n, [](float v) { return v == 0.0f; });
  });
  if (refilled) *refilled = all_zero;
  return all_zero ? bench::model_bytes(path, true, seed) : bytes;
}

// Every value finite (true for a tensor that is not float32).
inline bool all_finite(const Tensor& t) {
  if (t.dtype() != DType::kFloat32) return true;
  const float* p = t.data<float>();
  return std::all_of(p, p + t.numel(), [](float v) { return std::isfinite(v); });
}

}  // namespace fungen::test
