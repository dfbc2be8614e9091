// Conv and ConvTranspose reference kernels against naive oracles: Conv as the direct sum over
// (input channel, kernel position) with explicit bounds checks per output element, ConvTranspose
// as a scatter of every input element. Output sizes and pads are computed here from the spec.
#include <gtest/gtest.h>

#include <cmath>

#include "test_ref_nn_common.h"

namespace fungen::test {
namespace {

struct ConvCase {
  const char* name;
  Shape x, w;
  int64_t group;
  std::vector<int64_t> strides, pads, dilations;  // empty: attribute absent
  std::string auto_pad;                           // empty: attribute absent
  bool bias;
  bool kernel_shape_attr = false;
};

const ConvCase kConvCases[] = {
    {"3x3 pad 1", {1, 3, 7, 11}, {4, 3, 3, 3}, 1, {}, {1, 1, 1, 1}, {}, "", true},
    {"stride 2 asymmetric pads",
     {2, 5, 13, 9},
     {6, 5, 3, 3},
     1,
     {2, 2},
     {0, 1, 2, 1},
     {},
     "",
     true},
    {"group 2", {1, 6, 9, 8}, {4, 3, 3, 3}, 2, {}, {1, 1, 1, 1}, {}, "", false},
    {"depthwise stride 2", {2, 8, 11, 7}, {8, 1, 3, 3}, 8, {2, 2}, {1, 1, 1, 1}, {}, "", true},
    {"depthwise multiplier 2", {1, 4, 7, 7}, {8, 1, 3, 3}, 4, {}, {1, 1, 1, 1}, {}, "", true},
    {"dilation 2", {1, 3, 13, 11}, {5, 3, 3, 3}, 1, {}, {2, 2, 2, 2}, {2, 2}, "", true},
    {"dilation and stride",
     {1, 2, 15, 14},
     {3, 2, 3, 2},
     1,
     {2, 3},
     {1, 0, 2, 1},
     {2, 3},
     "",
     false},
    {"1x1", {1, 16, 9, 11}, {7, 16, 1, 1}, 1, {}, {}, {}, "", true},
    {"1x1 stride 2", {1, 5, 9, 11}, {3, 5, 1, 1}, 1, {2, 2}, {}, {}, "", false},
    {"1x1 padded", {1, 3, 4, 5}, {2, 3, 1, 1}, 1, {}, {1, 0, 0, 2}, {}, "", true},
    {"SAME_UPPER stride 2", {1, 3, 10, 9}, {4, 3, 3, 3}, 1, {2, 2}, {}, {}, "SAME_UPPER", true},
    {"SAME_LOWER even kernel", {1, 2, 7, 8}, {3, 2, 4, 4}, 1, {}, {}, {}, "SAME_LOWER", false},
    {"SAME_UPPER even kernel", {1, 2, 7, 8}, {3, 2, 4, 2}, 1, {1, 3}, {}, {}, "SAME_UPPER", false},
    {"VALID", {1, 2, 9, 7}, {3, 2, 3, 2}, 1, {1, 2}, {}, {}, "VALID", true},
    {"NOTSET explicit", {1, 2, 6, 6}, {3, 2, 3, 3}, 1, {}, {}, {}, "NOTSET", false},
    {"1-D", {2, 3, 17}, {4, 3, 5}, 1, {2}, {2, 1}, {}, "", true},
    {"1-D depthwise dilated", {1, 4, 19}, {4, 1, 3}, 4, {}, {2, 2}, {2}, "", false},
    {"3-D", {1, 2, 5, 6, 7}, {3, 2, 3, 3, 3}, 1, {1, 2, 1}, {1, 1, 1, 1, 1, 1}, {}, "", true},
    {"6x6 stride 2 pad 2", {1, 3, 18, 14}, {5, 3, 6, 6}, 1, {2, 2}, {2, 2, 2, 2}, {}, "", true},
    {"kernel larger than input, padded",
     {1, 1, 3, 4},
     {2, 1, 5, 5},
     1,
     {},
     {2, 2, 2, 2},
     {},
     "",
     false},
    {"first YOLO layer (parallel)",
     {1, 3, 64, 64},
     {16, 3, 3, 3},
     1,
     {2, 2},
     {1, 1, 1, 1},
     {},
     "",
     true},
    {"depthwise 5x5 (parallel)",
     {1, 32, 20, 20},
     {32, 1, 5, 5},
     32,
     {},
     {2, 2, 2, 2},
     {},
     "",
     true},
    {"kernel_shape attribute", {1, 3, 7, 7}, {2, 3, 3, 3}, 1, {}, {}, {}, "", false, true},
};

struct Geometry {
  std::vector<int64_t> out, pad_begin, stride, dil, kernel;
};

Geometry conv_geometry(const ConvCase& c) {
  const size_t n = c.x.size() - 2;
  Geometry g;
  for (size_t i = 0; i < n; ++i) {
    const int64_t in = c.x[i + 2], k = c.w[i + 2];
    const int64_t s = c.strides.empty() ? 1 : c.strides[i];
    const int64_t d = c.dilations.empty() ? 1 : c.dilations[i];
    const int64_t extent = d * (k - 1) + 1;
    int64_t pb = 0, pe = 0, out = 0;
    if (c.auto_pad == "SAME_UPPER" || c.auto_pad == "SAME_LOWER") {
      out = static_cast<int64_t>(std::ceil(static_cast<double>(in) / static_cast<double>(s)));
      const int64_t total = std::max<int64_t>(0, (out - 1) * s + extent - in);
      pb = c.auto_pad == "SAME_LOWER" ? (total + 1) / 2 : total / 2;
      pe = total - pb;
    } else {
      if (!c.pads.empty()) pb = c.pads[i], pe = c.pads[i + n];
      out = static_cast<int64_t>(
                std::floor(static_cast<double>(in + pb + pe - extent) / static_cast<double>(s))) +
            1;
    }
    g.out.push_back(out);
    g.pad_begin.push_back(pb);
    g.stride.push_back(s);
    g.dil.push_back(d);
    g.kernel.push_back(k);
  }
  return g;
}

// y[n, m, o] = b[m] + sum over c in m's group and kernel positions k of
//              x[n, c, o*stride - pad + k*dilation] * w[m, c - group_start, k], when in bounds.
std::vector<double> conv_oracle(const ConvCase& c, const Tensor& x, const Tensor& w,
                                const Tensor* b, Shape* out_shape) {
  const Geometry g = conv_geometry(c);
  const int64_t n_batch = c.x[0], channels = c.x[1], m_out = c.w[0];
  const int64_t cg = channels / c.group, mg = m_out / c.group;
  *out_shape = {n_batch, m_out};
  out_shape->insert(out_shape->end(), g.out.begin(), g.out.end());
  const Shape in_sp(c.x.begin() + 2, c.x.end()), k_sp(c.w.begin() + 2, c.w.end());
  const Shape out_sp(g.out);
  const int64_t out_count = shape_numel(out_sp), k_count = shape_numel(k_sp),
                in_count = shape_numel(in_sp);
  std::vector<double> y;
  for (int64_t n = 0; n < n_batch; ++n) {
    for (int64_t m = 0; m < m_out; ++m) {
      const int64_t grp = m / mg;
      for (int64_t o = 0; o < out_count; ++o) {
        const auto oi = unravel(o, out_sp);
        double acc = b ? element(*b, m) : 0.0;
        for (int64_t ci = 0; ci < cg; ++ci) {
          const int64_t ch = grp * cg + ci;
          for (int64_t k = 0; k < k_count; ++k) {
            const auto ki = unravel(k, k_sp);
            int64_t flat = 0;
            bool inside = true;
            for (size_t d = 0; d < in_sp.size(); ++d) {
              const int64_t pos = oi[d] * g.stride[d] - g.pad_begin[d] + ki[d] * g.dil[d];
              if (pos < 0 || pos >= in_sp[d]) inside = false;
              flat = flat * in_sp[d] + pos;
            }
            if (!inside) continue;
            acc += element(x, (n * channels + ch) * in_count + flat) *
                   element(w, (m * cg + ci) * k_count + k);
          }
        }
        y.push_back(acc);
      }
    }
  }
  return y;
}

AttrList conv_attrs(const ConvCase& c) {
  AttrList a;
  if (c.group != 1) a.push_back({"group", attr_int(c.group)});
  if (!c.strides.empty()) a.push_back({"strides", attr_ints(c.strides)});
  if (!c.pads.empty()) a.push_back({"pads", attr_ints(c.pads)});
  if (!c.dilations.empty()) a.push_back({"dilations", attr_ints(c.dilations)});
  if (!c.auto_pad.empty()) a.push_back({"auto_pad", attr_string(c.auto_pad)});
  if (c.kernel_shape_attr)
    a.push_back({"kernel_shape", attr_ints(Shape(c.w.begin() + 2, c.w.end()))});
  return a;
}

TEST(RefNnConv, MatchesDirectSumOracle) {
  const uint32_t seed = test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  for (const ConvCase& c : kConvCases) {
    for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
      SCOPED_TRACE(std::string(c.name) + " " + dtype_name(dtype));
      Tensor x = random_typed(dtype, c.x, rng, -1, 1);
      Tensor w = random_typed(dtype, c.w, rng, -1, 1);
      Tensor b = random_typed(dtype, {c.w[0]}, rng, -1, 1);
      Shape out_shape;
      const std::vector<double> want = conv_oracle(c, x, w, c.bias ? &b : nullptr, &out_shape);
      std::vector<OpInput> inputs = {x, w};
      if (c.bias) inputs.push_back(b);
      const double tol = dtype == DType::kFloat32 ? 1e-5 : 1e-12;
      for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), test_pool()}) {
        auto out = run_op_pooled("Conv", inputs, conv_attrs(c), 17, pool);
        ASSERT_TRUE(out.ok()) << out.status().message();
        ASSERT_EQ(out.value()[0].shape(), out_shape);
        expect_close(out.value()[0], want, tol, tol, pool ? "pooled" : "serial");
      }
    }
  }
}

