// gpu_bench — checks the cuda backend against the CPU path on a model and times it per batch.
//
//   fungen_gpu_bench --model yolo11n_dyn.onnx --batches 1,8,32,128 [--iterations 50]
//   fungen_gpu_bench --check-all DIR [--refill-weights]   (every model in DIR, batch 1 and 2,
//                                                          fp16 and fp32)
//   fungen_gpu_bench --strip-weights SRC DST   (conv weights zeroed: compressible, for carrying)
//
// Correctness (batch 1, one fresh random input in [0,1)): relative L2 error of every raw output
// of cuda fp16 and cuda fp32 against the CPU fp32 path (oneDNN when built in, else reference).
// Timing per batch: `model` = device time of the compiled run between the input upload and the
// output download (CUDA events; a CUDA-graph replay from the second run on), `end-to-end` = wall
// time of Engine::run with fp32 input and outputs in host memory (upload + compute + download).
// `call` = host wall time of one model-only call (device input already written: DeviceRun::enqueue
// captured as a CUDA graph, one launch, then a stream sync), `pipelined` = 50 enqueues back to
// back, one sync, per call: the two ways bench/gpu/torch_bench.py times PyTorch (per-call events
// around a synced call, and back to back). Memory: fungen's own device allocations at their peak
// (arena, weights, workspace, staging) and the device memory in use per cudaMemGetInfo (context and
// library handles included).
#include <cuda_runtime.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "backends/cuda/cuda_run.h"
#include "backends/cuda/graph_capture.h"
#include "check_all.h"
#include "fungen/engine.h"
#include "model_weights.h"
#include "runtime/device_run.h"

