// Reference kernels of the indexing ops: Gather, GatherElements, GatherND, ScatterND,
// ScatterElements, OneHot — random shapes, negative indices, naive oracles.
#include <gtest/gtest.h>

#include "test_ref_tensor_util.h"

namespace fungen::test {
namespace {

Tensor random_indices(Shape shape, int64_t dim, std::mt19937& rng, DType dt = DType::kInt64) {
  Tensor t(dt, std::move(shape));
  std::uniform_int_distribution<int64_t> d(-dim, dim - 1);  // negative indices count from the end
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (dt == DType::kInt64)
      t.data<int64_t>()[i] = d(rng);
    else
      t.data<int32_t>()[i] = static_cast<int32_t>(d(rng));
  }
  return t;
}

int64_t index_at(const Tensor& t, int64_t i) {
  return t.dtype() == DType::kInt64 ? t.data<int64_t>()[i] : t.data<int32_t>()[i];
}

TEST(RefTensorGather, GatherRandom) {
  std::mt19937 rng(test_seed());
  SCOPED_TRACE(seed_note());
  for (int iter = 0; iter < 30; ++iter) {
    const int rank = 1 + static_cast<int>(rng() % 4);
    Shape ds = random_shape(rng, rank, 1, 5);
    const int axis = static_cast<int>(rng() % static_cast<unsigned>(rank));
    Shape is = random_shape(rng, static_cast<int>(rng() % 3), 1, 4);  // rank 0..2
    const DType it = iter % 2 ? DType::kInt32 : DType::kInt64;
    const DType dt = iter % 3 ? DType::kFloat32 : DType::kInt64;
    Tensor x = iota_tensor(dt, ds);
    Tensor ind = random_indices(is, ds[static_cast<size_t>(axis)], rng, it);
    auto r =
        run_op("Gather", {x, ind}, {{"axis", attr_int(axis - (iter % 4 == 0 ? rank : 0))}}, 13);
    ASSERT_TRUE(r.ok()) << r.status().message();
    const Tensor& y = r.value()[0];
    // Oracle: y[a..., i..., b...] = x[a..., ind[i...], b...].
    for (int64_t f = 0; f < y.numel(); ++f) {
      auto o = unravel(f, y.shape());
      std::vector<int64_t> src(o.begin(), o.begin() + axis);
      std::vector<int64_t> ii(o.begin() + axis, o.begin() + axis + static_cast<int64_t>(is.size()));
      int64_t k = index_at(ind, ravel(ii, is));
      if (k < 0) k += ds[static_cast<size_t>(axis)];
      src.push_back(k);
      src.insert(src.end(), o.begin() + axis + static_cast<int64_t>(is.size()), o.end());
      ASSERT_EQ(std::memcmp(elem_ptr(y, f), elem_ptr(x, ravel(src, ds)), dtype_size(dt)), 0);
    }
  }
  auto e = run_op("Gather", {Tensor(DType::kFloat32, {3}), vec_i64({3})});
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("out of range"), std::string::npos);
}

TEST(RefTensorGather, GatherElementsRandom) {
  std::mt19937 rng(test_seed());
  SCOPED_TRACE(seed_note());
  for (int iter = 0; iter < 20; ++iter) {
    const int rank = 1 + static_cast<int>(rng() % 4);
    Shape ds = random_shape(rng, rank, 1, 5);
    const int axis = static_cast<int>(rng() % static_cast<unsigned>(rank));
    Shape is = ds;
    for (auto& d : is) d = 1 + static_cast<int64_t>(rng() % static_cast<unsigned>(d));
    is[static_cast<size_t>(axis)] = 1 + static_cast<int64_t>(rng() % 6);
    Tensor x = iota_tensor(DType::kFloat32, ds);
    Tensor ind = random_indices(is, ds[static_cast<size_t>(axis)], rng);
    auto r = run_op("GatherElements", {x, ind}, {{"axis", attr_int(axis)}}, 13);
    ASSERT_TRUE(r.ok()) << r.status().message();
    for (int64_t f = 0; f < ind.numel(); ++f) {
      auto o = unravel(f, is);
      int64_t k = ind.data<int64_t>()[f];
      o[static_cast<size_t>(axis)] = k < 0 ? k + ds[static_cast<size_t>(axis)] : k;
      ASSERT_EQ(r.value()[0].data<float>()[f], x.data<float>()[ravel(o, ds)]);
    }
  }
}

struct GatherNDCase {
  Shape data;
  Shape indices;
  int64_t batch_dims;
};
const GatherNDCase kGatherNDCases[] = {
    {{2, 2}, {2, 2}, 0},    {{2, 2}, {2, 1}, 0},       {{2, 3, 4}, {3, 2}, 0},
    {{2, 3, 4}, {2, 1}, 1}, {{2, 3, 4}, {2, 5, 2}, 1}, {{3, 2, 4, 5}, {3, 2, 3, 2}, 2},
};

