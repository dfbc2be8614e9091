// MatMul through cuBLAS (strided batched GEMM, fp32 accumulation) on plain tensors: the
// attention products of YOLO11's C2PSA and YOLO12's area attention.
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cuda_run.h"

namespace fungen::cuda {

namespace {

// Batch dims (all but the last two) of `s`, as a product; 1 for a matrix.
int64_t batch_of(const Shape& s) {
  int64_t n = 1;
  for (size_t k = 0; k + 2 < s.size(); ++k) n *= s[k];
  return n;
}

}  // namespace

bool check_matmul(const Node& node, const Graph& graph) {
  const Shape& a = graph.values[static_cast<size_t>(node.inputs[0])].shape;
  const Shape& b = graph.values[static_cast<size_t>(node.inputs[1])].shape;
  const Shape& y = graph.values[static_cast<size_t>(node.outputs[0])].shape;
  if (a.size() < 2 || b.size() < 2) return false;
  int64_t batch = batch_of(y);
  // Each operand is either a single matrix or has the output's batch (no partial broadcast).
  return (batch_of(a) == batch || a.size() == 2) && (batch_of(b) == batch || b.size() == 2);
}

Status lower_matmul(CudaRun& run, const Node& node) {
  const int a = node.inputs[0], b = node.inputs[1], y = node.outputs[0];
  const Shape& as = run.shape(a);
  const Shape& bs = run.shape(b);
  const Shape& ys = run.shape(y);
  const int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  const int64_t batch = batch_of(ys);
  const int64_t stride_a = as.size() == 2 ? 0 : m * k;
  const int64_t stride_b = bs.size() == 2 ? 0 : k * n;
  // An operand that is a deferred last-two-axes transpose (lower_transpose) is read from its
  // source with the transpose op: its row-major source is [k x m] (A) or [n x k] (B).
  const int a_src = run.transposed_from(a), b_src = run.transposed_from(b);
  const cublasOperation_t op_a = a_src >= 0 ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = b_src >= 0 ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int64_t lda = a_src >= 0 ? m : k, ldb = b_src >= 0 ? k : n;
  FUNGEN_ASSIGN_OR_RETURN(int ab, run.get(a_src >= 0 ? a_src : a, Layout::kPlain));
  FUNGEN_ASSIGN_OR_RETURN(int bb, run.get(b_src >= 0 ? b_src : b, Layout::kPlain));
  int yb = run.define(y, Layout::kPlain);
  const cudaDataType_t dt = run.elem() == Elem::kF16 ? CUDA_R_16F : CUDA_R_32F;
  CudaRun* r = &run;
  auto i32 = [](int64_t v) { return static_cast<int>(v); };
  std::string label = node.name + " (cublas gemm";
  if (a_src >= 0) label += ", A transposed";
  if (b_src >= 0) label += ", B transposed";
  run.next_step_uses(StepLibrary::kPerStream);
  run.add_step(label + ")", {ab, bb, yb}, [=](cudaStream_t st) {
    const float one = 1.0f, zero = 0.0f;
    // Row-major Y = A * B is column-major Y^T = B^T * A^T.
    CUBLAS_CHECK(cublasGemmStridedBatchedEx(
        r->cublas_for(st), op_b, op_a, i32(n), i32(m), i32(k), &one, r->ptr(bb), dt, i32(ldb),
        stride_b, r->ptr(ab), dt, i32(lda), stride_a, &zero, r->ptr(yb), dt, i32(n), m * n,
        i32(batch), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    return Status();
  });
  return Status();
}

}  // namespace fungen::cuda
