#include "cli/convert_measure.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <random>

#include "runtime/plan_file.h"

namespace fungen::cli {

Result<std::vector<int64_t>> parse_batch_range(const std::string& range) {
  size_t colon = range.find(':');
  char* end = nullptr;
  long lo = std::strtol(range.c_str(), &end, 10);
  long hi = colon == std::string::npos ? -1 : std::strtol(range.c_str() + colon + 1, &end, 10);
  if (colon == std::string::npos || !end || *end != '\0' || lo < 1 || hi < lo || hi > 4096) {
    return invalid_argument("--batch-range '" + range +
                            "' is not MIN:MAX with 1 <= MIN <= MAX <= 4096 (e.g. 1:64)");
  }
  std::vector<int64_t> out = {lo};
  for (int64_t p = 1; p < hi; p *= 2) {
    if (p > lo) out.push_back(p);
  }
  if (hi != lo) out.push_back(hi);
  return out;
}

Result<Shape> input_shape_at(const Engine& engine, int64_t batch) {
  if (engine.inputs().size() != 1 || engine.inputs()[0].shape.size() != 4) {
    return unsupported("fungen convert takes models with one NCHW image input");
  }
  Shape s = engine.inputs()[0].shape;
  const auto [h, w] = model_image_size(engine.inputs()[0], engine.metadata());
  s[0] = batch;
  if (s[1] < 0) s[1] = 3;
  s[2] = h;
  s[3] = w;
  return s;
}

Result<Throughput> measure(Engine& engine, const Shape& shape, int iterations, double min_seconds) {
  Tensor in(DType::kFloat32, shape);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  for (int64_t i = 0; i < in.numel(); ++i) in.data<float>()[i] = u(rng);
  std::vector<Tensor> out;
  for (int i = 0; i < 3; ++i) {
    Status s = engine.run({&in, 1}, out);
    if (!s.ok()) return s.with_context("batch " + std::to_string(shape[0]));
  }
  std::vector<double> ms;
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  while (static_cast<int>(ms.size()) < iterations || elapsed() < min_seconds) {
    const auto t0 = std::chrono::steady_clock::now();
    Status s = engine.run({&in, 1}, out);
    if (!s.ok()) return s.with_context("batch " + std::to_string(shape[0]));
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    if (ms.size() >= 100000) break;
  }
  Throughput t;
  t.batch = shape[0];
  double total = 0;
  for (double v : ms) total += v;
  t.latency_ms = total / static_cast<double>(ms.size());
  std::sort(ms.begin(), ms.end());
  t.p50_ms = ms[ms.size() / 2];
  t.images_per_second = static_cast<double>(shape[0]) * 1000.0 / t.latency_ms;
  return t;
}

}  // namespace fungen::cli
