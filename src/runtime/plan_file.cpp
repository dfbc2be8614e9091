// plan_file.cpp — the .engine byte format (docs/plan-format.md): reading, writing, checking.
#include "runtime/plan_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "runtime/plan_io.h"

namespace fungen {
namespace fs = std::filesystem;

namespace {

Result<std::vector<uint8_t>> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found("cannot open '" + path + "': " + std::strerror(errno));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  if (in.bad()) return io_error("cannot read '" + path + "'");
  return bytes;
}

void write_header(PlanWriter& w, const PlanFile& plan) {
  w.raw(kPlanMagic, sizeof kPlanMagic);
  w.u32(plan.format_version);
  w.str(plan.source_path);
  w.u64(plan.source_hash);
  w.u64(plan.source_bytes);
  w.str(plan.backend);
  w.str(plan.precision);
  w.u32(static_cast<uint32_t>(plan.batches.size()));
  for (int64_t b : plan.batches) w.i64(b);
}

Result<PlanHeader> parse_header(PlanReader& r, const std::string& label) {
  const uint8_t* magic = r.take(sizeof kPlanMagic);
  if (!magic || std::memcmp(magic, kPlanMagic, sizeof kPlanMagic) != 0) {
    return corrupt(label +
                   " is not a fungen plan (no FUNGENPL header; a TensorRT engine or "
                   "another tool's?): give the .onnx it was built from");
  }
  PlanHeader h;
  h.format_version = r.u32();
  h.source_path = r.str();
  h.source_hash = r.u64();
  h.source_bytes = r.u64();
  h.backend = r.str();
  h.precision = r.str();
  h.batches.resize(r.count(8));
  for (int64_t& b : h.batches) b = r.i64();
  if (r.failed()) return corrupt(label + ": truncated plan header");
  return h;
}

}  // namespace

bool is_plan_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[sizeof kPlanMagic] = {};
  return in.read(magic, sizeof magic) && std::memcmp(magic, kPlanMagic, sizeof magic) == 0;
}

Result<PlanHeader> read_plan_header(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found("cannot open '" + path + "': " + std::strerror(errno));
  std::vector<uint8_t> head(64 * 1024);
  in.read(reinterpret_cast<char*>(head.data()), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  PlanReader r(head);
  return parse_header(r, path);
}

Result<std::pair<uint64_t, uint64_t>> hash_file(const std::string& path) {
  FUNGEN_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, read_all(path));
  return std::make_pair(fnv1a64(bytes.data(), bytes.size()), static_cast<uint64_t>(bytes.size()));
}

Result<std::string> serialize_plan(const PlanFile& plan) {
  PlanWriter w;
  write_header(w, plan);
  auto fields = plan.fingerprint.fields();
  w.u32(static_cast<uint32_t>(fields.size()));
  for (const auto& [name, value] : fields) {
    w.str(name);
    w.str(value);
  }
  w.f64(plan.build_seconds);
  w.u32(static_cast<uint32_t>(plan.tuning.size()));
  for (const auto& [key, t] : plan.tuning) {
    w.str(key);
    w.u32(static_cast<uint32_t>(t.algorithm));
    w.u32(static_cast<uint32_t>(t.math_type));
    w.u64(t.workspace);
  }
  // Graphs first into their own buffer: they fill the pool, which the file stores before them.
  // FUNGEN_PLAN_FP16_WEIGHTS=0: fp16 plans keep their conv weights float32 (an A/B switch for
  // telling the weights' storage from the rest of a plan when an fp16 plan validates badly).
  const char* fp16_weights = std::getenv("FUNGEN_PLAN_FP16_WEIGHTS");
  const bool store_fp16 =
      plan.precision == "fp16" && !(fp16_weights && std::strcmp(fp16_weights, "0") == 0);
  ConstantPool pool(store_fp16);
  PlanWriter graphs;
  FUNGEN_RETURN_IF_ERROR(write_graph(graphs, plan.base, pool));
  graphs.u32(static_cast<uint32_t>(plan.specialized.size()));
  for (const SpecializedGraph& s : plan.specialized) {
    graphs.u32(static_cast<uint32_t>(s.input_shapes.size()));
    for (const Shape& shape : s.input_shapes) {
      graphs.u32(static_cast<uint32_t>(shape.size()));
      for (int64_t d : shape) graphs.i64(d);
    }
    FUNGEN_RETURN_IF_ERROR(write_graph(graphs, s.graph, pool));
  }
  write_pool(w, pool);
  w.raw(graphs.bytes());
  w.u64(fnv1a64(w.bytes().data(), w.bytes().size()));
  return std::move(w.bytes());
}

