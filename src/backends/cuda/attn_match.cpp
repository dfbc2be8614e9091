#include "backends/cuda/attn_match.h"

#include <climits>

namespace fungen::cuda {
namespace {

void fail(std::string* why, const std::string& what) {
  if (why) *why = what;
}

// A Transpose exchanging the last two axes and keeping the others.
bool swaps_last_two(const RunView& rv, const Node& n) {
  if (n.op_type != "Transpose" || n.inputs.empty()) return false;
  const int64_t rank = static_cast<int64_t>(rv.shape(n.inputs[0]).size());
  std::vector<int64_t> perm = n.attr_ints("perm");
  if (perm.empty()) {
    for (int64_t k = rank - 1; k >= 0; --k) perm.push_back(k);
  }
  if (rank < 2 || static_cast<int64_t>(perm.size()) != rank) return false;
  for (int64_t k = 0; k + 2 < rank; ++k)
    if (perm[static_cast<size_t>(k)] != k) return false;
  return perm[static_cast<size_t>(rank - 2)] == rank - 1 &&
         perm[static_cast<size_t>(rank - 1)] == rank - 2;
}

// x * c, c * x or x / c with c a constant fp32 scalar: the data input and the factor.
bool scalar_scale(const RunView& rv, const Node& n, int* x, float* factor) {
  if ((n.op_type != "Mul" && n.op_type != "Div") || n.inputs.size() != 2) return false;
  auto scalar = [&](int v, float* c) {
    if (v < 0 || !rv.is_constant(v)) return false;
    const Tensor& t = *rv.g.values[static_cast<size_t>(v)].constant;
    if (t.numel() != 1 || t.dtype() != DType::kFloat32) return false;
    *c = t.data<float>()[0];
    return true;
  };
  float c = 0.0f;
  if (scalar(n.inputs[1], &c)) {
    *x = n.inputs[0];
  } else if (n.op_type == "Mul" && scalar(n.inputs[0], &c)) {
    *x = n.inputs[1];
  } else {
    return false;
  }
  if (n.op_type == "Div") {
    if (c == 0.0f) return false;
    c = 1.0f / c;
  }
  *factor = c;
  return rv.shape(*x) == rv.shape(n.outputs[0]);
}

// The node of the run reading `value` when it is its only use, else -1.
int only_reader(const RunView& rv, int value) {
  if (rv.uses[static_cast<size_t>(value)] != 1) return -1;
  for (size_t k = rv.first; k <= rv.last; ++k) {
    for (int in : rv.g.nodes[k].inputs)
      if (in == value) return static_cast<int>(k);
  }
  return -1;
}

struct Walk {
  const RunView& rv;
  AttentionMatch& m;
  bool scaled = false;

