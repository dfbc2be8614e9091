// YOLO's Detect head tail as one kernel (detect_head.cuh): the DFL softmax-expectation, the box
// decode (folded at plan time into one 4x4 matrix and a per-anchor table, head_match.h), the
// class sigmoid and the output Concat, written straight into the run's fp32 output staging when
// the head's output leaves the run (no cast step after it). CudaRun::lower finds the heads
// before lowering (find_detect_heads), marks their nodes absorbed and calls lower_detect_head at
// the output Concat. FUNGEN_CUDA_HEAD=0 (or FUNGEN_CUDA_DFL=0) lowers them one by one as before.
// By default (NHWC runs) the head's per-level convs write one anchor-major buffer (head_rows.h)
// planned here before they are lowered, read by launch_detect_head_rows; FUNGEN_CUDA_HEAD=nchw:
// they write NCHW into the two Concats (CudaRun::placement_nchw) read by launch_detect_head.
#include <atomic>
#include <climits>
#include <memory>
#include <string>

#include "backends/cuda/copy_rows.cuh"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cuda_run.h"
#include "backends/cuda/detect_head.cuh"
#include "backends/cuda/head_match.h"
#include "backends/cuda/head_rows.h"

namespace fungen::cuda {
namespace {
std::atomic<int> g_heads{0}, g_rows{0}, g_piece_copies{0};
static_assert(kHeadMaxBins == kMaxHeadBins, "the matcher and the kernel agree on the bins");

HeadKernelDesc desc_of(const DetectHead& h) {
  HeadKernelDesc d;
  d.batch = h.batch;
  d.anchors = static_cast<int>(h.anchors);
  d.classes = static_cast<int>(h.classes);
  d.bins = h.bins;
  std::copy(h.dfl_w, h.dfl_w + h.bins, d.w);
  d.bias = h.dfl_bias;
  std::copy(h.m0, h.m0 + 16, d.m0);
  return d;
}
}  // namespace

int head_fusions_lowered() {
  return g_heads.load();
}
int head_rows_lowered() {
  return g_rows.load();
}
int anchor_piece_copies() {
  return g_piece_copies.load();
}

Result<bool> plan_head_rows(CudaRun& run, const RunView& rv, const DetectHead& h, HeadRows& rows,
                            int& buf) {
  std::optional<HeadRows> m = match_head_rows(rv, h, nullptr);
  if (!m) return false;
  HeadKernelDesc d = desc_of(h);
  d.ld = static_cast<int>(m->ld);
  d.cls_offset = static_cast<int>(m->cls_offset);
  if (m->ld > INT32_MAX || !head_rows_supported(run.elem(), d)) return false;
  rows = std::move(*m);
  buf = run.scratch(static_cast<size_t>(rows.batch * rows.batch_ld()) * elem_size(run.elem()));
  for (const HeadRowsPiece& p : rows.pieces) {
    run.plan_anchor_slice(p.value, {.buf = buf,
                                    .offset = p.anchor_offset * rows.ld + p.channel_offset,
                                    .ld = rows.ld,
                                    .batch_ld = rows.batch_ld()});
  }
  for (int k : rows.nodes) run.absorb(k);
  return true;
}

Status lower_detect_head(CudaRun& run, const DetectHead& h, const HeadRows* rows, int rows_buf) {
  HeadKernelDesc d = desc_of(h);
  const int table = run.persistent(h.table.size() * sizeof(float));
  if (!run.ptr(table))
    return out_of_memory("cuda: no device memory left for the detect head's anchor table");
  FUNGEN_RETURN_IF_ERROR(
      run.upload(run.ptr(table), h.table.data(), h.table.size() * sizeof(float)));
  const Elem e = run.elem();
  const size_t esz = elem_size(e);
  CudaRun* r = &run;
  int xb = -1, cb = -1;
  if (rows) {
    d.ld = static_cast<int>(rows->ld);
    d.cls_offset = static_cast<int>(rows->cls_offset);
    xb = rows_buf;
    // A piece its conv did not write there (a lowering without the anchor-major store): copied
    // in, image by image.
    for (const HeadRowsPiece& p : rows->pieces) {
      if (run.anchor_placed(p.value)) continue;
      FUNGEN_ASSIGN_OR_RETURN(int pb, run.get(p.value, Layout::kNhwc));
      g_piece_copies.fetch_add(1);
      const HeadRowsPiece piece = p;
      const int64_t batch = rows->batch, ld = rows->ld, batch_ld = rows->batch_ld();
      run.add_step(
          run.graph().values[static_cast<size_t>(p.value)].name +
              " (copy into the detect head's anchor-major input)",
          {pb, xb}, [=](cudaStream_t st) {
            for (int64_t b = 0; b < batch; ++b) {
              const auto* src = static_cast<const std::byte*>(r->ptr(pb)) +
                                b * piece.pixels * piece.channels * esz;
              auto* dst = static_cast<std::byte*>(r->ptr(xb)) +
                          (b * batch_ld + piece.anchor_offset * ld + piece.channel_offset) * esz;
              launch_copy_rows(e, src, piece.channels, dst, ld, piece.pixels, piece.channels, st);
            }
            CUDA_CHECK(cudaGetLastError());
            return Status();
          });
    }
  } else {
    FUNGEN_ASSIGN_OR_RETURN(xb, run.get(h.box_x, Layout::kPlain));
    FUNGEN_ASSIGN_OR_RETURN(cb, run.get(h.cls_x, Layout::kPlain));
  }
  // Straight into the fp32 staging when y leaves the run and nothing in it reads y.
  int yb = run.direct_output(h.y);
  const bool direct = yb >= 0, f32 = direct || run.elem() == Elem::kF32;
  if (!direct) yb = run.define(h.y, Layout::kPlain);
  const std::string label = run.graph().nodes[static_cast<size_t>(h.output_node)].name +
                            " (detect head" + (rows ? ", anchor-major input" : "") +
                            ": dfl, box decode, sigmoid, concat in one kernel" +
                            (direct ? ", into the fp32 output" : "") + ")";
  run.add_step(label, {xb, cb, table, yb}, [=](cudaStream_t st) {
    const float* tp = static_cast<const float*>(r->ptr(table));
    if (rows_buf >= 0) {
      CUDA_CHECK(launch_detect_head_rows(e, f32, r->ptr(xb), tp, r->ptr(yb), d, st));
    } else {
      CUDA_CHECK(launch_detect_head(e, f32, r->ptr(xb), r->ptr(cb), tp, r->ptr(yb), d, st));
    }
    return Status();
  });
  g_heads.fetch_add(1);
  if (rows) g_rows.fetch_add(1);
  return Status();
}

}  // namespace fungen::cuda
