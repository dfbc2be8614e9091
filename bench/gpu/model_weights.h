// model_weights.h — for fungen_gpu_bench: carrying the 37 test models to the device (368 MB,
// where a device call carries 64 MiB) without their convolution weights, which are random anyway.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace fungen::bench {

// Their convolution weights are random anyway: --strip-weights zeroes every float initializer
// of rank 4 with more than one output channel (the conv weights: ~all of a file's bytes; biases,
// the DFL's [1,16,1,1] weight and other constants stay), so the files compress to almost nothing,
// and --check-all --refill-weights puts fresh uniform values of variance 1/fan_in back before
// loading. Both edit the protobuf bytes in place (same lengths): no re-encoding.

inline bool read_varint(const uint8_t*& p, const uint8_t* end, uint64_t& v) {
  v = 0;
  for (int shift = 0; p < end && shift < 64; shift += 7) {
    uint8_t b = *p++;
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

// Calls fn(field, begin, end) for each length-delimited field of the message [b, e), and
// fn(field, nullptr, value) through `varints` for varint fields; false on malformed bytes.
template <class Bytes, class Varint>
bool walk(const uint8_t* b, const uint8_t* e, Bytes bytes, Varint varints) {
  while (b < e) {
    uint64_t key = 0, v = 0;
    if (!read_varint(b, e, key)) return false;
    const uint64_t field = key >> 3, wire = key & 7;
    if (wire == 0) {
      if (!read_varint(b, e, v)) return false;
      varints(field, v);
    } else if (wire == 1 || wire == 5) {
      b += wire == 1 ? 8 : 4;
    } else if (wire == 2) {
      if (!read_varint(b, e, v) || v > static_cast<uint64_t>(e - b)) return false;
      bytes(field, b, b + v);
      b += v;
    } else {
      return false;
    }
  }
  return b == e;
}

// Applies fn(float* data, count, fan_in) to each conv-weight initializer's raw_data.
template <class Fn>
bool for_each_conv_weight(std::vector<uint8_t>& model, Fn fn) {
  const uint8_t* base = model.data();
  auto tensor = [&](const uint8_t* b, const uint8_t* e) {
    std::vector<int64_t> dims;
    uint64_t dtype = 0;
    const uint8_t *raw = nullptr, *raw_end = nullptr;
    walk(
        b, e,
        [&](uint64_t f, const uint8_t* pb, const uint8_t* pe) {
          if (f == 9) {
            raw = pb;
            raw_end = pe;
          } else if (f == 1) {  // packed dims
            for (uint64_t v = 0; pb < pe && read_varint(pb, pe, v);)
              dims.push_back(static_cast<int64_t>(v));
          }
        },
        [&](uint64_t f, uint64_t v) {
          if (f == 1) dims.push_back(static_cast<int64_t>(v));
          if (f == 2) dtype = v;
        });
    if (dtype != 1 || dims.size() != 4 || dims[0] < 2 || !raw) return;
    const int64_t n = dims[0] * dims[1] * dims[2] * dims[3];
    if (raw_end - raw != n * 4) return;
    fn(reinterpret_cast<float*>(model.data() + (raw - base)), n, dims[1] * dims[2] * dims[3]);
  };
  auto graph = [&](const uint8_t* b, const uint8_t* e) {
    return walk(
        b, e,
        [&](uint64_t f, const uint8_t* pb, const uint8_t* pe) {
          if (f == 5) tensor(pb, pe);
        },
        [](uint64_t, uint64_t) {});
  };
  bool ok = true;
  bool top = walk(
      base, base + model.size(),
      [&](uint64_t f, const uint8_t* pb, const uint8_t* pe) {
        if (f == 7) ok = graph(pb, pe);
      },
      [](uint64_t, uint64_t) {});
  return top && ok;
}

inline std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// --strip-weights SRC DST: DST/<name>.onnx with the conv weights zeroed (see above).
inline int strip_weights(const std::string& src, const std::string& dst) {
  std::filesystem::create_directories(dst);
  int failures = 0;
  for (const auto& entry : std::filesystem::directory_iterator(src)) {
    if (entry.path().extension() != ".onnx") continue;
    std::vector<uint8_t> bytes = read_file(entry.path().string());
    size_t zeroed = 0;
    bool ok = for_each_conv_weight(bytes, [&](float* w, int64_t n, int64_t) {
      std::memset(w, 0, static_cast<size_t>(n) * sizeof(float));
      zeroed += static_cast<size_t>(n);
    });
    std::ofstream out(std::filesystem::path(dst) / entry.path().filename(), std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    failures += !ok || !out;
    std::printf("%s: %zu weights zeroed%s\n", entry.path().filename().c_str(), zeroed,
                ok && out ? "" : " (FAILED: not a readable ONNX file, or write error)");
  }
  return failures;
}

// The model's bytes, with fresh conv weights when `refill` (files made by --strip-weights).
inline std::vector<uint8_t> model_bytes(const std::string& path, bool refill, uint32_t seed) {
  std::vector<uint8_t> bytes = read_file(path);
  if (refill) {
    std::mt19937 rng(seed);
    for_each_conv_weight(bytes, [&](float* w, int64_t n, int64_t fan_in) {
      const float a = std::sqrt(3.0f / static_cast<float>(std::max<int64_t>(fan_in, 1)));
      std::uniform_real_distribution<float> u(-a, a);
      for (int64_t i = 0; i < n; ++i) w[i] = u(rng);
    });
  }
  return bytes;
}

}  // namespace fungen::bench