  // Read only inside the pattern.
  bool inner(int v) const {
    return rv.uses[static_cast<size_t>(v)] == 1 && !rv.run_output[static_cast<size_t>(v)];
  }
  // Back from a MatMul operand through at most one last-two-axes Transpose and one scalar scale
  // (the pattern's only one); `transposed` says whether a Transpose was passed.
  int peel(int v, bool& transposed) {
    transposed = false;
    for (int step = 0; step < 2; ++step) {
      const Node* p = rv.producer(v);
      if (!p || !inner(v)) break;
      int x = -1;
      float c = 1.0f;
      if (!transposed && swaps_last_two(rv, *p)) {
        transposed = true;
        x = p->inputs[0];
      } else if (!scaled && scalar_scale(rv, *p, &x, &c)) {
        scaled = true;
        m.scale = c;
      } else {
        break;
      }
      m.nodes.push_back(static_cast<int>(p - rv.g.nodes.data()));
      v = x;
    }
    return v;
  }
};

}  // namespace

std::optional<AttentionMatch> match_attention(const RunView& rv, int softmax, std::string* why) {
  const Graph& g = rv.g;
  const Node& sm = g.nodes[static_cast<size_t>(softmax)];
  if (sm.op_type != "Softmax" || sm.inputs.size() != 1) {
    fail(why, "not a Softmax");
    return std::nullopt;
  }
  AttentionMatch m;
  Walk w{rv, m};
  const Shape ss = rv.shape(sm.inputs[0]);
  const int64_t rank = static_cast<int64_t>(ss.size());
  int64_t axis = sm.attr_int("axis", g.opset >= 13 ? -1 : 1);
  if (axis < 0) axis += rank;
  if (rank < 2 || axis != rank - 1) {
    fail(why, "the Softmax is not over the last axis");
    return std::nullopt;
  }
  m.nodes.push_back(softmax);
  // Q·Kᵀ, maybe scaled after the MatMul.
  int s = sm.inputs[0];
  const Node* mm = rv.producer(s);
  int s0 = -1;
  float c = 1.0f;
  if (mm && w.inner(s) && scalar_scale(rv, *mm, &s0, &c)) {
    w.scaled = true;
    m.scale = c;
    m.nodes.push_back(static_cast<int>(mm - g.nodes.data()));
    s = s0;
    mm = rv.producer(s);
  }
  if (!mm || mm->op_type != "MatMul" || !w.inner(s) || mm->inputs.size() != 2) {
    fail(why, "the Softmax does not read a MatMul (or its scaled output) read only by it");
    return std::nullopt;
  }
  m.nodes.push_back(static_cast<int>(mm - g.nodes.data()));
  bool qt = false, kt = false;
  m.q.value = w.peel(mm->inputs[0], qt);
  m.k.value = w.peel(mm->inputs[1], kt);
  m.q.dim_major = qt;   // A = Qᵀ of q [.., d, n_q]
  m.k.dim_major = !kt;  // B = k [.., d, n_k], or the Transpose of k [.., n_k, d]
  // P·V.
  const int p = sm.outputs[0];
  const int r = w.inner(p) ? only_reader(rv, p) : -1;
  if (r < 0) {
    fail(why, "the Softmax output is read elsewhere too");
    return std::nullopt;
  }
  const Node* pv = &g.nodes[static_cast<size_t>(r)];
  if (swaps_last_two(rv, *pv)) {  // MatMul(v [.., dv, n_k], Pᵀ)
    m.nodes.push_back(r);
    const int pt = pv->outputs[0];
    const int r2 = w.inner(pt) ? only_reader(rv, pt) : -1;
    pv = r2 >= 0 ? &g.nodes[static_cast<size_t>(r2)] : nullptr;
    if (!pv || pv->op_type != "MatMul" || pv->inputs.size() != 2 || pv->inputs[1] != pt) {
      fail(why, "Pᵀ is not the second operand of a MatMul");
      return std::nullopt;
    }
    m.v = {pv->inputs[0], true};
    m.o = {pv->outputs[0], true};
  } else if (pv->op_type == "MatMul" && pv->inputs.size() == 2 && pv->inputs[0] == p) {
    m.v = {pv->inputs[1], false};
    m.o = {pv->outputs[0], false};
  } else {
    fail(why, "P is not read by a MatMul (directly or transposed)");
    return std::nullopt;
  }
  m.output_node = static_cast<int>(pv - g.nodes.data());
  m.nodes.push_back(m.output_node);
  // Shapes: batch axes all equal to S's, token and head dims consistent.
  m.n_q = ss[static_cast<size_t>(rank - 2)];
  m.n_k = ss[static_cast<size_t>(rank - 1)];
  m.z = 1;
  for (int64_t a = 0; a + 2 < rank; ++a) m.z *= ss[static_cast<size_t>(a)];
  auto dims = [&](const AttnInput& in, int64_t tokens, int64_t* d) {
    const Shape& s = rv.shape(in.value);
    if (static_cast<int64_t>(s.size()) != rank) return false;
    for (int64_t a = 0; a + 2 < rank; ++a)
      if (s[static_cast<size_t>(a)] != ss[static_cast<size_t>(a)]) return false;
    const int64_t tok = s[static_cast<size_t>(in.dim_major ? rank - 1 : rank - 2)];
    const int64_t dim = s[static_cast<size_t>(in.dim_major ? rank - 2 : rank - 1)];
    if (tok != tokens || (*d > 0 && dim != *d)) return false;
    *d = dim;
    return true;
  };
  if (!dims(m.q, m.n_q, &m.d_qk) || !dims(m.k, m.n_k, &m.d_qk) || !dims(m.v, m.n_k, &m.d_v) ||
      !dims(m.o, m.n_q, &m.d_v)) {
    fail(why, "q, k, v or the output do not have the attention's shapes (no broadcasting)");
    return std::nullopt;
  }
  if (!attention_dims_supported(m.d_qk, m.d_v) || m.n_q > kMaxAttnTokens ||
      m.n_k > kMaxAttnTokens || m.z > INT_MAX || m.z < 1 || m.n_q < 1 || m.n_k < 1) {
    fail(why, "head dims other than 16/32/64, or too many tokens or problems");
    return std::nullopt;
  }
  if (rank == 4 && m.o.dim_major && w.inner(m.o.value)) {
    const int r3 = only_reader(rv, m.o.value);
    const Node* t = r3 >= 0 ? &g.nodes[static_cast<size_t>(r3)] : nullptr;
    if (t && t->op_type == "Transpose" &&
        t->attr_ints("perm") == std::vector<int64_t>{0, 3, 1, 2}) {
      m.out_transpose = r3;
      m.out_t = t->outputs[0];
      m.heads = ss[1];
    }
  }
  return m;
}

std::vector<AttentionMatch> find_attention(const RunView& rv) {
  std::vector<AttentionMatch> out;
  for (size_t k = rv.first; k <= rv.last; ++k) {
    if (rv.g.nodes[k].op_type != "Softmax") continue;
    if (auto m = match_attention(rv, static_cast<int>(k), nullptr)) out.push_back(std::move(*m));
  }
  return out;
}

}  // namespace fungen::cuda