struct ConvTransposeCase {
  const char* name;
  Shape x, w;  // w: [C, M/group, k...]
  int64_t group;
  std::vector<int64_t> strides, pads, dilations, output_padding, output_shape;
  std::string auto_pad;
  bool bias;
};

const ConvTransposeCase kConvTransposeCases[] = {
    {"stride 2 pad 1 output_padding 1",
     {1, 3, 5, 7},
     {3, 4, 3, 3},
     1,
     {2, 2},
     {1, 1, 1, 1},
     {},
     {1, 1},
     {},
     "",
     true},
    {"group 2", {1, 4, 5, 5}, {4, 3, 3, 3}, 2, {2, 2}, {}, {}, {}, {}, "", false},
    {"dilation 2", {1, 2, 4, 6}, {2, 3, 3, 3}, 1, {}, {}, {2, 2}, {}, {}, "", true},
    {"asymmetric pads", {2, 3, 6, 5}, {3, 2, 3, 4}, 1, {2, 1}, {0, 1, 2, 1}, {}, {}, {}, "", true},
    {"output_shape", {1, 1, 3, 3}, {1, 2, 3, 3}, 1, {3, 2}, {}, {}, {}, {10, 8}, "", false},
    {"1-D", {1, 2, 7}, {2, 3, 4}, 1, {3}, {}, {}, {}, {}, "", true},
    {"SAME_UPPER", {1, 2, 4, 5}, {2, 3, 3, 3}, 1, {2, 2}, {}, {}, {}, {}, "SAME_UPPER", false},
    {"SAME_LOWER", {1, 2, 4, 5}, {2, 3, 3, 3}, 1, {2, 2}, {}, {}, {}, {}, "SAME_LOWER", false},
    {"2x2 stride 2 (upsample)", {1, 8, 10, 10}, {8, 8, 2, 2}, 1, {2, 2}, {}, {}, {}, {}, "", true},
    {"3-D", {1, 2, 3, 4, 3}, {2, 2, 2, 3, 2}, 1, {2, 1, 2}, {}, {}, {}, {}, "", true},
};

