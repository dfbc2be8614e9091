// Reference kernels of the layout ops: Transpose, Concat, Split, Slice, Tile, Pad, DepthToSpace,
// SpaceToDepth, Trilu — against naive oracles on random odd shapes and several dtypes.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <numeric>

#include "test_ref_tensor_util.h"

namespace fungen::test {
namespace {

const DType kByteTypes[] = {DType::kFloat32, DType::kInt64, DType::kUInt8, DType::kFloat16};

TEST(RefTensorLayout, TransposeRandom) {
  std::mt19937 rng(test_seed());
  SCOPED_TRACE(seed_note());
  for (int iter = 0; iter < 40; ++iter) {
    const int rank = 1 + static_cast<int>(rng() % 6);
    const DType dt = kByteTypes[rng() % 4];
    Shape in = random_shape(rng, rank, 1, 5);
    std::vector<int64_t> perm(static_cast<size_t>(rank));
    std::iota(perm.begin(), perm.end(), 0);
    if (iter % 5 == 0 && rank > 2)
      std::shuffle(perm.begin(), perm.end() - 2, rng);  // trailing axes fixed
    else
      std::shuffle(perm.begin(), perm.end(), rng);
    Tensor x = iota_tensor(dt, in);
    auto r = run_op("Transpose", {x}, {{"perm", attr_ints(perm)}}, 13);
    ASSERT_TRUE(r.ok()) << r.status().message();
    const Tensor& y = r.value()[0];
    Shape out(perm.size());
    for (size_t i = 0; i < perm.size(); ++i) out[i] = in[static_cast<size_t>(perm[i])];
    ASSERT_EQ(y.shape(), out);
    // Oracle walks the input: input index j lands at output index (j[perm[0]], j[perm[1]], ...).
    for (int64_t f = 0; f < x.numel(); ++f) {
      auto j = unravel(f, in);
      std::vector<int64_t> o(perm.size());
      for (size_t i = 0; i < perm.size(); ++i) o[i] = j[static_cast<size_t>(perm[i])];
      ASSERT_EQ(std::memcmp(elem_ptr(x, f), elem_ptr(y, ravel(o, out)), dtype_size(dt)), 0) << f;
    }
  }
}

TEST(RefTensorLayout, TransposeDefaultAndErrors) {
  Tensor x = iota_tensor(DType::kFloat32, {2, 3, 4});
  auto r = run_op("Transpose", {x}, {}, 13);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value()[0].shape(), (Shape{4, 3, 2}));
  EXPECT_EQ(r.value()[0].data<float>()[1], x.data<float>()[12]);
  for (auto bad : {std::vector<int64_t>{0, 1}, {0, 0, 1}, {0, 1, 3}, {-1, 0, 1}}) {
    auto e = run_op("Transpose", {x}, {{"perm", attr_ints(bad)}}, 13);
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.status().message().find("perm"), std::string::npos) << e.status().message();
  }
}

TEST(RefTensorLayout, ConcatRandom) {
  std::mt19937 rng(test_seed());
  SCOPED_TRACE(seed_note());
  for (int iter = 0; iter < 30; ++iter) {
    const int rank = 1 + static_cast<int>(rng() % 4);
    const int axis = static_cast<int>(rng() % static_cast<unsigned>(rank));
    const DType dt = kByteTypes[rng() % 4];
    Shape base = random_shape(rng, rank, 1, 5);
    const int n = 1 + static_cast<int>(rng() % 4);
    std::vector<OpInput> ins;
    std::vector<Tensor> xs;
    for (int i = 0; i < n; ++i) {
      Shape s = base;
      s[static_cast<size_t>(axis)] = static_cast<int64_t>(rng() % 4);  // 0 allowed
      xs.push_back(iota_tensor(dt, s, 1000 * i));
      ins.emplace_back(xs.back());
    }
    const int64_t attr_axis = (iter % 2) ? axis - rank : axis;
    auto r = run_op("Concat", ins, {{"axis", attr_int(attr_axis)}}, 13);
    ASSERT_TRUE(r.ok()) << r.status().message();
    const Tensor& y = r.value()[0];
    // Oracle: output element (…, k, …) comes from the input whose running range holds k.
    for (int64_t f = 0; f < y.numel(); ++f) {
      auto idx = unravel(f, y.shape());
      int64_t k = idx[static_cast<size_t>(axis)];
      size_t which = 0;
      while (k >= xs[which].dim(axis)) k -= xs[which++].dim(axis);
      idx[static_cast<size_t>(axis)] = k;
      ASSERT_EQ(std::memcmp(elem_ptr(y, f), elem_ptr(xs[which], ravel(idx, xs[which].shape())),
                            dtype_size(dt)),
                0);
    }
  }
  auto e = run_op("Concat", {Tensor(DType::kFloat32, {2, 3}), Tensor(DType::kFloat32, {3, 3})},
                  {{"axis", attr_int(1)}});
  EXPECT_FALSE(e.ok());
}

