// convert_measure.h — the timing and checking parts of `fungen convert` (convert.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fungen/engine.h"
#include "fungen/status.h"

namespace fungen::cli {

// "1:64" -> 1 2 4 8 16 32 64 (the ends, and the powers of two between them).
Result<std::vector<int64_t>> parse_batch_range(const std::string& range);

struct Throughput {
  int64_t batch = 0;
  double images_per_second = 0;
  double latency_ms = 0;  // mean per batch
  double p50_ms = 0;
};
// Runs `engine` on random inputs of `shape` (batch = shape[0]): 3 untimed runs, then at least
// `iterations` timed runs and at least `min_seconds`.
Result<Throughput> measure(Engine& engine, const Shape& shape, int iterations, double min_seconds);

// The NCHW input shape of a model at batch b (dynamic H/W: metadata imgsz, else 640).
Result<Shape> input_shape_at(const Engine& engine, int64_t batch);

}  // namespace fungen::cli