std::vector<double> conv_transpose_oracle(const ConvTransposeCase& c, const Tensor& x,
                                          const Tensor& w, const Tensor* b, Shape* out_shape) {
  const size_t n_sp = c.x.size() - 2;
  const int64_t mg = c.w[1], m_out = mg * c.group, channels = c.x[1], cg = channels / c.group;
  std::vector<int64_t> out_sp, pad_begin, stride, dil;
  for (size_t i = 0; i < n_sp; ++i) {
    const int64_t in = c.x[i + 2], k = c.w[i + 2];
    const int64_t s = c.strides.empty() ? 1 : c.strides[i];
    const int64_t d = c.dilations.empty() ? 1 : c.dilations[i];
    const int64_t op = c.output_padding.empty() ? 0 : c.output_padding[i];
    const int64_t full = s * (in - 1) + op + (k - 1) * d + 1;
    int64_t pb = 0, out = 0;
    if (!c.output_shape.empty() || c.auto_pad == "SAME_UPPER" || c.auto_pad == "SAME_LOWER") {
      out = !c.output_shape.empty() ? c.output_shape[i] : in * s;
      const int64_t total = full - out;
      const int64_t half = static_cast<int64_t>(std::floor(static_cast<double>(total) / 2.0));
      pb = c.auto_pad == "SAME_UPPER" ? half : total - half;
    } else {
      const int64_t pe = c.pads.empty() ? 0 : c.pads[i + n_sp];
      pb = c.pads.empty() ? 0 : c.pads[i];
      out = full - pb - pe;
    }
    out_sp.push_back(out);
    pad_begin.push_back(pb);
    stride.push_back(s);
    dil.push_back(d);
  }
  *out_shape = {c.x[0], m_out};
  out_shape->insert(out_shape->end(), out_sp.begin(), out_sp.end());
  const Shape in_sp(c.x.begin() + 2, c.x.end()), k_sp(c.w.begin() + 2, c.w.end());
  const int64_t out_count = shape_numel(out_sp), in_count = shape_numel(in_sp),
                k_count = shape_numel(k_sp);
  std::vector<double> y(static_cast<size_t>(shape_numel(*out_shape)), 0.0);
  for (int64_t n = 0; n < c.x[0]; ++n) {
    for (int64_t m = 0; m < m_out; ++m) {
      for (int64_t o = 0; o < out_count; ++o) {
        y[static_cast<size_t>((n * m_out + m) * out_count + o)] = b ? element(*b, m) : 0.0;
      }
    }
    for (int64_t ch = 0; ch < channels; ++ch) {
      const int64_t grp = ch / cg;
      for (int64_t i = 0; i < in_count; ++i) {
        const auto ii = unravel(i, in_sp);
        const double xv = element(x, (n * channels + ch) * in_count + i);
        for (int64_t mm = 0; mm < mg; ++mm) {
          const int64_t m = grp * mg + mm;
          for (int64_t k = 0; k < k_count; ++k) {
            const auto ki = unravel(k, k_sp);
            int64_t flat = 0;
            bool inside = true;
            for (size_t d = 0; d < n_sp; ++d) {
              const int64_t pos = ii[d] * stride[d] - pad_begin[d] + ki[d] * dil[d];
              if (pos < 0 || pos >= out_sp[d]) inside = false;
              flat = flat * out_sp[d] + pos;
            }
            if (!inside) continue;
            y[static_cast<size_t>((n * m_out + m) * out_count + flat)] +=
                xv * element(w, (ch * mg + mm) * k_count + k);
          }
        }
      }
    }
  }
  return y;
}

