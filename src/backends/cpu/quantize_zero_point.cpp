// int8: converting a value between f32 and its s8/u8 variant when it has a zero point
// (real = scale * (q - zero)), as the backend's own loop. oneDNN 2.6's reorder with a zero point
// wrote wrong bytes for some shapes (f32 nchw → s8 nhwc, 17 or 35 channels of 24×32 measured), so
// the zero point never goes through it: a plain reorder changes the layout in f32, then this loop
// converts element by element between two tensors of the same layout.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "backends/cpu/cpu_run.h"
#include "util/assert.h"

namespace fungen::cpu {
namespace {

using dt = memory::data_type;

// Rounds to nearest, ties to even, like oneDNN, in a form the compiler vectorizes: adding and
// subtracting 1.5 · 2^23 leaves the nearest integer of a float below 2^22 in magnitude (the
// value is clamped to the s8/u8 range first).
template <typename Q>
void quantize(const float* x, Q* q, int64_t n, float inv_scale, int zero) {
  constexpr float lo = std::is_signed_v<Q> ? -128.0f : 0.0f;
  constexpr float hi = std::is_signed_v<Q> ? 127.0f : 255.0f;
  constexpr float kRound = 12582912.0f;
  const float z = static_cast<float>(zero);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float v = std::min(std::max(x[i] * inv_scale + z, lo), hi);
    q[i] = static_cast<Q>(static_cast<int>((v + kRound) - kRound));
  }
}

template <typename Q>
void dequantize(const Q* q, float* x, int64_t n, float scale, int zero) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(static_cast<int>(q[i]) - zero) * scale;
}

}  // namespace

int CpuRun::convert_zero_point(int value, int src, const memory::desc& want) {
  const memory::desc& have = bufs_[static_cast<size_t>(src)].desc;
  const bool to_q = want.data_type() != dt::f32;
  const memory::desc& qd = to_q ? want : have;
  const memory::dims dims = qd.dims();
  // Element by element needs a dense layout: channels-last 4-D, as int8 convolutions take.
  if (dims.size() != 4 || qd != memory::desc(dims, qd.data_type(), memory::format_tag::nhwc))
    return -1;
  const memory::desc twin(dims, dt::f32, memory::format_tag::nhwc);
  int64_t n = 1;
  for (auto d : dims) n *= d;
  const float scale = scale_of(value);
  const int zero = zero_of(value);
  const std::string label = graph_.values[static_cast<size_t>(value)].name;
  Buf b;
  b.desc = to_q ? want : twin;
  b.storage = new_storage(b.desc.get_size());
  bufs_.push_back(b);
  const int dst = static_cast<int>(bufs_.size()) - 1;
  const dt qt = qd.data_type();
  if (to_q) {
    const int f = get(value, twin);
    add_own("quantize " + label, {f, dst}, [n, scale, zero, qt](const std::vector<std::byte*>& p) {
      const auto* x = reinterpret_cast<const float*>(p[0]);
      if (qt == dt::s8)
        quantize(x, reinterpret_cast<int8_t*>(p[1]), n, 1.0f / scale, zero);
      else
        quantize(x, reinterpret_cast<uint8_t*>(p[1]), n, 1.0f / scale, zero);
    });
    variants_[static_cast<size_t>(value)].push_back(dst);
    return dst;
  }
  add_own("dequantize " + label, {src, dst},
          [n, scale, zero, qt](const std::vector<std::byte*>& p) {
            auto* x = reinterpret_cast<float*>(p[1]);
            if (qt == dt::s8)
              dequantize(reinterpret_cast<const int8_t*>(p[0]), x, n, scale, zero);
            else
              dequantize(reinterpret_cast<const uint8_t*>(p[0]), x, n, scale, zero);
          });
  variants_[static_cast<size_t>(value)].push_back(dst);
  return want == twin ? dst : get(value, want);
}

}  // namespace fungen::cpu