struct SplitCase {
  Shape in;
  int64_t axis;
  std::vector<int64_t> split;  // empty: equal split / num_outputs
  int outputs;
  int64_t opset;
  bool split_as_input;
  bool num_outputs_attr;
};
const SplitCase kSplitCases[] = {
    {{1, 84, 7}, 1, {4, 80}, 2, 12, false, false},
    {{1, 84, 7}, 1, {4, 80}, 2, 17, true, false},
    {{2, 128, 3, 3}, 1, {32, 32, 64}, 3, 13, true, false},
    {{6, 5}, 0, {}, 3, 13, false, false},
    {{7, 5}, 0, {}, 3, 18, false, true},   // 3, 3, 1
    {{5, 9}, -1, {}, 4, 18, false, true},  // 3, 3, 3, 0
    {{3, 4}, 1, {0, 4}, 2, 13, true, false},
};

TEST(RefTensorLayout, SplitCases) {
  for (const SplitCase& c : kSplitCases) {
    Tensor x = iota_tensor(DType::kFloat32, c.in);
    std::vector<OpInput> ins = {x};
    AttrList attrs = {{"axis", attr_int(c.axis)}};
    if (!c.split.empty() && c.split_as_input) ins.emplace_back(vec_i64(c.split), true);
    if (!c.split.empty() && !c.split_as_input) attrs.push_back({"split", attr_ints(c.split)});
    if (c.num_outputs_attr) attrs.push_back({"num_outputs", attr_int(c.outputs)});
    auto r = run_op("Split", ins, attrs, c.opset, c.outputs);
    ASSERT_TRUE(r.ok()) << r.status().message();
    const int axis =
        static_cast<int>(c.axis < 0 ? c.axis + static_cast<int64_t>(c.in.size()) : c.axis);
    // Oracle: concatenating the outputs along the axis gives the input back.
    int64_t offset = 0;
    for (const Tensor& y : r.value()) {
      for (int64_t f = 0; f < y.numel(); ++f) {
        auto idx = unravel(f, y.shape());
        idx[static_cast<size_t>(axis)] += offset;
        ASSERT_EQ(y.data<float>()[f], x.data<float>()[ravel(idx, c.in)]);
      }
      offset += y.dim(axis);
    }
    EXPECT_EQ(offset, c.in[static_cast<size_t>(axis)]);
    if (!c.split.empty())
      for (size_t i = 0; i < c.split.size(); ++i) EXPECT_EQ(r.value()[i].dim(axis), c.split[i]);
  }
  EXPECT_FALSE(
      run_op("Split", {Tensor(DType::kFloat32, {7})}, {}, 13, 3).ok());  // uneven, no num_outputs
}

// Python's slice.indices() with ONNX's one difference (a negative-step start clamps to 0, not
// -1): the selected indices of one axis, computed a second, independent way.
std::vector<int64_t> python_slice(int64_t start, int64_t stop, int64_t step, int64_t len) {
  const int64_t lower = step > 0 ? 0 : -1, upper = step > 0 ? len : len - 1;
  auto fix = [&](int64_t v, int64_t low) {
    if (v < 0) {
      v = (v < std::numeric_limits<int64_t>::min() / 2) ? low : v + len;
      return std::max(v, low);
    }
    return std::min(v, upper);
  };
  std::vector<int64_t> out;
  const int64_t first = fix(start, step > 0 ? 0 : std::min<int64_t>(0, len - 1)),
                last = fix(stop, lower);
  for (int64_t i = first; step > 0 ? i < last : i > last; i += step) out.push_back(i);
  return out;
}

