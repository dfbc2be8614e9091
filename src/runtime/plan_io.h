// plan_io.h — the byte-level pieces of a plan file (docs/plan-format.md): little-endian integers,
// length-prefixed strings, tensors, and graphs whose constants live once in a shared pool.
//
//   PlanWriter w;  ConstantPool pool;  PlanWriter graphs;
//   write_graph(graphs, g, pool);        // constants go to the pool, the graph refers to them
//   write_pool(w, pool);  w.raw(graphs.bytes());
//   PlanReader r(bytes);  auto consts = read_pool(r);  auto g2 = read_graph(r, consts.value());
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "fungen/status.h"
#include "fungen/tensor.h"
#include "graph/graph.h"

namespace fungen {

class PlanWriter {
 public:
  void u8(uint8_t v) { bytes_.push_back(static_cast<char>(v)); }
  void u32(uint32_t v);
  void u64(uint64_t v);
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  void f32(float v);
  void f64(double v);
  void str(const std::string& s);
  void raw(std::string_view bytes) { bytes_.append(bytes); }
  void raw(const void* data, size_t n) { bytes_.append(static_cast<const char*>(data), n); }
  const std::string& bytes() const { return bytes_; }
  std::string& bytes() { return bytes_; }

 private:
  std::string bytes_;
};

// Reads what PlanWriter wrote. A read past the end or a length larger than what is left sets
// failed() and returns zeros, so a caller checks once per section.
class PlanReader {
 public:
  explicit PlanReader(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  uint8_t u8();
  uint32_t u32();
  uint64_t u64();
  int64_t i64() { return static_cast<int64_t>(u64()); }
  float f32();
  double f64();
  std::string str();
  // A count of items of at least `min_item_bytes` each; 0 and failed() when it cannot fit.
  uint32_t count(size_t min_item_bytes);
  const uint8_t* take(size_t n);  // nullptr and failed() when fewer than n bytes are left
  bool failed() const { return failed_; }
  size_t offset() const { return pos_; }
  size_t left() const { return bytes_.size() - pos_; }

 private:
  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
  bool failed_ = false;
};

// FNV-1a, 64 bit: the checksum at the end of a plan and the hash of its source model.
uint64_t fnv1a64(const void* data, size_t n, uint64_t seed = 0xcbf29ce484222325ull);

// Constants of every graph written to one plan, each once (tensors that share bytes or hold the
// same bytes are one entry). With `fp16_conv_weights`, float32 weights of Conv/FusedConv are
// stored as float16 (read back as float32: the cuda backend's fp16 mode rounds them the same
// way, so its results do not change).
class ConstantPool {
 public:
  explicit ConstantPool(bool fp16_conv_weights = false) : fp16_(fp16_conv_weights) {}
  int add(const Tensor& t, bool conv_weight);
  size_t size() const { return tensors_.size(); }
  bool fp16() const { return fp16_; }
  const Tensor& tensor(size_t i) const { return tensors_[i]; }
  bool as_fp16(size_t i) const { return half_[i]; }
  size_t stored_bytes() const;

 private:
  bool fp16_;
  std::vector<Tensor> tensors_;
  std::vector<bool> half_;
  std::unordered_map<uint64_t, std::vector<int>> by_hash_;
};

void write_tensor(PlanWriter& w, const Tensor& t, bool as_fp16 = false);
Result<Tensor> read_tensor(PlanReader& r);

void write_pool(PlanWriter& w, const ConstantPool& pool);
Result<std::vector<Tensor>> read_pool(PlanReader& r);

// The graph with every constant as a pool index; fails on a subgraph attribute (If/Loop bodies
// are not stored in plans). Node schemas are not stored: read_graph binds them again.
Status write_graph(PlanWriter& w, const Graph& g, ConstantPool& pool);
Result<Graph> read_graph(PlanReader& r, const std::vector<Tensor>& pool);

}  // namespace fungen
