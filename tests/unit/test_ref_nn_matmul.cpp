// MatMul and Gemm reference kernels against dot-product oracles (each output element is the dot
// product of a row of A and a column of B, located through numpy's batch broadcasting).
#include <gtest/gtest.h>

#include "test_ref_nn_common.h"

namespace fungen::test {
namespace {

struct MatMulCase {
  Shape a, b;
  DType dtype = DType::kFloat32;
};

const MatMulCase kMatMulCases[] = {
    {{7, 5}, {5, 9}},
    {{1, 1}, {1, 1}},
    {{3, 7, 5}, {3, 5, 9}},
    {{2, 1, 7, 5}, {3, 5, 4}},         // batch broadcast
    {{7, 5}, {4, 5, 3}},               // 2-D times batched
    {{5}, {5, 3}},                     // 1-D A
    {{2, 3, 5}, {5}},                  // 1-D B
    {{5}, {5}},                        // dot product
    {{4}, {2, 4, 6}},                  // 1-D A, batched B
    {{1, 2, 64, 33}, {1, 2, 33, 65}},  // attention-like (parallel)
    {{7, 5}, {5, 9}, DType::kFloat64},
    {{3, 4, 5}, {5, 6}, DType::kInt32},
    {{3, 4}, {4, 2}, DType::kInt64},
    {{3, 4}, {4, 2}, DType::kUInt32},
    {{2, 0, 4}, {4, 3}},  // empty
};

TEST(RefNnMatMul, MatchesDotProductOracle) {
  const uint32_t seed = test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  for (const MatMulCase& c : kMatMulCases) {
    SCOPED_TRACE(shape_to_string(c.a) + " x " + shape_to_string(c.b) + " " + dtype_name(c.dtype));
    const bool integral = c.dtype != DType::kFloat32 && c.dtype != DType::kFloat64;
    Tensor a = random_typed(c.dtype, c.a, rng, integral ? 0 : -1, integral ? 9 : 1);
    Tensor b = random_typed(c.dtype, c.b, rng, integral ? 0 : -1, integral ? 9 : 1);
    // Promote 1-D operands, broadcast batch dims, then drop the promoted dims from the result.
    Shape as = c.a, bs = c.b;
    if (as.size() == 1) as.insert(as.begin(), 1);
    if (bs.size() == 1) bs.push_back(1);
    const int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
    const Shape a_batch(as.begin(), as.end() - 2), b_batch(bs.begin(), bs.end() - 2);
    const size_t rank = std::max(a_batch.size(), b_batch.size());
    Shape batch(rank, 1);
    for (size_t i = 0; i < a_batch.size(); ++i) batch[rank - a_batch.size() + i] = a_batch[i];
    for (size_t i = 0; i < b_batch.size(); ++i) {
      if (b_batch[i] != 1) batch[rank - b_batch.size() + i] = b_batch[i];
    }
    Shape out_shape = batch;
    if (c.a.size() > 1) out_shape.push_back(m);
    if (c.b.size() > 1) out_shape.push_back(n);
    std::vector<double> want;
    for (int64_t bi = 0; bi < shape_numel(batch); ++bi) {
      const auto idx = unravel(bi, batch);
      const int64_t a_off = broadcast_index(idx, a_batch) * m * k;
      const int64_t b_off = broadcast_index(idx, b_batch) * k * n;
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < n; ++j) {
          double dot = 0;
          for (int64_t kk = 0; kk < k; ++kk) {
            dot += element(a, a_off + i * k + kk) * element(b, b_off + kk * n + j);
          }
          want.push_back(dot);
        }
      }
    }
    for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), test_pool()}) {
      auto out = run_op_pooled("MatMul", {a, b}, {}, 13, pool);
      ASSERT_TRUE(out.ok()) << out.status().message();
      ASSERT_EQ(out.value()[0].shape(), out_shape);
      expect_close(out.value()[0], want, integral ? 0 : 1e-5, integral ? 0 : 1e-5);
    }
  }
}

struct GemmCase {
  int64_t m, k, n;
  bool trans_a, trans_b;
  Shape c;  // {} with has_c: scalar C
  bool has_c;
  float alpha, beta;
};