constexpr int64_t kBig = std::numeric_limits<int64_t>::max();
constexpr int64_t kSmall = std::numeric_limits<int64_t>::min();

struct SliceCase {
  Shape in;
  std::vector<int64_t> starts, ends, axes, steps;  // axes/steps may be empty (omitted)
};
const SliceCase kSliceCases[] = {
    {{1, 64, 9, 11}, {0}, {32}, {1}, {}},
    {{1, 64, 9, 11}, {32}, {kBig}, {1}, {1}},
    {{5, 7}, {-1}, {kSmall}, {1}, {-1}},
    {{5, 7}, {4, 6}, {-10, -kBig}, {0, 1}, {-2, -3}},
    {{5, 7, 3}, {1, -2}, {100, 100}, {-1, 0}, {1, 2}},
    {{4, 6, 8}, {0, 1, 0}, {4, 6, 8}, {0, 1, 2}, {2, 2, 3}},
    {{4, 6}, {3}, {1}, {0}, {1}},  // empty
    {{4, 6}, {2, 0}, {3, 6}, {}, {}},
    {{6, 5}, {-3}, {-1}, {-2}, {}},
    {{2, 3, 4, 5}, {0, 0}, {kBig, kBig}, {2, 3}, {2, 2}},
    {{3, 1}, {0}, {5}, {1}, {-1}},
    {{5, 4}, {-10, 2}, {kSmall, -9}, {0, 1}, {-1, -1}},
};