Result<PlanFile> parse_plan(std::span<const uint8_t> bytes, const std::string& label) {
  PlanReader r(bytes);
  FUNGEN_ASSIGN_OR_RETURN(PlanHeader h, parse_header(r, label));
  if (h.format_version != kPlanFormatVersion) {
    return unsupported(label + " has plan format version " + std::to_string(h.format_version) +
                       "; this fungen reads version " + std::to_string(kPlanFormatVersion));
  }
  if (bytes.size() < r.offset() + 8 || fnv1a64(bytes.data(), bytes.size() - 8) !=
                                           PlanReader(bytes.subspan(bytes.size() - 8)).u64()) {
    return corrupt(label +
                   " is damaged (checksum mismatch: truncated or modified); convert the "
                   "model again with fungen convert");
  }
  PlanFile plan;
  plan.format_version = h.format_version;
  plan.source_path = h.source_path;
  plan.source_hash = h.source_hash;
  plan.source_bytes = h.source_bytes;
  for (uint32_t i = 0, n = r.count(8); i < n; ++i) {
    std::string name = r.str();
    plan.fingerprint.set_field(name, r.str());  // unknown fields: from a newer fungen, ignored
  }
  plan.backend = h.backend;
  plan.precision = h.precision;
  plan.batches = h.batches;
  plan.build_seconds = r.f64();
  for (uint32_t i = 0, n = r.count(20); i < n; ++i) {
    std::string key = r.str();
    TunedAlgorithm t;
    t.algorithm = static_cast<int32_t>(r.u32());
    t.math_type = static_cast<int32_t>(r.u32());
    t.workspace = r.u64();
    plan.tuning[key] = t;
  }
  if (r.failed()) return corrupt(label + ": truncated plan settings");
  auto pool = read_pool(r);
  if (!pool.ok()) return pool.status().with_context(label);
  auto base = read_graph(r, pool.value());
  if (!base.ok()) return base.status().with_context(label);
  plan.base = std::move(base).value();
  for (uint32_t i = 0, n = r.count(8); i < n; ++i) {
    SpecializedGraph s;
    s.input_shapes.resize(r.count(4));
    for (Shape& shape : s.input_shapes) {
      shape.resize(r.count(8));
      for (int64_t& d : shape) d = r.i64();
    }
    if (r.failed()) return corrupt(label + ": truncated plan graphs");
    auto g = read_graph(r, pool.value());
    if (!g.ok()) return g.status().with_context(label);
    s.graph = std::move(g).value();
    plan.specialized.push_back(std::move(s));
  }
  if (r.failed() || r.left() != 8)
    return corrupt(label + ": plan graphs do not end where the file does");
  return plan;
}

Status write_plan_file(const std::string& path, const PlanFile& plan) {
  FUNGEN_ASSIGN_OR_RETURN(std::string bytes, serialize_plan(plan));
  fs::path target(path);
  fs::path tmp = target;
  tmp += ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) {
      return io_error("cannot write '" + tmp.string() + "': " + std::strerror(errno) +
                      " (is the folder writable?)");
    }
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      std::error_code ec;
      fs::remove(tmp, ec);
      return io_error("cannot write '" + tmp.string() + "' (disk full?)");
    }
  }
  std::error_code ec;
  fs::rename(tmp, target, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return io_error("cannot rename the new plan to '" + path + "': " + ec.message());
  }
  return Status();
}

Result<PlanFile> read_plan_file(const std::string& path) {
  FUNGEN_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, read_all(path));
  return parse_plan(bytes, path);
}

}  // namespace fungen
