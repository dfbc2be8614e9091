// elementwise_broadcast.h — walks N inputs broadcast to one output shape as contiguous runs.
//
// Dims of size 1 are dropped and adjacent dims that every input reads contiguously are merged,
// so the common YOLO cases reduce to one long run (same shape), a run with a scalar operand
// (x * 0.5) or runs of H*W with a per-channel operand (x * scale[c]). The run callback gets the
// output offset, each input's offset and each input's stride inside the run (0 or 1 after
// merging), and owns the inner loop.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "fungen/tensor.h"
#include "ops/op_util.h"
#include "util/thread_pool.h"

namespace fungen::reference {

template <size_t N>
struct BroadcastPlan {
  std::vector<int64_t> outer;                     // merged outer dims, outermost first
  std::array<std::vector<int64_t>, N> outer_str;  // each input's stride per outer dim
  int64_t inner = 1;                              // length of one run
  std::array<int64_t, N> inner_str{};             // each input's stride inside a run
  int64_t runs = 1;                               // product of outer
};

template <size_t N>
BroadcastPlan<N> make_broadcast_plan(const Shape& out, const std::array<const Shape*, N>& in) {
  std::array<std::vector<int64_t>, N> str;
  for (size_t k = 0; k < N; ++k) str[k] = broadcast_strides(*in[k], out);
  // Merged dims, innermost first.
  std::vector<int64_t> dims;
  std::array<std::vector<int64_t>, N> dstr;
  for (size_t i = out.size(); i-- > 0;) {
    if (out[i] == 1) continue;
    bool merge = !dims.empty();
    for (size_t k = 0; k < N && merge; ++k) {
      merge = str[k][i] == dstr[k].back() * dims.back();
    }
    if (merge) {
      dims.back() *= out[i];
      continue;
    }
    dims.push_back(out[i]);
    for (size_t k = 0; k < N; ++k) dstr[k].push_back(str[k][i]);
  }
  BroadcastPlan<N> p;
  if (dims.empty()) {  // a single element
    for (size_t k = 0; k < N; ++k) p.inner_str[k] = 0;
    return p;
  }
  p.inner = dims[0];
  for (size_t k = 0; k < N; ++k) p.inner_str[k] = dstr[k][0];
  for (size_t i = dims.size(); i-- > 1;) {
    p.outer.push_back(dims[i]);
    for (size_t k = 0; k < N; ++k) p.outer_str[k].push_back(dstr[k][i]);
    p.runs *= dims[i];
  }
  return p;
}

// Calls run(out_offset, std::array<int64_t, N> in_offsets, count, inner_str) for every run,
// split over `pool` when the work is large enough.
template <size_t N, class RunFn>
void for_each_run(const BroadcastPlan<N>& p, ThreadPool* pool, RunFn&& run) {
  constexpr int64_t kMinParallel = 1 << 15;
  const int64_t total = p.runs * p.inner;
  const bool parallel = pool && pool->threads() > 1 && total >= kMinParallel;
  if (p.runs == 1) {
    auto body = [&](int64_t b, int64_t e) {
      std::array<int64_t, N> off;
      for (size_t k = 0; k < N; ++k) off[k] = b * p.inner_str[k];
      run(b, off, e - b, p.inner_str);
    };
    if (parallel) {
      pool->parallel_for(0, p.inner, body);
    } else {
      body(0, p.inner);
    }
    return;
  }
  auto body = [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      std::array<int64_t, N> off{};
      int64_t rem = r;
      for (size_t d = p.outer.size(); d-- > 0;) {
        int64_t idx = rem % p.outer[d];
        rem /= p.outer[d];
        for (size_t k = 0; k < N; ++k) off[k] += idx * p.outer_str[k][d];
      }
      run(r * p.inner, off, p.inner, p.inner_str);
    }
  };
  if (parallel) {
    pool->parallel_for(0, p.runs, body);
  } else {
    body(0, p.runs);
  }
}

// out[i] = f(a[i], b[i]) over one run, with the stride patterns of a merged plan spelled out so
// the compiler vectorizes the common ones.
template <class A, class B, class O, class F>
inline void binary_run(const A* a, int64_t sa, const B* b, int64_t sb, O* o, int64_t n, F f) {
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], b[i]);
  } else if (sa == 1 && sb == 0) {
    const B bv = *b;
    for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], bv);
  } else if (sa == 0 && sb == 1) {
    const A av = *a;
    for (int64_t i = 0; i < n; ++i) o[i] = f(av, b[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) o[i] = f(a[i * sa], b[i * sb]);
  }
}

}  // namespace fungen::reference