TEST(RefTensorLayout, SliceCasesMatchPythonSlicing) {
  for (DType dt : {DType::kFloat32, DType::kInt64, DType::kUInt8}) {
    for (const SliceCase& c : kSliceCases) {
      Tensor x = iota_tensor(dt, c.in);
      std::vector<OpInput> ins = {x, {vec_i64(c.starts), true}, {vec_i64(c.ends), true}};
      if (!c.axes.empty() || !c.steps.empty()) {
        std::vector<int64_t> axes = c.axes;
        if (axes.empty())
          for (size_t i = 0; i < c.starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
        ins.emplace_back(vec_i64(axes), true);
      }
      if (!c.steps.empty()) ins.emplace_back(vec_i64(c.steps), true);
      auto r = run_op("Slice", ins, {}, 13);
      ASSERT_TRUE(r.ok()) << r.status().message();
      const Tensor& y = r.value()[0];
      std::vector<std::vector<int64_t>> sel(c.in.size());
      for (size_t d = 0; d < c.in.size(); ++d) sel[d] = python_slice(0, kBig, 1, c.in[d]);
      for (size_t i = 0; i < c.starts.size(); ++i) {
        int64_t a = c.axes.empty() ? static_cast<int64_t>(i) : c.axes[i];
        if (a < 0) a += static_cast<int64_t>(c.in.size());
        sel[static_cast<size_t>(a)] = python_slice(
            c.starts[i], c.ends[i], c.steps.empty() ? 1 : c.steps[i], c.in[static_cast<size_t>(a)]);
      }
      Shape want;
      for (auto& s : sel) want.push_back(static_cast<int64_t>(s.size()));
      ASSERT_EQ(y.shape(), want);
      for (int64_t f = 0; f < y.numel(); ++f) {
        auto idx = unravel(f, want);
        for (size_t d = 0; d < idx.size(); ++d) idx[d] = sel[d][static_cast<size_t>(idx[d])];
        ASSERT_EQ(std::memcmp(elem_ptr(y, f), elem_ptr(x, ravel(idx, c.in)), dtype_size(dt)), 0);
      }
    }
  }
}

TEST(RefTensorLayout, SliceOpset1AndErrors) {
  Tensor x = iota_tensor(DType::kFloat32, {4, 5});
  auto r =
      run_op("Slice", {x}, {{"starts", attr_ints({1, -3})}, {"ends", attr_ints({3, kBig})}}, 9);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value()[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(r.value()[0].data<float>()[0], x.data<float>()[7]);
  auto e = run_op("Slice", {x, {vec_i64({0}), false}, {vec_i64({2}), true}}, {}, 13);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("input 'starts' must be constant"), std::string::npos)
      << e.status().message();
  e = run_op(
      "Slice",
      {x, {vec_i64({0}), true}, {vec_i64({2}), true}, {vec_i64({0}), true}, {vec_i64({0}), true}},
      {}, 13);
  EXPECT_FALSE(e.ok());  // step 0
  e = run_op("Slice",
             {x, {vec_i64({0, 0}), true}, {vec_i64({2, 2}), true}, {vec_i64({0, -2}), true}}, {},
             13);
  EXPECT_FALSE(e.ok());  // repeated axis
}

TEST(RefTensorLayout, TileRandom) {
  std::mt19937 rng(test_seed());
  SCOPED_TRACE(seed_note());
  for (int iter = 0; iter < 15; ++iter) {
    const int rank = 1 + static_cast<int>(rng() % 4);
    Shape in = random_shape(rng, rank, 1, 4);
    std::vector<int64_t> reps;
    for (int i = 0; i < rank; ++i)
      reps.push_back(static_cast<int64_t>(rng() % 3 + (iter == 0 ? 0 : 1)));
    Tensor x = iota_tensor(DType::kInt64, in);
    auto r = run_op("Tile", {x, {vec_i64(reps), true}}, {}, 13);
    ASSERT_TRUE(r.ok()) << r.status().message();
    const Tensor& y = r.value()[0];
    for (int i = 0; i < rank; ++i)
      ASSERT_EQ(y.dim(i), in[static_cast<size_t>(i)] * reps[static_cast<size_t>(i)]);
    for (int64_t f = 0; f < y.numel(); ++f) {
      auto idx = unravel(f, y.shape());
      for (size_t d = 0; d < idx.size(); ++d) idx[d] %= in[d];
      ASSERT_EQ(y.data<int64_t>()[f], x.data<int64_t>()[ravel(idx, in)]);
    }
  }
}

struct PadCase {
  Shape in;
  std::vector<int64_t> pads;
  std::vector<int64_t> axes;  // opset 18 form when non-empty
  const char* mode;
};
const PadCase kPadCases[] = {
    {{1, 3, 4, 5}, {0, 0, 1, 2, 0, 0, 3, 1}, {}, "constant"},
    {{1, 3, 4, 5}, {0, 0, 0, 0, 0, 0, 0, 0}, {}, "constant"},
    {{3, 5}, {2, 3, 1, 4}, {}, "reflect"},
    {{3, 5}, {2, 3, 1, 4}, {}, "edge"},
    {{3, 5}, {4, 7, 5, 2}, {}, "wrap"},
    {{4, 6}, {-1, 2, 1, -3}, {}, "constant"},
    {{4, 6}, {-1, 2, 1, -3}, {}, "edge"},
    {{2, 4, 6}, {1, 2, 0, 3}, {-1, 1}, "constant"},
    {{2, 4, 6}, {1, 2, 1, 1}, {0, 2}, "reflect"},
};

// Oracle: output index o reads kept-input index mapped per mode; -1 means the constant.
int64_t pad_oracle_index(int64_t o, int64_t begin, int64_t len, int64_t crop_lo, int64_t crop_hi,
                         const std::string& mode) {
  const int64_t lo = crop_lo, hi = len - crop_hi;  // kept input range
  int64_t i = o - begin;
  if (i >= lo && i < hi) return i;
  if (mode == "constant") return -1;
  if (mode == "edge") return i < lo ? lo : hi - 1;
  const int64_t n = hi - lo;
  if (mode == "wrap") {
    while (i < lo) i += n;
    while (i >= hi) i -= n;
    return i;
  }
  while (i < lo || i >= hi) {  // reflect, possibly several bounces
    if (i < lo) i = 2 * lo - i;
    if (i >= hi) i = 2 * (hi - 1) - i;
  }
  return i;
}

TEST(RefTensorLayout, PadModes) {
  for (const PadCase& c : kPadCases) {
    const std::string mode = c.mode;
    const int64_t opset = mode == "wrap" || !c.axes.empty() ? 19 : 13;
    Tensor x = iota_tensor(DType::kFloat32, c.in);
    Tensor value(DType::kFloat32, {});
    value.data<float>()[0] = -9.0f;
    std::vector<OpInput> ins = {x, {vec_i64(c.pads), true}, value};
    if (!c.axes.empty()) ins.emplace_back(vec_i64(c.axes), true);
    auto r = run_op("Pad", ins, {{"mode", attr_string(mode)}}, opset);
    ASSERT_TRUE(r.ok()) << mode << ": " << r.status().message();
    const Tensor& y = r.value()[0];
    const size_t rank = c.in.size();
    std::vector<int64_t> b(rank, 0), e(rank, 0);
    const size_t n_ax = c.axes.empty() ? rank : c.axes.size();
    for (size_t i = 0; i < n_ax; ++i) {
      int64_t a = c.axes.empty() ? static_cast<int64_t>(i) : c.axes[i];
      if (a < 0) a += static_cast<int64_t>(rank);
      b[static_cast<size_t>(a)] = c.pads[i];
      e[static_cast<size_t>(a)] = c.pads[n_ax + i];
    }
    Shape want = c.in;
    for (size_t d = 0; d < rank; ++d) want[d] += b[d] + e[d];
    ASSERT_EQ(y.shape(), want) << mode;
    for (int64_t f = 0; f < y.numel(); ++f) {
      auto idx = unravel(f, want);
      bool constant = false;
      for (size_t d = 0; d < rank; ++d) {
        idx[d] = pad_oracle_index(idx[d], b[d], c.in[d], std::max<int64_t>(0, -b[d]),
                                  std::max<int64_t>(0, -e[d]), mode);
        constant = constant || idx[d] < 0;
      }
      const float expect = constant ? -9.0f : x.data<float>()[ravel(idx, c.in)];
      ASSERT_EQ(y.data<float>()[f], expect) << mode << " at " << f;
    }
  }
  auto e = run_op("Pad", {Tensor(DType::kFloat32, {3}), {vec_i64({1, 1}), false}}, {}, 13);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("'pads'"), std::string::npos);
}

