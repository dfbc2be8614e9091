// cuda_run.h — one run of consecutive graph nodes compiled for the GPU (see runtime/backend.h,
// NodeRun). Activations live in device memory in the run's element type (fp16 or fp32); 4-D
// activations produced by convolutions stay NHWC (channels last, what the tensor cores want)
// until a consumer needs the plain ONNX layout, when one conversion is inserted and reused.
//
// Building (once per input shapes): each node is lowered by one function of lower_*.cpp into
// steps (a closure that launches kernels on the backend's stream); every buffer of the run gets
// its bytes in one device arena planned by lifetime (graph/memory_plan.h); weights are converted
// and uploaded once. Running copies the run's inputs to the device, replays the steps (captured
// as one CUDA graph from the second run on), and copies the outputs back; it allocates nothing.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backends/cuda/elem.h"
#include "backends/cuda/graph_capture.h"
#include "fungen/status.h"
#include "graph/graph.h"
#include "ops/op.h"
#include "runtime/backend.h"
#include "runtime/device_run.h"

namespace fungen::cuda {

enum class Layout { kPlain, kNhwc };

// What all runs of one backend share: the device, its stream and library handles.
struct CudaContext {
  int device = 0;
  cudaStream_t stream = nullptr;
  cudnnHandle_t cudnn = nullptr;
  cublasHandle_t cublas = nullptr;
  Elem elem = Elem::kF16;
  bool nhwc = true;      // keep conv activations channels-last
  bool fuse_dfl = true;  // YOLO's DFL head as one kernel (lower_dfl; FUNGEN_CUDA_DFL=0: off)
  // YOLO's Detect head tail as one kernel (lower_head.cpp): FUNGEN_CUDA_HEAD=0 or
  // FUNGEN_CUDA_DFL=0 off, FUNGEN_CUDA_HEAD=place: only place_nchw.
  bool fuse_head = true;
  // Convs read by Reshape -> Concat on the last axis (the head's per-level pieces) write their
  // NCHW output straight into the concat output (placement_nchw); FUNGEN_CUDA_HEAD=0: off.
  bool place_nchw = true;
  bool graphs = true;    // capture the run as a CUDA graph (FUNGEN_CUDA_GRAPHS=0 turns it off)
  bool profile = false;  // FUNGEN_CUDA_PROFILE=1: time each step, print a ranked table at exit
  // FUNGEN_CUDA_POISON=1: fill the activation arena with NaN (all-ones bytes, NaN in fp16 and
  // fp32) when it is allocated and before every run, so a read of bytes no step of this run wrote
  // shows as NaN in the outputs. =2 also runs eagerly and, after every step, names the arena
  // buffers the step used that hold non-finite values (to stderr): where the NaN first appears.
  int poison = 0;
  size_t max_workspace = size_t{256} << 20;  // per convolution (cuDNN algorithm search limit)
  TuningCache* tuning = nullptr;             // algorithm choices of earlier builds (conv_tuning.h)
};

// Device memory: cudaMalloc'd, freed by the last owner, counted in device_bytes_in_use().
std::shared_ptr<void> device_alloc(size_t bytes);
size_t device_bytes_in_use();
size_t device_bytes_peak();

// Host -> device copy of `bytes` on `stream`, waited for. Never a plain cudaMemcpy before work on
// the backend's stream: from pageable memory it may return before its DMA has landed, and it runs
// on the legacy default stream, which a non-blocking stream does not wait for, so a kernel
// launched next on the stream could read the old bytes (a weight permute reading half-copied
// staging). `what` names the bytes in the out-of-memory error when dst is null.
Status upload_and_wait(void* dst, const void* src, size_t bytes, cudaStream_t stream,
                       const char* what);

// Timings of the last CudaRun::run (device events): compute excludes the host<->device copies.
struct RunStats {
  float compute_ms = 0, total_ms = 0;
  bool graph = false;  // the compute part was a CUDA graph replay
};
const RunStats& last_run_stats();

class CudaRun final : public NodeKernel, public DeviceRun {
 public:
  static Result<std::unique_ptr<CudaRun>> build(const Graph& graph, const NodeRun& run,
                                                CudaContext& ctx);
  ~CudaRun() override;
  Status run(KernelContext& ctx) override;

  // --- DeviceRun (runtime/device_run.h): inputs written and outputs read on the device ---
  // Input i in the run's element type, plain layout (the cast from fp32 staging is skipped).
  DeviceBuffer device_input(size_t i) const override;
  DeviceBuffer device_output(size_t i) const override;  // fp32 plain staging
  void* device_stream() const override { return ctx_.stream; }
  Status enqueue() override { return run_steps(input_steps_); }

