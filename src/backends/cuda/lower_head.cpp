// YOLO's Detect head tail as one kernel (detect_head.cuh): the DFL softmax-expectation, the box
// decode (folded at plan time into one 4x4 matrix and a per-anchor table, head_match.h), the
// class sigmoid and the output Concat, written straight into the run's fp32 output staging when
// the head's output leaves the run (no cast step after it). CudaRun::lower finds the heads
// before lowering (find_detect_heads), marks their nodes absorbed and calls lower_detect_head at
// the output Concat. FUNGEN_CUDA_HEAD=0 (or FUNGEN_CUDA_DFL=0) lowers them one by one as before.
#include <atomic>
#include <memory>
#include <string>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cuda_run.h"
#include "backends/cuda/detect_head.cuh"
#include "backends/cuda/head_match.h"

namespace fungen::cuda {
namespace {
std::atomic<int> g_heads{0};
static_assert(kHeadMaxBins == kMaxHeadBins, "the matcher and the kernel agree on the bins");
}  // namespace

int head_fusions_lowered() {
  return g_heads.load();
}

Status lower_detect_head(CudaRun& run, const DetectHead& h) {
  HeadKernelDesc d;
  d.batch = h.batch;
  d.anchors = static_cast<int>(h.anchors);
  d.classes = static_cast<int>(h.classes);
  d.bins = h.bins;
  std::copy(h.dfl_w, h.dfl_w + h.bins, d.w);
  d.bias = h.dfl_bias;
  std::copy(h.m0, h.m0 + 16, d.m0);
  const int table = run.persistent(h.table.size() * sizeof(float));
  if (!run.ptr(table))
    return out_of_memory("cuda: no device memory left for the detect head's anchor table");
  FUNGEN_RETURN_IF_ERROR(
      run.upload(run.ptr(table), h.table.data(), h.table.size() * sizeof(float)));
  FUNGEN_ASSIGN_OR_RETURN(int xb, run.get(h.box_x, Layout::kPlain));
  FUNGEN_ASSIGN_OR_RETURN(int cb, run.get(h.cls_x, Layout::kPlain));
  // Straight into the fp32 staging when y leaves the run and nothing in it reads y.
  int yb = run.direct_output(h.y);
  const bool direct = yb >= 0, f32 = direct || run.elem() == Elem::kF32;
  if (!direct) yb = run.define(h.y, Layout::kPlain);
  const Elem e = run.elem();
  CudaRun* r = &run;
  const std::string label = run.graph().nodes[static_cast<size_t>(h.output_node)].name +
                            " (detect head: dfl, box decode, sigmoid, concat in one kernel" +
                            (direct ? ", into the fp32 output" : "") + ")";
  run.add_step(label, {xb, cb, table, yb}, [=](cudaStream_t st) {
    CUDA_CHECK(launch_detect_head(e, f32, r->ptr(xb), r->ptr(cb),
                                  static_cast<const float*>(r->ptr(table)), r->ptr(yb), d, st));
    return Status();
  });
  g_heads.fetch_add(1);
  return Status();
}

}  // namespace fungen::cuda
