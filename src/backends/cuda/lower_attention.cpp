// Scaled dot-product attention (attn_match.h) as one step: attention.cu's kernel reads q, k and v
// and writes the output; the scale, Q·Kᵀ, the Softmax, the transposes and P·V are absorbed, and
// the attention matrix is never written. q and k that are pieces of a Split on their head-dim
// axis (the exports' qkv Split) and read by nothing else are read inside the Split's input, so
// the Split copies only v (read by the positional conv too). FUNGEN_CUDA_ATTN=0: off (the nodes
// one by one); =simt: the fp32-FMA kernel also in fp16 runs; =copy: q and k from the copies.
// The exports' Transpose(0,3,1,2) after the output is absorbed: the output written [B', N, h, d]
// (not with =copy).
#include <atomic>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "backends/cuda/attention.cuh"
#include "backends/cuda/attn_match.h"
#include "backends/cuda/cuda_run.h"
#include "backends/cuda/head_match.h"

namespace fungen::cuda {
namespace {

std::atomic<int> g_fused{0};

// Strides of a plain tensor [.., dim, token] (dim_major) or [.., token, dim].
AttnOperand operand(const AttnInput& in, int64_t tokens, int64_t dims) {
  AttnOperand op;
  op.z_stride = tokens * dims;
  op.tok_stride = in.dim_major ? 1 : dims;
  op.dim_stride = in.dim_major ? tokens : 1;
  return op;
}

// The Split producing `value` and the axis it cuts, when that axis is the operand's head-dim axis.
const Node* split_on_dims(const Graph& g, const AttnInput& in, int64_t* axis) {
  const int p = g.values[static_cast<size_t>(in.value)].producer;
  if (p < 0) return nullptr;
  const Node& split = g.nodes[static_cast<size_t>(p)];
  if (split.op_type != "Split" || split.inputs.empty()) return nullptr;
  const int64_t rank = static_cast<int64_t>(g.values[static_cast<size_t>(in.value)].shape.size());
  const Shape& xs = g.values[static_cast<size_t>(split.inputs[0])].shape;
  if (static_cast<int64_t>(xs.size()) != rank) return nullptr;
  int64_t a = split.attr_int("axis", 0);
  if (a < 0) a += rank;
  if (a != (in.dim_major ? rank - 2 : rank - 1)) return nullptr;
  *axis = a;
  return &split;
}

// Operand `in` read inside its Split's input (split_in_place): the input's buffer, the operand's
// strides there and its offset (elements).
struct InPlace {
  int buf = -1;
  AttnOperand op;
  int64_t offset = 0;
};
Result<InPlace> read_in_split(CudaRun& run, const AttnInput& in, int64_t tokens) {
  int64_t axis = 0;
  const Node* split = split_on_dims(run.graph(), in, &axis);
  if (!split) return internal_error("cuda attention: a piece read in place has no Split");
  const int x = split->inputs[0];
  const int64_t total = run.shape(x)[static_cast<size_t>(axis)];
  int64_t before = 0;  // head-dim rows of the pieces ahead of this one
  for (int id : split->outputs) {
    if (id == in.value) break;
    if (id >= 0) before += run.shape(id)[static_cast<size_t>(axis)];
  }
  InPlace r;
  FUNGEN_ASSIGN_OR_RETURN(r.buf, run.get(x, Layout::kPlain));
  r.op.z_stride = tokens * total;
  r.op.tok_stride = in.dim_major ? 1 : total;
  r.op.dim_stride = in.dim_major ? tokens : 1;
  r.offset = in.dim_major ? before * tokens : before;
  return r;
}

}  // namespace

void plan_attention_inputs(CudaRun& run, const RunView& rv, const AttentionMatch& m) {
  for (const AttnInput* in : {&m.q, &m.k}) {
    const int v = in->value;
    int64_t axis = 0;
    if (rv.uses[static_cast<size_t>(v)] != 1 || rv.run_output[static_cast<size_t>(v)] ||
        !rv.producer(v) || !split_on_dims(rv.g, *in, &axis))
      continue;
    run.plan_split_in_place(v);
  }
}

int attention_fusions_lowered() {
  return g_fused.load();
}

Status lower_attention(CudaRun& run, const AttentionMatch& m) {
  AttnDesc d;
  d.q = operand(m.q, m.n_q, m.d_qk);
  d.k = operand(m.k, m.n_k, m.d_qk);
  d.v = operand(m.v, m.n_k, m.d_v);
  d.o = operand(m.o, m.n_q, m.d_v);
  int64_t q_off = 0, k_off = 0;  // elements
  int qb = -1, kb = -1;
  if (run.split_read_in_place(m.q.value)) {
    FUNGEN_ASSIGN_OR_RETURN(InPlace p, read_in_split(run, m.q, m.n_q));
    qb = p.buf;
    d.q = p.op;
    q_off = p.offset;
  } else {
    FUNGEN_ASSIGN_OR_RETURN(qb, run.get(m.q.value, Layout::kPlain));
  }
  if (run.split_read_in_place(m.k.value)) {
    FUNGEN_ASSIGN_OR_RETURN(InPlace p, read_in_split(run, m.k, m.n_k));
    kb = p.buf;
    d.k = p.op;
    k_off = p.offset;
  } else {
    FUNGEN_ASSIGN_OR_RETURN(kb, run.get(m.k.value, Layout::kPlain));
  }
  FUNGEN_ASSIGN_OR_RETURN(int vb, run.get(m.v.value, Layout::kPlain));
  // The exports' Transpose of the output absorbed (CudaRun::lower): element (b', h, d, token)
  // written at [b', token, h, d].
  const bool o_t = run.ctx().attention != 3 && m.out_transpose >= 0;
  const int ob = run.define(o_t ? m.out_t : m.o.value, Layout::kPlain);
  if (o_t) {
    d.o.z_inner = m.heads;
    d.o.inner_stride = m.d_v;
    d.o.z_stride = m.n_q * m.heads * m.d_v;
    d.o.tok_stride = m.heads * m.d_v;
    d.o.dim_stride = 1;
  }
  d.z = m.z;
  d.n_q = static_cast<int>(m.n_q);
  d.n_k = static_cast<int>(m.n_k);
  d.d_qk = static_cast<int>(m.d_qk);
  d.d_v = static_cast<int>(m.d_v);
  d.scale = m.scale;
  const Elem e = run.elem();
  const bool simt = run.ctx().attention == 2 || e == Elem::kF32;
  const Node& node = run.graph().nodes[static_cast<size_t>(m.output_node)];
  std::string label = node.name + " (attention: Q·Kᵀ, softmax, ·V in one kernel";
  label += simt ? ", fp32 FMAs" : ", tensor cores";
  if (run.split_read_in_place(m.q.value) || run.split_read_in_place(m.k.value))
    label += ", q/k read in the Split's input";
  if (o_t) label += ", written token-major";
  label += ")";
  const size_t esz = elem_size(e);
  const std::string name = node.name;
  std::vector<int> bufs = {qb, vb, ob};
  if (kb != qb) bufs.push_back(kb);  // q and k both inside the Split's input: one buffer
  CudaRun* r = &run;
  run.add_step(label, std::move(bufs), [=](cudaStream_t st) {
    const auto* qp = static_cast<const std::byte*>(r->ptr(qb)) + q_off * static_cast<int64_t>(esz);
    const auto* kp = static_cast<const std::byte*>(r->ptr(kb)) + k_off * static_cast<int64_t>(esz);
    if (!launch_attention(e, d, qp, kp, r->ptr(vb), r->ptr(ob), simt, st))
      return internal_error("cuda attention: shape not launchable (" + name + ")");
    return Status();
  });
  g_fused.fetch_add(1);
  return Status();
}

}  // namespace fungen::cuda