  // --- for the lower_*.cpp functions ---
  const Graph& graph() const { return graph_; }
  CudaContext& ctx() { return ctx_; }
  Elem elem() const { return ctx_.elem; }
  const Shape& shape(int value) const { return graph_.values[static_cast<size_t>(value)].shape; }
  bool is_constant(int value) const {
    return graph_.values[static_cast<size_t>(value)].is_constant();
  }
  const Tensor& constant(int value) const {
    return *graph_.values[static_cast<size_t>(value)].constant;
  }
  // The layout `value` was produced in (constants: plain).
  Layout produced_layout(int value) const;
  // A buffer holding `value` in layout `want` (NHWC only for 4-D values): converts (once) when
  // it was produced otherwise; uploads a constant on first use.
  Result<int> get(int value, Layout want);
  // A new arena buffer in which `value` is produced in `layout`.
  int define(int value, Layout layout);
  // `value` shares the bytes of plain buffer `buf` (Reshape and friends).
  void define_alias(int value, int buf);
  // Whether a buffer holds `value` already (a Concat output defined early by placement()).
  bool is_defined(int value) const { return !variants_[static_cast<size_t>(value)].empty(); }
  // Zero-copy Concat: a value whose only reader is an NHWC Concat (on channels) of this run and
  // whose producer is a convolution may be written by that producer straight into its channel
  // slice of the concat output. placement(v) gives the slice (defining the concat output, NHWC,
  // on first use) and marks v as placed, so the Concat copies nothing for it; buf -1 when v is
  // not a candidate. placed(v): placement(v) handed out a slice.
  struct Slice {
    int buf = -1;
    int64_t offset = 0, ld = 0;  // elements: channel offset in a row, row length
  };
  Slice placement(int value);
  // What placement(value) would hand out, without defining or marking anything (a producer that
  // can write only some slices asks first): ok false when it would give none.
  struct SliceShape {
    bool ok = false;
    int64_t offset = 0, ld = 0;
  };
  SliceShape placement_shape(int value) const;
  // The same for NCHW outputs: a convolution's output [B, C, H, W] read only by a Reshape to
  // [B, C, H*W] that only a Concat on the last axis reads (YOLO's head levels) may be written
  // into the concat output [B, Ctot, Atot] at `offset` (elements), channel c of image b at
  // offset + b * batch_ld + c * ch_ld (defining the concat output, plain, on first use); the
  // Reshape then marks its output placed too. buf -1 when not a candidate.
  struct NchwSlice {
    int buf = -1;
    int64_t offset = 0, ch_ld = 0, batch_ld = 0;
  };
  NchwSlice placement_nchw(int value);
  bool placed(int value) const { return placed_into_[static_cast<size_t>(value)] >= 0; }
  // The Concat output a placed value was written into (-1: not placed). A Concat skips only
  // its own placed pieces: another Concat reading the same value copies it.
  int placed_into(int value) const { return placed_into_[static_cast<size_t>(value)]; }
  // The slice a placed value was written into (buf -1 when not placed).
  Slice slice_of(int value) const;
  // Split of a placed value: its outputs lie in that concat already; that Concat skips them.
  void mark_placed(int value, int concat) { placed_into_[static_cast<size_t>(value)] = concat; }
  // Node inputs and graph outputs that read `value` (whole graph).
  int uses(int value) const { return uses_[static_cast<size_t>(value)]; }
  // The node of this run that reads `value` when it is its only use (index into graph().nodes),
  // else -1.
  int only_reader(int value) const;
  // A node lowered as part of an earlier one (a fused pattern): the loop skips it.
  void absorb(int node) { absorbed_[static_cast<size_t>(node)] = 1; }
  // A buffer that lives as long as the run (weights, bias), allocated now.
  int persistent(size_t bytes);
  // Weights or constants to the device on the run's stream, waited for (upload_and_wait).
  Status upload(void* dst, const void* src, size_t bytes) {
    return upload_and_wait(dst, src, bytes, ctx_.stream, "weights");
  }
  // An arena buffer of the run holding no value (a step's intermediate), planned like the rest.
  int scratch(size_t bytes) { return new_buf(bytes); }
  // The device address of a buffer: at once for persistent ones, after finalize for the rest.
  void* ptr(int buf) const { return bufs_[static_cast<size_t>(buf)].ptr; }
  // The fp32 output staging of `value` when it is an output of this run that no node of the run
  // reads: a step may write it there directly (the run's output cast is then skipped); -1 else.
  int direct_output(int value);
  // Adds a step; `bufs` are the buffers it reads or writes (they live at least until it runs).
  using StepFn = std::function<Status(cudaStream_t)>;
  void add_step(std::string label, std::vector<int> bufs, StepFn fn);
  // cuDNN workspace shared by the run's convolutions.
  void need_workspace(size_t bytes) { workspace_bytes_ = std::max(workspace_bytes_, bytes); }
  void* workspace() const { return workspace_.get(); }
  size_t workspace_bytes() const { return workspace_bytes_; }

 private:
  struct Buf {
    size_t bytes = 0;
    int first = -1, last = -1;  // step lifetime; -1: never used
    bool persistent = false;
    std::shared_ptr<void> owned;
    void* ptr = nullptr;
  };
  struct Held {
    int buf = -1;
    Layout layout = Layout::kPlain;
  };
  struct Step {
    std::string label;
    StepFn fn;
    std::vector<int> bufs;  // what add_step was given (FUNGEN_CUDA_POISON=2 inspects them)
  };