TEST(RefNnConv, ConvTransposeMatchesScatterOracle) {
  const uint32_t seed = test_seed();
  SCOPED_TRACE("FUNGEN_TEST_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  for (const ConvTransposeCase& c : kConvTransposeCases) {
    SCOPED_TRACE(c.name);
    Tensor x = random_tensor(c.x, rng);
    Tensor w = random_tensor(c.w, rng);
    Tensor b = random_tensor({c.w[1] * c.group}, rng);
    Shape out_shape;
    const std::vector<double> want =
        conv_transpose_oracle(c, x, w, c.bias ? &b : nullptr, &out_shape);
    AttrList a;
    if (c.group != 1) a.push_back({"group", attr_int(c.group)});
    if (!c.strides.empty()) a.push_back({"strides", attr_ints(c.strides)});
    if (!c.pads.empty()) a.push_back({"pads", attr_ints(c.pads)});
    if (!c.dilations.empty()) a.push_back({"dilations", attr_ints(c.dilations)});
    if (!c.output_padding.empty()) a.push_back({"output_padding", attr_ints(c.output_padding)});
    if (!c.output_shape.empty()) a.push_back({"output_shape", attr_ints(c.output_shape)});
    if (!c.auto_pad.empty()) a.push_back({"auto_pad", attr_string(c.auto_pad)});
    std::vector<OpInput> inputs = {x, w};
    if (c.bias) inputs.push_back(b);
    for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), test_pool()}) {
      auto out = run_op_pooled("ConvTranspose", inputs, a, 17, pool);
      ASSERT_TRUE(out.ok()) << out.status().message();
      ASSERT_EQ(out.value()[0].shape(), out_shape);
      expect_close(out.value()[0], want, 1e-5, 1e-5, pool ? "pooled" : "serial");
    }
  }
}

