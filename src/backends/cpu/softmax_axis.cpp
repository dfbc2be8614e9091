// Softmax along a non-innermost axis on plain tensors (the DFL head's softmax over 16 bins,
// axis 1), where oneDNN 2.6 has only a reference kernel: rows of the inner extent are processed
// together, so every loop runs over contiguous memory and vectorizes.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

#include "backends/cpu/cpu_run.h"
#include "util/thread_pool.h"

namespace fungen::cpu {
namespace {

constexpr int64_t kChunk = 256;  // inner elements per unit of work

// e^x for x <= 0 without a libm call, so the loops below vectorize: x = n·ln2 + r with |r| <=
// ln2/2 (n rounded by the 1.5·2^23 trick), e^r by a degree-6 minimax polynomial (Cephes' expf
// coefficients, relative error ~2e-7), 2^n by building the float's exponent. Below -87.3 (where
// e^x is under the smallest normal float) it returns ~1e-38 instead of a denormal or 0.
inline float exp_nonpositive(float x) {
  x = std::max(x, -87.3f);
  const float n = (x * 1.44269504f + 12582912.0f) - 12582912.0f;
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e = p * r * r + r + 1.0f;
  return e * std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
}

// Softmax over `n` rows `inner` apart, for `len` (<= kChunk) adjacent columns.
__attribute__((target_clones("avx512f", "avx2", "default"))) void softmax_chunk(
    const float* in, float* out, int64_t n, int64_t inner, int64_t len) {
  float mx[kChunk], sum[kChunk];
  std::copy(in, in + len, mx);
  for (int64_t k = 1; k < n; ++k) {
    for (int64_t i = 0; i < len; ++i) mx[i] = std::max(mx[i], in[k * inner + i]);
  }
  std::fill(sum, sum + len, 0.0f);
  for (int64_t k = 0; k < n; ++k) {
    for (int64_t i = 0; i < len; ++i) {
      float e = exp_nonpositive(in[k * inner + i] - mx[i]);
      out[k * inner + i] = e;
      sum[i] += e;
    }
  }
  for (int64_t i = 0; i < len; ++i) sum[i] = 1.0f / sum[i];
  for (int64_t k = 0; k < n; ++k) {
    for (int64_t i = 0; i < len; ++i) out[k * inner + i] *= sum[i];
  }
}

Status softmax_axis_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const Shape& s = x.shape();
  int64_t axis = ctx.node().attr_int("axis", -1);
  if (axis < 0) axis += static_cast<int64_t>(s.size());
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= s[static_cast<size_t>(i)];
  for (size_t i = static_cast<size_t>(axis) + 1; i < s.size(); ++i) inner *= s[i];
  const int64_t n = s[static_cast<size_t>(axis)];
  const float* xp = x.data<float>();
  float* yp = y.data<float>();
  const int64_t chunks = (inner + kChunk - 1) / kChunk;
  auto body = [&](int64_t begin, int64_t end) {
    for (int64_t u = begin; u < end; ++u) {
      const int64_t o = u / chunks, c0 = (u % chunks) * kChunk, len = std::min(kChunk, inner - c0);
      softmax_chunk(xp + o * n * inner + c0, yp + o * n * inner + c0, n, inner, len);
    }
  };
  if (ctx.pool() && outer * chunks > 1) {
    ctx.pool()->parallel_for(0, outer * chunks, body);
  } else {
    body(0, outer * chunks);
  }
  return Status();
}

}  // namespace

Status lower_softmax_axis(CpuRun& run, const Node& node) {
  const int x = node.inputs[0], y = node.outputs[0];
  if (run.graph().opset < 13) return unsupported("coerced softmax");
  int xb = run.get_plain(x);
  int yb = run.define(y, run.plain_desc(y));
  run.add_plain(node, {xb}, {yb}, &softmax_axis_kernel);
  return Status();
}

}  // namespace fungen::cpu