  CudaRun(const Graph& graph, CudaContext& ctx) : graph_(graph), ctx_(ctx) {}
  Status lower(const NodeRun& run);
  Status finalize();
  Status run_steps(size_t first = 0);
  Status poison_arena(cudaStream_t st);
  Status report_non_finite(size_t step);
  int new_buf(size_t bytes);
  void touch(int buf);
  size_t value_bytes(int value) const;

  const Graph& graph_;
  CudaContext& ctx_;
  std::vector<Buf> bufs_;
  std::vector<std::vector<Held>> variants_;  // value -> buffers holding it (first: as produced)
  struct Candidate {
    int concat = -1;  // the Concat's output value
    int64_t offset = 0;
    bool nchw = false;  // placement_nchw's kind (a Reshape between the conv and the Concat)
  };
  std::vector<Candidate> candidates_;  // value -> slice it may be written into (placement())
  std::vector<int> placed_into_;       // value -> the Concat output it was written into, or -1
  std::vector<int> uses_;
  std::vector<char> absorbed_;             // node -> lowered by an earlier node's lowering
  size_t first_node_ = 0, last_node_ = 0;  // this run's nodes
  void find_placements(const NodeRun& run);
  void find_nchw_placements(const NodeRun& run, const std::vector<bool>& run_output);
  std::vector<int> direct_staging_;  // value -> output staging written by a step, or -1
  std::vector<int> run_outputs_;
  std::vector<Step> steps_;
  std::vector<int> input_staging_, output_staging_;  // fp32 plain, one per run input/output
  std::vector<int> input_values_, output_values_;    // the run's boundary values
  std::vector<int> input_bufs_;  // per input: the buffer holding it in the run's element type
  size_t input_steps_ = 0;       // the first steps: input casts, skipped by enqueue()
  std::shared_ptr<void> arena_, workspace_;
  size_t arena_bytes_ = 0;
  int poison_reports_ = 0;         // FUNGEN_CUDA_POISON=2: lines printed so far
  std::vector<char> poison_seen_;  // per buffer: reported in this run already
  size_t workspace_bytes_ = 0;
  cudaGraphExec_t graph_exec_ = nullptr;
  CaptureRetry capture_;
  int runs_ = 0;
  cudaEvent_t events_[4] = {};  // start, inputs copied, computed, outputs copied
  // FUNGEN_CUDA_PROFILE: one event per step boundary, summed step times over the timed runs.
  std::vector<cudaEvent_t> step_events_;
  std::vector<double> step_ms_;
  int profiled_runs_ = 0;
  void print_profile() const;
};

// Element strides of `s` in the plain (row-major) layout.
inline std::vector<int64_t> plain_strides(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (int k = static_cast<int>(s.size()) - 2; k >= 0; --k) st[k] = st[k + 1] * s[k + 1];
  return st;
}

// Lowering of one node into steps; kUnsupported when it cannot be lowered.
using LowerFn = Status (*)(CudaRun& run, const Node& node);
// Can the node be lowered (attributes and shapes the kernels handle)? Checked by supports().
using CheckFn = bool (*)(const Node& node, const Graph& graph);

Status lower_conv(CudaRun& run, const Node& node);
Status lower_matmul(CudaRun& run, const Node& node);
Status lower_unary(CudaRun& run, const Node& node);
Status lower_binary(CudaRun& run, const Node& node);
Status lower_concat(CudaRun& run, const Node& node);
Status lower_split(CudaRun& run, const Node& node);
Status lower_slice(CudaRun& run, const Node& node);
Status lower_maxpool(CudaRun& run, const Node& node);
Status lower_resize(CudaRun& run, const Node& node);
Status lower_view(CudaRun& run, const Node& node);
// Is `value` read only by plain-layout views (Reshape, Flatten), and at least once? A convolution
// whose output is writes it NCHW directly, saving the layout pass.
bool read_by_views_only(const Graph& g, int value);
Status lower_transpose(CudaRun& run, const Node& node);
// YOLO's DFL (Transpose -> Softmax -> expectation Conv) as one kernel when `transpose` starts one:
// true when lowered (the Softmax and the Conv are absorbed), false to lower it as a Transpose.
Result<bool> lower_dfl(CudaRun& run, const Node& transpose);
int dfl_fusions_lowered();  // how many DFL heads were lowered so, in this process (tests)
struct DetectHead;          // head_match.h
Status lower_detect_head(CudaRun& run, const DetectHead& head);  // lower_head.cpp
int head_fusions_lowered();  // detect heads lowered as one kernel, in this process (tests)
int nchw_placements();       // conv outputs written NCHW into a Concat, in this process (tests)
Status lower_softmax(CudaRun& run, const Node& node);

bool check_conv(const Node& node, const Graph& graph);
bool check_matmul(const Node& node, const Graph& graph);
bool check_any(const Node& node, const Graph& graph);
bool check_binary(const Node& node, const Graph& graph);
bool check_slice(const Node& node, const Graph& graph);
bool check_maxpool(const Node& node, const Graph& graph);
bool check_resize(const Node& node, const Graph& graph);
bool check_softmax(const Node& node, const Graph& graph);

}  // namespace fungen::cuda
