// Synthetic scaled dot-product attention graphs for the cuda backend's attention matcher
// (test_cuda_attn_match.cpp, on the CPU) and its fused kernel (test_backend_cuda_attn.cpp, on a
// GPU): q, k, v graph inputs [batch, heads, .., ..], one output.
//   kExport:  Mul(q [b,h,d,n], c) -> Transpose -> MatMul(qᵀ, k [b,h,d,n]) -> Softmax(last)
//             -> Transpose -> MatMul(v [b,h,dv,n], Pᵀ)        (every YOLO export's form)
//   kSplit:   as kExport, q, k, v the pieces of Split(axis 2) of one input qkv [b,h,2d+dv,n]
//             and the output transposed to [b,n,h,dv] (q and k are then read inside qkv and
//             the output written transposed by the fused kernel, lower_attention.cpp)
//   kTokens:  MatMul(q [b,h,n,d], Transpose(k [b,h,n,d])) -> Div(S, c) -> Softmax
//             -> MatMul(P, v [b,h,n,dv])                   (the textbook form, scale after)
// Twists that must not match (or must not absorb a node).
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "model_builder.h"
#include "op_test_util.h"

namespace fungen::test {

enum class AttnForm { kExport, kSplit, kTokens };
enum class AttnTwist {
  kNone,
  kScoresAlsoOutput,  // S is a graph output too: no match
  kSoftmaxAxis,       // Softmax over axis 2: no match
  kTensorScale,       // the scale is a [1, h, 1, 1] tensor: matched, scale 1, the Mul not absorbed
  kHeadDim48,         // d 48: no match (the kernel takes 16, 32, 64)
};

struct AttnSpec {
  const char* name;
  int64_t batch, heads, n_q, n_k, d_qk, d_v;
  AttnForm form;
  AttnTwist twist;
};

inline std::string attention_model(const AttnSpec& s) {
  ModelBuilder b(s.twist == AttnTwist::kSoftmaxAxis ? 17 : 12);
  const int64_t dqk = s.twist == AttnTwist::kHeadDim48 ? 48 : s.d_qk;
  const bool ex = s.form != AttnForm::kTokens;
  const int64_t B = s.batch, H = s.heads;
  auto dims = [&](int64_t d, int64_t n) {
    return ex ? std::vector<Dim>{B, H, d, n} : std::vector<Dim>{B, H, n, d};
  };
  if (s.form == AttnForm::kSplit) {  // self-attention: n_q == n_k
    b.input("qkv", DType::kFloat32, dims(2 * dqk + s.d_v, s.n_k));
    b.node("Split", {"qkv"}, {"q", "k", "v"},
           {{"axis", attr_int(2)}, {"split", attr_ints({dqk, dqk, s.d_v})}});
  } else {
    b.input("q", DType::kFloat32, dims(dqk, s.n_q));
    b.input("k", DType::kFloat32, dims(dqk, s.n_k));
    b.input("v", DType::kFloat32, dims(s.d_v, s.n_k));
  }
  const float c = 1.0f / std::sqrt(static_cast<float>(dqk));
  Tensor scale(DType::kFloat32, s.twist == AttnTwist::kTensorScale ? Shape{1, H, 1, 1} : Shape{});
  const bool div = !ex && s.twist != AttnTwist::kTensorScale;  // Div(S, 1 / c)
  for (int64_t i = 0; i < scale.numel(); ++i) scale.data<float>()[i] = div ? 1.0f / c : c;
  b.initializer("c", scale);
  const AttrList swap = {{"perm", attr_ints({0, 1, 3, 2})}};
  const int64_t axis = s.twist == AttnTwist::kSoftmaxAxis ? 2 : 3;
  if (ex) {
    b.node("Mul", {"q", "c"}, {"qs"});
    b.node("Transpose", {"qs"}, {"qt"}, swap);
    b.node("MatMul", {"qt", "k"}, {"s"});
    b.node("Softmax", {"s"}, {"p"}, {{"axis", attr_int(axis)}});
    b.node("Transpose", {"p"}, {"pt"}, swap);
    b.node("MatMul", {"v", "pt"}, {"o"});
  } else {
    b.node("Transpose", {"k"}, {"kt"}, swap);
    b.node("MatMul", {"q", "kt"}, {"s0"});
    b.node(div ? "Div" : "Mul", {"s0", "c"}, {"s"});
    b.node("Softmax", {"s"}, {"p"}, {{"axis", attr_int(axis)}});
    b.node("MatMul", {"p", "v"}, {"o"});
  }
  if (s.form == AttnForm::kSplit) {  // the exports' Transpose to [b, n, h, dv] follows
    b.node("Transpose", {"o"}, {"ot"}, {{"perm", attr_ints({0, 3, 1, 2})}});
    b.output("ot");
  } else {
    b.output("o");
  }
  if (s.twist == AttnTwist::kScoresAlsoOutput) b.output("s");
  return b.build();
}

}  // namespace fungen::test
