// Scaled dot-product attention (attn_match.h) as one step: attention.cu's kernel reads q, k and v
// and writes the output; the scale, Q·Kᵀ, the Softmax, the transposes and P·V are absorbed, and
// the attention matrix is never written. FUNGEN_CUDA_ATTN=0: off (the nodes one by one);
// =simt: the fp32-FMA kernel also in fp16 runs.
#include <atomic>

#include "backends/cuda/attention.cuh"
#include "backends/cuda/attn_match.h"
#include "backends/cuda/cuda_run.h"

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

}  // namespace

int attention_fusions_lowered() {
  return g_fused.load();
}

Status lower_attention(CudaRun& run, const AttentionMatch& m) {
  FUNGEN_ASSIGN_OR_RETURN(int qb, run.get(m.q.value, Layout::kPlain));
  FUNGEN_ASSIGN_OR_RETURN(int kb, run.get(m.k.value, Layout::kPlain));
  FUNGEN_ASSIGN_OR_RETURN(int vb, run.get(m.v.value, Layout::kPlain));
  const int ob = run.define(m.o.value, Layout::kPlain);
  AttnDesc d;
  d.z = m.z;
  d.n_q = static_cast<int>(m.n_q);
  d.n_k = static_cast<int>(m.n_k);
  d.d_qk = static_cast<int>(m.d_qk);
  d.d_v = static_cast<int>(m.d_v);
  d.scale = m.scale;
  d.q = operand(m.q, m.n_q, m.d_qk);
  d.k = operand(m.k, m.n_k, m.d_qk);
  d.v = operand(m.v, m.n_k, m.d_v);
  d.o = operand(m.o, m.n_q, m.d_v);
  const Elem e = run.elem();
  const bool simt = run.ctx().attention == 2 || e == Elem::kF32;
  const Node& node = run.graph().nodes[static_cast<size_t>(m.output_node)];
  std::string label = node.name + " (attention: Q·Kᵀ, softmax, ·V in one kernel";
  label += simt ? ", fp32 FMAs)" : ", tensor cores)";
  CudaRun* r = &run;
  run.add_step(label, {qb, kb, vb, ob}, [=](cudaStream_t st) {
    if (!launch_attention(e, d, r->ptr(qb), r->ptr(kb), r->ptr(vb), r->ptr(ob), simt, st))
      return internal_error("cuda attention: shape not launchable (" + node.name + ")");
    return Status();
  });
  g_fused.fetch_add(1);
  return Status();
}

}  // namespace fungen::cuda
