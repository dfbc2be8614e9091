// test_ref_nn_common.h — helpers shared by the elementwise/NN reference-kernel tests: typed
// random tensors, element access as double, a tolerance check against an oracle, and a runner
// that also exercises the thread-pool path of a kernel.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "fungen/tensor.h"
#include "op_test_util.h"
#include "ops/op.h"
#include "util/thread_pool.h"

namespace fungen::test {

// Uniform values in [lo, hi] (integers for integer dtypes, 0/1 for bool).
inline Tensor random_typed(DType dtype, Shape shape, std::mt19937& rng, double lo, double hi) {
  Tensor t(dtype, std::move(shape));
  const bool integral = dtype != DType::kFloat32 && dtype != DType::kFloat64;
  std::uniform_real_distribution<double> real(lo, hi);
  std::uniform_int_distribution<int64_t> integer(static_cast<int64_t>(lo),
                                                 static_cast<int64_t>(hi));
  for (int64_t i = 0; i < t.numel(); ++i) {
    set_element(t, i,
                dtype == DType::kBool ? static_cast<double>(rng() & 1)
                : integral            ? static_cast<double>(integer(rng))
                                      : real(rng));
  }
  return t;
}

inline Tensor scalar_tensor(DType dtype, double v, Shape shape = {}) {
  Tensor t(dtype, std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) set_element(t, i, v);
  return t;
}

// |got - want| <= atol + rtol * |want| everywhere (NaN must match NaN); reports the first misses.
inline void expect_close(const Tensor& got, const std::vector<double>& want, double atol,
                         double rtol, const std::string& what = "") {
  ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size())) << what;
  int reported = 0;
  int64_t bad = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double g = element(got, i), w = want[static_cast<size_t>(i)];
    const bool ok =
        (std::isnan(g) && std::isnan(w)) || g == w || std::abs(g - w) <= atol + rtol * std::abs(w);
    if (!ok) {
      ++bad;
      if (reported++ < 5)
        ADD_FAILURE() << what << " element " << i << ": got " << g << ", want " << w;
    }
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << got.numel() << " elements differ";
}

// Runs one op like run_op, but its kernel with a thread pool (the parallel path).
inline Result<std::vector<Tensor>> run_op_pooled(const std::string& op_type,
                                                 std::vector<OpInput> inputs, const AttrList& attrs,
                                                 int64_t opset, ThreadPool* pool,
                                                 int num_outputs = 1) {
  return run_op(op_type, std::move(inputs), attrs, opset, num_outputs, pool);
}

// A pool shared by the tests (3 threads, so chunk splits are uneven).
inline ThreadPool* test_pool() {
  static ThreadPool pool(3);
  return &pool;
}

// Row-major multi-index helpers for oracles.
inline std::vector<int64_t> unravel(int64_t flat, const Shape& shape) {
  std::vector<int64_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  return idx;
}

// Index into `shape` of a position in the broadcast output `idx` (numpy rules).
inline int64_t broadcast_index(const std::vector<int64_t>& idx, const Shape& shape) {
  int64_t flat = 0;
  const size_t off = idx.size() - shape.size();
  for (size_t d = 0; d < shape.size(); ++d) {
    flat = flat * shape[d] + (shape[d] == 1 ? 0 : idx[off + d]);
  }
  return flat;
}

}  // namespace fungen::test