struct ConvErrorCase {
  const char* name;
  Shape x, w;
  DType dtype;
  AttrList attrs;
  Shape bias;  // empty: no bias
};

const ConvErrorCase kConvErrorCases[] = {
    {"group does not divide channels",
     {1, 4, 5, 5},
     {2, 2, 3, 3},
     DType::kFloat32,
     {{"group", attr_int(3)}},
     {}},
    {"W channels disagree with X", {1, 4, 5, 5}, {2, 3, 3, 3}, DType::kFloat32, {}, {}},
    {"group does not divide output channels",
     {1, 4, 5, 5},
     {3, 2, 3, 3},
     DType::kFloat32,
     {{"group", attr_int(2)}},
     {}},
    {"auto_pad SAME",
     {1, 2, 5, 5},
     {2, 2, 3, 3},
     DType::kFloat32,
     {{"auto_pad", attr_string("SAME")}},
     {}},
    {"strides of wrong length",
     {1, 2, 5, 5},
     {2, 2, 3, 3},
     DType::kFloat32,
     {{"strides", attr_ints({1, 1, 1})}},
     {}},
    {"stride 0", {1, 2, 5, 5}, {2, 2, 3, 3}, DType::kFloat32, {{"strides", attr_ints({0, 1})}}, {}},
    {"negative pad",
     {1, 2, 5, 5},
     {2, 2, 3, 3},
     DType::kFloat32,
     {{"pads", attr_ints({-1, 0, 0, 0})}},
     {}},
    {"dilation 0",
     {1, 2, 5, 5},
     {2, 2, 3, 3},
     DType::kFloat32,
     {{"dilations", attr_ints({0, 1})}},
     {}},
    {"kernel_shape disagrees with W",
     {1, 2, 5, 5},
     {2, 2, 3, 3},
     DType::kFloat32,
     {{"kernel_shape", attr_ints({2, 2})}},
     {}},
    {"int32 dtype", {1, 2, 5, 5}, {2, 2, 3, 3}, DType::kInt32, {}, {}},
    {"X rank 2", {2, 5}, {2, 5}, DType::kFloat32, {}, {}},
    {"4 spatial dims", {1, 1, 3, 3, 3, 3}, {1, 1, 1, 1, 1, 1}, DType::kFloat32, {}, {}},
    {"bias of wrong size", {1, 2, 5, 5}, {3, 2, 3, 3}, DType::kFloat32, {}, {2}},
    {"window larger than input", {1, 1, 2, 2}, {1, 1, 3, 3}, DType::kFloat32, {}, {}},
    {"group 0", {1, 2, 5, 5}, {2, 2, 3, 3}, DType::kFloat32, {{"group", attr_int(0)}}, {}},
};

TEST(RefNnConv, RejectsBadAttributesAndShapes) {
  for (const ConvErrorCase& c : kConvErrorCases) {
    SCOPED_TRACE(c.name);
    std::vector<OpInput> inputs = {Tensor(c.dtype, c.x), Tensor(c.dtype, c.w)};
    if (!c.bias.empty()) inputs.push_back(Tensor(c.dtype, c.bias));
    auto out = run_op("Conv", inputs, c.attrs);
    EXPECT_FALSE(out.ok());
    if (!out.ok())
      EXPECT_NE(out.status().message().find("Conv"), std::string::npos) << out.status().message();
  }
  // ConvTranspose: output_padding must stay below stride or dilation.
  auto ct = run_op("ConvTranspose",
                   {Tensor(DType::kFloat32, {1, 2, 4, 4}), Tensor(DType::kFloat32, {2, 2, 3, 3})},
                   {{"strides", attr_ints({2, 2})}, {"output_padding", attr_ints({2, 0})}});
  EXPECT_FALSE(ct.ok());
}

}  // namespace
}  // namespace fungen::test