namespace {

using fungen::bench::check_all;
using fungen::bench::model_bytes;
using fungen::bench::random_input;
using fungen::bench::rel_l2;
using fungen::bench::strip_weights;

using fungen::Engine;
using fungen::EngineOptions;
using fungen::Tensor;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

size_t device_used() {
  size_t free_b = 0, total = 0;
  cudaMemGetInfo(&free_b, &total);
  return total - free_b;
}

fungen::Shape input_shape(const Engine& e, int64_t batch) {
  fungen::Shape s;
  for (int64_t d : e.inputs()[0].shape) s.push_back(d < 0 ? 640 : d);
  s[0] = batch;
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model, batches_arg = "1,8,32,128", cpu_backend = "auto", check_dir;
  int iterations = 50;
  bool check = true, refill = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--model")
      model = next();
    else if (a == "--batches")
      batches_arg = next();
    else if (a == "--iterations")
      iterations = std::stoi(next());
    else if (a == "--no-check")
      check = false;
    else if (a == "--check-all")
      check_dir = next();
    else if (a == "--refill-weights")
      refill = true;
    else if (a == "--strip-weights") {
      std::string src = next();
      return strip_weights(src, next()) ? 1 : 0;
    }
  }
  if (!check_dir.empty()) return check_all(check_dir, refill) ? 1 : 0;
  if (model.empty()) {
    std::fprintf(stderr,
                 "usage: fungen_gpu_bench --model M.onnx [--batches 1,8] [--iterations N]\n");
    return 2;
  }
  std::vector<int64_t> batches;
  std::stringstream ss(batches_arg);
  for (std::string tok; std::getline(ss, tok, ',');) batches.push_back(std::stoll(tok));
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) {
    std::fprintf(stderr, "no CUDA device\n");
    return 1;
  }
  const size_t used0 = device_used();
  std::printf("device: %s, model: %s\n", prop.name, model.c_str());

  const std::vector<uint8_t> bytes = model_bytes(model, refill, std::random_device{}());
  const std::span<const uint8_t> model_span(bytes.data(), bytes.size());
  int failures = 0;
  if (check) {
    EngineOptions cpu_opts;
    cpu_opts.backend = "cpu";
    auto ref_engine = Engine::load_from_memory(model_span, cpu_opts, model);
    if (!ref_engine.ok()) {
      cpu_opts.backend = "reference";
      ref_engine = Engine::load_from_memory(model_span, cpu_opts, model);
    }
    if (!ref_engine.ok()) {
      std::fprintf(stderr, "%s\n", ref_engine.status().message().c_str());
      return 1;
    }
    Tensor x = random_input(input_shape(*ref_engine, 1), std::random_device{}());
    std::vector<Tensor> ref;
    fungen::Status s = ref_engine->run({&x, 1}, ref);
    if (!s.ok()) {
      std::fprintf(stderr, "cpu: %s\n", s.message().c_str());
      return 1;
    }
    for (std::string precision : {"fp16", "fp32"}) {
      auto gpu =
          Engine::load_from_memory(model_span, {.backend = "cuda", .precision = precision}, model);
      if (!gpu.ok()) {
        std::fprintf(stderr, "%s\n", gpu.status().message().c_str());
        return 1;
      }
      std::vector<Tensor> out;
      for (int rep = 0; rep < 3; ++rep) {  // eager, captured, replayed: all must agree
        s = gpu->run({&x, 1}, out);
        if (!s.ok()) {
          std::fprintf(stderr, "cuda %s: %s\n", precision.c_str(), s.message().c_str());
          return 1;
        }
        for (size_t o = 0; o < out.size(); ++o) {
          double err = rel_l2(out[o], ref[o]);
          double tol = precision == "fp16" ? 1e-2 : 1e-4;
          bool ok = err <= tol;
          failures += !ok;
          std::printf(
              "check %s run %d output %zu (%s): rel L2 %.3e vs %s fp32 (tol %.0e) %s; "
              "nodes on cuda %zu, cpu %zu, reference %zu\n",
              precision.c_str(), rep, o, gpu->outputs()[o].name.c_str(), err,
              cpu_opts.backend.c_str(), tol, ok ? "PASS" : "FAIL", gpu->nodes_on("cuda"),
              gpu->nodes_on("cpu"), gpu->nodes_on("reference"));
        }
      }
    }
  }

  std::printf(
      "\n| batch | model ms (median) | model img/s | end-to-end ms | e2e img/s | plan+first run s "
      "| "
      "fungen device MiB (peak) | device used MiB | call ms | pipelined ms |\n"
      "|---|---|---|---|---|---|---|---|---|---|\n");
  for (int64_t batch : batches) {
    auto gpu =
        Engine::load_from_memory(model_span, {.backend = "cuda", .precision = "fp16"}, model);
    if (!gpu.ok()) {
      std::fprintf(stderr, "%s\n", gpu.status().message().c_str());
      return 1;
    }
    Tensor x = random_input(input_shape(*gpu, batch), 7);
    std::vector<Tensor> out;
    auto t0 = std::chrono::steady_clock::now();
    fungen::Status s = gpu->run({&x, 1}, out);
    double first = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!s.ok()) {
      std::fprintf(stderr, "batch %lld: %s\n", static_cast<long long>(batch), s.message().c_str());
      return 1;
    }
    for (int w = 0; w < 3; ++w) (void)gpu->run({&x, 1}, out);
    std::vector<double> model_ms, wall_ms;
    for (int it = 0; it < iterations; ++it) {
      auto a = std::chrono::steady_clock::now();
      s = gpu->run({&x, 1}, out);
      wall_ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
      model_ms.push_back(fungen::cuda::last_run_stats().compute_ms);
      if (!s.ok()) return 1;
    }
    double m = median(model_ms), w = median(wall_ms);
    double call = 0, piped = 0;
    if (auto dr = fungen::device_run_of(*gpu, std::span(&x.shape(), 1)); dr.ok() && *dr) {
      // enqueue() launches eagerly; a caller captures it (as the detector pipeline does).
      auto stream = static_cast<cudaStream_t>((*dr)->device_stream());
      auto exec = fungen::cuda::capture_graph(stream, [&] { return (*dr)->enqueue(); });
      auto launch = [&] {
        return exec.ok() ? cudaGraphLaunch(*exec, stream) == cudaSuccess : (*dr)->enqueue().ok();
      };
      std::vector<double> call_ms;
      for (int it = 0; it < iterations + 3; ++it) {
        auto a = std::chrono::steady_clock::now();
        if (!launch() || cudaStreamSynchronize(stream) != cudaSuccess) return 1;
        if (it >= 3)
          call_ms.push_back(
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a)
                  .count());
      }
      call = median(call_ms);
      constexpr int kBackToBack = 50;
      auto a = std::chrono::steady_clock::now();
      for (int it = 0; it < kBackToBack; ++it)
        if (!launch()) return 1;
      if (cudaStreamSynchronize(stream) != cudaSuccess) return 1;
      piped =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count() /
          kBackToBack;
      if (exec.ok()) cudaGraphExecDestroy(*exec);
    }
    std::printf("| %lld | %.3f | %.0f | %.3f | %.0f | %.2f | %.0f | %.0f | %.3f | %.3f |\n",
                static_cast<long long>(batch), m, 1000.0 * batch / m, w, 1000.0 * batch / w, first,
                fungen::cuda::device_bytes_peak() / 1048576.0, (device_used() - used0) / 1048576.0,
                call, piped);
    std::fflush(stdout);
  }
  if (failures) std::printf("\n%d correctness check(s) FAILED\n", failures);
  return failures ? 1 : 0;
}