TEST(RefTensorLayout, DepthToSpaceAndBack) {
  std::mt19937 rng(test_seed());
  SCOPED_TRACE(seed_note());
  const int64_t b = 2, N = 2, C = 3, H = 3, W = 4;
  for (const char* mode : {"DCR", "CRD"}) {
    Tensor x = iota_tensor(DType::kFloat32, {N, C * b * b, H, W});
    auto r =
        run_op("DepthToSpace", {x}, {{"blocksize", attr_int(b)}, {"mode", attr_string(mode)}}, 13);
    ASSERT_TRUE(r.ok()) << r.status().message();
    const Tensor& y = r.value()[0];
    ASSERT_EQ(y.shape(), (Shape{N, C, H * b, W * b}));
    // Oracle from the spec's reshape/transpose description.
    for (int64_t f = 0; f < y.numel(); ++f) {
      auto o = unravel(f, y.shape());
      const int64_t i = o[2] % b, j = o[3] % b;
      const int64_t ch =
          std::string(mode) == "DCR" ? i * b * C + j * C + o[1] : o[1] * b * b + i * b + j;
      ASSERT_EQ(y.data<float>()[f],
                x.data<float>()[ravel({o[0], ch, o[2] / b, o[3] / b}, x.shape())]);
    }
    if (std::string(mode) == "DCR") {
      auto back = run_op("SpaceToDepth", {y}, {{"blocksize", attr_int(b)}}, 13);
      ASSERT_TRUE(back.ok());
      EXPECT_TRUE(same_tensor(x, back.value()[0]));
    }
  }
}

TEST(RefTensorLayout, Trilu) {
  Tensor x = iota_tensor(DType::kFloat32, {2, 4, 5});
  for (int64_t upper : {0, 1})
    for (int64_t k : {-2, 0, 1, 3}) {
      auto r = run_op("Trilu", {x, scalar_i64(k)}, {{"upper", attr_int(upper)}}, 14);
      ASSERT_TRUE(r.ok()) << r.status().message();
      for (int64_t f = 0; f < x.numel(); ++f) {
        auto idx = unravel(f, x.shape());
        const bool keep = upper ? idx[2] >= idx[1] + k : idx[2] <= idx[1] + k;
        ASSERT_EQ(r.value()[0].data<float>()[f], keep ? x.data<float>()[f] : 0.0f);
      }
    }
}

}  // namespace
}  // namespace fungen::test