const GemmCase kGemmCases[] = {
    {7, 5, 9, false, false, {7, 9}, true, 1.0f, 1.0f},
    {7, 5, 9, true, false, {9}, true, 0.5f, 2.0f},
    {7, 5, 9, false, true, {7, 1}, true, 1.0f, -1.0f},
    {7, 5, 9, true, true, {}, true, 1.5f, 0.25f},
    {3, 11, 4, false, true, {1, 4}, true, 1.0f, 1.0f},
    {6, 13, 3, false, false, {}, false, 2.0f, 1.0f},
    {1, 256, 11, false, true, {11}, true, 1.0f, 1.0f},  // classifier head
};

TEST(RefNnMatMul, GemmMatchesOracle) {
  const uint32_t seed = test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  for (const GemmCase& g : kGemmCases) {
    SCOPED_TRACE("M=" + std::to_string(g.m) + " K=" + std::to_string(g.k) +
                 " N=" + std::to_string(g.n) + " transA=" + std::to_string(g.trans_a) + " transB=" +
                 std::to_string(g.trans_b) + " C=" + (g.has_c ? shape_to_string(g.c) : "none"));
    Tensor a = random_tensor(g.trans_a ? Shape{g.k, g.m} : Shape{g.m, g.k}, rng);
    Tensor b = random_tensor(g.trans_b ? Shape{g.n, g.k} : Shape{g.k, g.n}, rng);
    Tensor c = random_tensor(g.c, rng);
    std::vector<double> want;
    for (int64_t i = 0; i < g.m; ++i) {
      for (int64_t j = 0; j < g.n; ++j) {
        double dot = 0;
        for (int64_t kk = 0; kk < g.k; ++kk) {
          const double av = element(a, g.trans_a ? kk * g.m + i : i * g.k + kk);
          const double bv = element(b, g.trans_b ? j * g.k + kk : kk * g.n + j);
          dot += av * bv;
        }
        double cv = 0;
        if (g.has_c) cv = element(c, broadcast_index({i, j}, g.c));
        want.push_back(g.alpha * dot + g.beta * cv);
      }
    }
    AttrList attrs = {{"alpha", attr_float(g.alpha)},
                      {"beta", attr_float(g.beta)},
                      {"transA", attr_int(g.trans_a)},
                      {"transB", attr_int(g.trans_b)}};
    std::vector<OpInput> inputs = {a, b};
    if (g.has_c) inputs.push_back(c);
    for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), test_pool()}) {
      auto out = run_op_pooled("Gemm", inputs, attrs, 13, pool);
      ASSERT_TRUE(out.ok()) << out.status().message();
      ASSERT_EQ(out.value()[0].shape(), (Shape{g.m, g.n}));
      expect_close(out.value()[0], want, 1e-5, 1e-5);
    }
  }
}

struct MatMulErrorCase {
  const char* name;
  const char* op;
  Shape a, b, c;
  DType dtype;
  AttrList attrs;
};

const MatMulErrorCase kMatMulErrorCases[] = {
    {"inner dims differ", "MatMul", {3, 4}, {5, 2}, {}, DType::kFloat32, {}},
    {"batch dims do not broadcast", "MatMul", {2, 3, 4}, {3, 4, 2}, {}, DType::kFloat32, {}},
    {"scalar operand", "MatMul", {}, {3}, {}, DType::kFloat32, {}},
    {"bool dtype", "MatMul", {2, 2}, {2, 2}, {}, DType::kBool, {}},
    {"Gemm inner dims differ", "Gemm", {3, 4}, {3, 2}, {}, DType::kFloat32, {}},
    {"Gemm transA=2", "Gemm", {3, 4}, {4, 2}, {}, DType::kFloat32, {{"transA", attr_int(2)}}},
    {"Gemm 3-D A", "Gemm", {1, 3, 4}, {4, 2}, {}, DType::kFloat32, {}},
    {"Gemm C does not broadcast", "Gemm", {3, 4}, {4, 2}, {3}, DType::kFloat32, {}},
    {"Gemm int64", "Gemm", {3, 4}, {4, 2}, {}, DType::kInt64, {}},
};

TEST(RefNnMatMul, RejectsBadShapesAndAttributes) {
  for (const MatMulErrorCase& c : kMatMulErrorCases) {
    SCOPED_TRACE(c.name);
    std::vector<OpInput> inputs = {Tensor(c.dtype, c.a), Tensor(c.dtype, c.b)};
    if (!c.c.empty()) inputs.push_back(Tensor(c.dtype, c.c));
    auto out = run_op(c.op, inputs, c.attrs);
    EXPECT_FALSE(out.ok());
    if (!out.ok())
      EXPECT_NE(out.status().message().find(c.op), std::string::npos) << out.status().message();
  }
}

}  // namespace
}  // namespace fungen::test
