// op_test_util.h — run one op's shape function and reference kernel on given tensors, without
// the engine. For kernel unit tests.
//
//   auto out = fungen::test::run_op("Conv", {x, w, b}, {{"strides", ints({2, 2})}}, 17);
//   ASSERT_TRUE(out.ok()) << out.status().message();
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "fungen/status.h"
#include "fungen/tensor.h"
#include "graph/graph.h"

namespace fungen {
class ThreadPool;
}

namespace fungen::test {

struct OpInput {
  Tensor tensor;          // empty Tensor() = omitted optional input
  bool constant = false;  // visible to the shape function as a constant (e.g. Reshape's shape)
  OpInput(Tensor t, bool c = false) : tensor(std::move(t)), constant(c) {}  // NOLINT
};

using AttrList = std::vector<std::pair<std::string, Attribute>>;

Attribute attr_int(int64_t v);
Attribute attr_float(float v);
Attribute attr_string(std::string v);
Attribute attr_ints(std::vector<int64_t> v);
Attribute attr_floats(std::vector<float> v);

// Runs infer + reference kernel (on `pool` when given: the parallel path). num_outputs
// defaults to 1.
Result<std::vector<Tensor>> run_op(const std::string& op_type, std::vector<OpInput> inputs,
                                   const AttrList& attrs = {}, int64_t opset = 17,
                                   int num_outputs = 1, ThreadPool* pool = nullptr);

// Random float tensor in [lo, hi).
Tensor random_tensor(Shape shape, std::mt19937& rng, float lo = -1.0f, float hi = 1.0f);
Tensor int64_tensor(Shape shape, std::vector<int64_t> values);
// Element i of any numeric/bool tensor (float16/bfloat16 included) as double, and back.
double element(const Tensor& t, int64_t i);
void set_element(Tensor& t, int64_t i, double v);
// Relative L2 error of float32 `a` against `ref`: ‖a − ref‖ / ‖ref‖; infinity when `a` holds a
// NaN or an infinity.
double rel_l2(const Tensor& a, const Tensor& ref);
// Seed for this test run: FUNGEN_TEST_SEED if set, else from the clock; printed by the caller.
uint32_t test_seed();

}  // namespace fungen::test
