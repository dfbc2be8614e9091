// plan_file.h — fungen's .engine plan: an ONNX model compiled for one backend, precision and set
// of batch sizes on one machine (format: docs/plan-format.md).
//
//   auto plan = build_plan("yolo11n.onnx", {.backend = "cuda", .precision = "fp16",
//                                            .batches = {1, 8, 32}});
//   write_plan_file("yolo11n.engine", plan.value());           // atomic: temp file + rename
//   auto engine = Engine::load("yolo11n.engine");              // = load_plan(...)
//
// A plan holds the optimized graph per batch size (shapes specialized, constants folded, fused),
// the unspecialized graph for other shapes, the weights (float16 conv weights in an fp16 plan),
// the algorithm choices the backend's autotuning made, and the fingerprint of the machine
// (plan_fingerprint.h). Loading a plan whose fingerprint or format version differs from this
// machine's rebuilds it from its source ONNX (path and hash stored) and rewrites the file.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "fungen/engine.h"
#include "fungen/status.h"
#include "graph/graph.h"
#include "runtime/plan_fingerprint.h"
#include "runtime/tuning_cache.h"

namespace fungen {

inline constexpr char kPlanMagic[8] = {'F', 'U', 'N', 'G', 'E', 'N', 'P', 'L'};
inline constexpr uint32_t kPlanFormatVersion = 1;

struct SpecializedGraph {
  std::vector<Shape> input_shapes;
  Graph graph;
};

struct PlanFile {
  uint32_t format_version = kPlanFormatVersion;
  std::string source_path;  // the ONNX model, absolute
  uint64_t source_hash = 0;
  uint64_t source_bytes = 0;
  PlanFingerprint fingerprint;
  std::string backend;    // "cuda" | "cpu" | "reference"
  std::string precision;  // "fp16" | "fp32" | "bf16"
  std::vector<int64_t> batches;
  double build_seconds = 0;
  std::map<std::string, TunedAlgorithm> tuning;
  Graph base;  // the imported graph (schemas bound), for shapes the plan was not built for
  std::vector<SpecializedGraph> specialized;
};

// The part of a plan that every format version keeps readable, so that a plan from an older
// fungen can still name its source model.
struct PlanHeader {
  uint32_t format_version = 0;
  std::string source_path;
  uint64_t source_hash = 0;
  uint64_t source_bytes = 0;
  std::string backend, precision;  // what to rebuild it with
  std::vector<int64_t> batches;
};

bool is_plan_file(const std::string& path);  // starts with kPlanMagic
Result<PlanHeader> read_plan_header(const std::string& path);

Result<std::string> serialize_plan(const PlanFile& plan);
Result<PlanFile> parse_plan(std::span<const uint8_t> bytes, const std::string& label);
// Writes `path` through a temporary file in the same folder and a rename.
Status write_plan_file(const std::string& path, const PlanFile& plan);
Result<PlanFile> read_plan_file(const std::string& path);

// FNV-1a 64 of a file's bytes and its size.
Result<std::pair<uint64_t, uint64_t>> hash_file(const std::string& path);

// A model's image size (H, W): its declared H and W, else metadata imgsz ("[384, 640]" or
// "640"), else 640.
std::pair<int64_t, int64_t> model_image_size(const TensorInfo& input,
                                             const std::map<std::string, std::string>& metadata);

struct PlanBuildOptions {
  std::string backend = "cuda";  // "cuda" | "cpu" | "reference"
  std::string precision = "";    // "" = fp16 on cuda, fp32 otherwise
  std::vector<int64_t> batches = {1};
  int threads = 0;
  int device = 0;
  // A model with a static batch gets a plan for its own batch instead of an error.
  bool fit_static_batch = false;
};
// Imports the ONNX model, builds and autotunes one execution plan per batch size, and returns
// the plan file's contents (build_seconds: import to last plan).
Result<PlanFile> build_plan(const std::string& onnx_path, const PlanBuildOptions& options);

// An Engine that runs `plan` without re-running the passes or the autotuning.
Result<Engine> engine_from_plan(const PlanFile& plan, int threads = 0);

struct PlanLoadOptions {
  int threads = 0;
  bool rewrite = true;  // write the rebuilt plan back over the stale one
  // Test seam: the fingerprint of "this machine" (null: current_fingerprint()).
  const PlanFingerprint* machine = nullptr;
};
// Reads the plan, rebuilding it from its source ONNX (one log line saying why) when its format
// version, fingerprint or source model differ; a cuda plan on a machine without a CUDA device
// runs its source model on the CPU instead. Engine::load() calls this for plan files.
Result<Engine> load_plan(const std::string& path, const PlanLoadOptions& options = {});

}  // namespace fungen
