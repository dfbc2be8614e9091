// tuning_cache.h — the algorithm choices a backend's autotuning made, by a key string that names
// the problem (e.g. a convolution's shapes, strides, type and layout), so that a plan file can
// carry them and a later build on the same machine skips the measuring.
//
//   auto cache = std::make_shared<TuningCache>();
//   if (auto hit = cache->find(key)) use(hit->algorithm, hit->workspace);
//   else cache->store(key, {.algorithm = measured, .math_type = math, .workspace = bytes});
//
// Thread-safe. The values are opaque to everything but the backend that stores them (for the
// cuda backend: cudnnConvolutionFwdAlgo_t, cudnnMathType_t and workspace bytes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace fungen {

struct TunedAlgorithm {
  int32_t algorithm = 0;
  int32_t math_type = 0;
  uint64_t workspace = 0;  // bytes
  bool operator==(const TunedAlgorithm&) const = default;
};

class TuningCache {
 public:
  std::optional<TunedAlgorithm> find(const std::string& key) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      ++misses_;
      return std::nullopt;
    }
    ++hits_;
    return it->second;
  }
  void store(const std::string& key, const TunedAlgorithm& choice) {
    std::lock_guard<std::mutex> lock(mutex_);
    entries_[key] = choice;
  }
  std::map<std::string, TunedAlgorithm> entries() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return entries_;
  }
  size_t hits() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return hits_;
  }
  size_t misses() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return misses_;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, TunedAlgorithm> entries_;
  mutable size_t hits_ = 0, misses_ = 0;
};

}  // namespace fungen