TEST(RefTensorGather, GatherNDCases) {
  std::mt19937 rng(test_seed());
  SCOPED_TRACE(seed_note());
  for (const GatherNDCase& c : kGatherNDCases) {
    Tensor x = iota_tensor(DType::kFloat32, c.data);
    const int64_t m = c.indices.back();
    const size_t b = static_cast<size_t>(c.batch_dims);
    Tensor ind(DType::kInt64, c.indices);
    for (int64_t i = 0; i < ind.numel(); ++i) {
      const int64_t dim = c.data[b + static_cast<size_t>(i % m)];
      ind.data<int64_t>()[i] = static_cast<int64_t>(rng() % static_cast<unsigned>(dim));
    }
    auto r = run_op("GatherND", {x, ind}, {{"batch_dims", attr_int(c.batch_dims)}}, 13);
    ASSERT_TRUE(r.ok()) << r.status().message();
    const Tensor& y = r.value()[0];
    const size_t q = c.indices.size();
    for (int64_t f = 0; f < y.numel(); ++f) {
      auto o = unravel(f, y.shape());
      // o = (batch..., tuple position..., slice...)
      std::vector<int64_t> ipos(o.begin(), o.begin() + static_cast<int64_t>(q - 1));
      std::vector<int64_t> src(o.begin(), o.begin() + static_cast<int64_t>(b));
      for (int64_t k = 0; k < m; ++k) {
        auto full = ipos;
        full.push_back(k);
        src.push_back(ind.data<int64_t>()[ravel(full, c.indices)]);
      }
      src.insert(src.end(), o.begin() + static_cast<int64_t>(q - 1), o.end());
      ASSERT_EQ(y.data<float>()[f], x.data<float>()[ravel(src, c.data)]);
    }
  }
}

TEST(RefTensorGather, ScatterNDAndElements) {
  std::mt19937 rng(test_seed());
  SCOPED_TRACE(seed_note());
  // ScatterND: distinct index tuples (a permutation) so "none" has one defined answer.
  Tensor x = iota_tensor(DType::kFloat32, {4, 3, 2});
  Tensor ind = int64_tensor({2, 1}, {3, 1});
  Tensor upd = iota_tensor(DType::kFloat32, {2, 3, 2}, 500);
  for (const char* red : {"none", "add", "mul", "max", "min"}) {
    auto r = run_op("ScatterND", {x, ind, upd}, {{"reduction", attr_string(red)}}, 18);
    ASSERT_TRUE(r.ok()) << r.status().message();
    for (int64_t f = 0; f < x.numel(); ++f) {
      auto o = unravel(f, x.shape());
      float want = x.data<float>()[f];
      for (int64_t t = 0; t < 2; ++t)
        if (ind.data<int64_t>()[t] == o[0]) {
          const float u = upd.data<float>()[t * 6 + o[1] * 2 + o[2]];
          const std::string rs = red;
          want = rs == "none"  ? u
                 : rs == "add" ? want + u
                 : rs == "mul" ? want * u
                 : rs == "max" ? std::max(want, u)
                               : std::min(want, u);
        }
      ASSERT_EQ(r.value()[0].data<float>()[f], want) << red;
    }
  }
  // ScatterElements along axis 1 with add (duplicates accumulate).
  Tensor data = iota_tensor(DType::kFloat32, {3, 4});
  Tensor sind(DType::kInt64, {3, 2});
  for (int64_t i = 0; i < 6; ++i)
    sind.data<int64_t>()[i] = static_cast<int64_t>(rng() % 4) - (i % 2 ? 4 : 0);
  Tensor supd = iota_tensor(DType::kFloat32, {3, 2}, 7);
  auto r = run_op("ScatterElements", {data, sind, supd},
                  {{"axis", attr_int(1)}, {"reduction", attr_string("add")}}, 16);
  ASSERT_TRUE(r.ok()) << r.status().message();
  Tensor want = data.clone();
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 2; ++j) {
      int64_t k = sind.data<int64_t>()[i * 2 + j];
      if (k < 0) k += 4;
      want.data<float>()[i * 4 + k] += supd.data<float>()[i * 2 + j];
    }
  EXPECT_TRUE(same_tensor(want, r.value()[0]));
  EXPECT_FALSE(run_op("ScatterND", {x, ind, upd}, {{"reduction", attr_string("max")}}, 16).ok());
}

TEST(RefTensorGather, OneHot) {
  Tensor ind = int64_tensor({2, 3}, {0, 2, -1, 5, -4, 1});
  Tensor values(DType::kFloat32, {2});
  values.data<float>()[0] = -1.0f;
  values.data<float>()[1] = 3.0f;
  for (int64_t axis : {-1, 0, 1}) {
    auto r = run_op("OneHot", {ind, {scalar_i64(4), true}, values}, {{"axis", attr_int(axis)}}, 11);
    ASSERT_TRUE(r.ok()) << r.status().message();
    const Tensor& y = r.value()[0];
    const size_t a = static_cast<size_t>(axis < 0 ? axis + 3 : axis);
    for (int64_t f = 0; f < y.numel(); ++f) {
      auto o = unravel(f, y.shape());
      const int64_t depth_pos = o[a];
      o.erase(o.begin() + static_cast<int64_t>(a));
      int64_t v = ind.data<int64_t>()[ravel(o, ind.shape())];
      if (v < 0) v += 4;
      ASSERT_EQ(y.data<float>()[f], v == depth_pos ? 3.0f : -1.0f);
    }
  }
}

}  // namespace
}  // namespace fungen::test
