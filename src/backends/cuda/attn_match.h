// attn_match.h — recognizes scaled dot-product attention in a specialized graph (YOLO12's area
// attention, YOLO11's C2PSA) for the cuda backend's one-kernel attention (attention.cuh,
// lower_attention.cpp). Plain C++ (no CUDA): the matcher is tested on the CPU.
//
// What it matches, from the graph's structure only (op types, shapes, constants; never names):
//
//   S = MatMul(A, B) [.., n_q, n_k]       A: Transpose(last two)(q [.., d, n_q]) or q [.., n_q, d]
//                                          B: k [.., d, n_k] or Transpose(last two)(k [.., n_k, d])
//   optionally scaled: q = Mul/Div(q0, c) before the MatMul, or S = Mul/Div(S0, c) after it
//   P = Softmax(S) over the last axis
//   O = MatMul(v [.., dv, n_k], Transpose(last two)(P))  -> O [.., dv, n_q]   (the exports' form)
//    or MatMul(P, v [.., n_k, dv])                        -> O [.., n_q, dv]
//
// with c a constant scalar and the batch axes of q, k, v and O equal (no broadcasting). Every
// exported YOLO attention is the first form with the scale on q (Split -> Mul(q, d^-0.5) ->
// Transpose -> MatMul(qᵀ, k) -> Softmax -> Transpose -> MatMul(v, Pᵀ)). Every intermediate value
// must be read only inside the pattern and be no output of the run; anything else: no match,
// and the nodes are lowered one by one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backends/cuda/head_match.h"

namespace fungen::cuda {

// The head dims the fused kernels take (attention.cu), and the most tokens.
inline bool attention_dims_supported(int64_t d_qk, int64_t d_v) {
  auto ok = [](int64_t d) { return d == 16 || d == 32 || d == 64; };
  return ok(d_qk) && ok(d_v);
}
inline constexpr int64_t kMaxAttnTokens = 16384;

// How one operand lies: [.., dim, token] (dim_major, tokens contiguous) or [.., token, dim].
struct AttnInput {
  int value = -1;
  bool dim_major = true;
};

struct AttentionMatch {
  int output_node = -1;    // the P·V MatMul: the fused step takes its place
  std::vector<int> nodes;  // every node the fused step replaces (output_node included)
  AttnInput q, k, v, o;    // o.value: the output
  float scale = 1.0f;
  int64_t z = 0;  // problems: the product of the batch axes
  int64_t n_q = 0, n_k = 0, d_qk = 0, d_v = 0;
  // The exports' Transpose(0,3,1,2) of a rank-4 dim-major output [B', h, d, N] -> [B', N, h, d],
  // when it is the output's only reader: the fused step may write that instead (-1: none).
  int out_transpose = -1;  // the node
  int out_t = -1;          // its output
  int64_t heads = 0;       // h
};

// The attention whose Softmax is node `softmax` of the run, or nullopt (`why` says what did not
// fit, for logs and tests).
std::optional<AttentionMatch> match_attention(const RunView& rv, int softmax, std::string* why);

// Every attention of the run, in node order.
std::vector<AttentionMatch> find_attention(const RunView& rv);

}  // namespace fungen::cuda
