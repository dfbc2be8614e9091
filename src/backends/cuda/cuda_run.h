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
enum class StepLibrary { kNone, kContext, kPerStream };  // CudaRun::next_step_uses

// What all runs of one backend share: the device, its stream and library handles.
struct CudaContext {
  int device = 0;
  cudaStream_t stream = nullptr;
  cudnnHandle_t cudnn = nullptr;
  cublasHandle_t cublas = nullptr;
  Elem elem = Elem::kF16;
  bool nhwc = true;      // keep conv activations channels-last
  bool fuse_dfl = true;  // YOLO's DFL head as one kernel (lower_dfl; FUNGEN_CUDA_DFL=0: off)
  // A Transpose of the last two axes read only by a MatMul becomes cuBLAS's transpose op
  // (lower_transpose, lower_matmul; FUNGEN_CUDA_FOLD_TRANSPOSE=0: off).
  bool fold_transpose = true;
  // YOLO's Detect head tail as one kernel (lower_head.cpp): FUNGEN_CUDA_HEAD=0 or
  // FUNGEN_CUDA_DFL=0 off, FUNGEN_CUDA_HEAD=place: only place_nchw.
  bool fuse_head = true;
  // The fused head's per-level convs write one anchor-major buffer [B, anchors, 4 * bins + nc]
  // (NHWC rows, head_rows.h) that the head kernel reads with 16-byte loads (NHWC runs only);
  // FUNGEN_CUDA_HEAD=nchw: they write NCHW into the two Concats as before (place_nchw).
  bool head_rows = true;
  // Convs read by Reshape -> Concat on the last axis (the head's per-level pieces) write their
  // NCHW output straight into the concat output (placement_nchw); FUNGEN_CUDA_HEAD=0: off.
  bool place_nchw = true;
  // A channel Concat of 2x nearest Resizes and other values read only by a 1x1 convolution is
  // never materialized: the igemm / persistent 1x1 kernel reads the pieces, upsampling on the fly
  // (lower_upfuse.cpp). FUNGEN_CUDA_UPFUSE: 2 (unset, auto) where it measures faster than
  // Resize + Concat + the best kernel on the materialized input, 1 wherever it applies, 0 off.
  int upfuse = 2;
  // Scaled dot-product attention (attn_match.h) as one kernel that never writes the attention
  // matrix (lower_attention.cpp): 1 tensor cores in fp16 runs, 2 (FUNGEN_CUDA_ATTN=simt) fp32
  // FMAs also in fp16, 3 (FUNGEN_CUDA_ATTN=copy) as 1 but q and k read from the Split's copies
  // instead of inside its input, 0 (FUNGEN_CUDA_ATTN=0) off. fp32 runs use the fp32 kernel.
  int attention = 1;
  bool graphs = true;    // capture the run as a CUDA graph (FUNGEN_CUDA_GRAPHS=0 turns it off)
  bool profile = false;  // FUNGEN_CUDA_PROFILE=1: time each step, print a ranked table at exit
  // Streams a captured run spreads its steps over (cuda_lanes.cpp; FUNGEN_CUDA_LANES, 1: one).
  int lanes = 4;
  // FUNGEN_CUDA_POISON=1: fill the activation arena with NaN (all-ones bytes, NaN in fp16 and
  // fp32) when it is allocated and before every run, so a read of bytes no step of this run wrote
  // shows as NaN in the outputs. =2 also runs eagerly and, after every step, names the arena
  // buffers the step used that hold non-finite values (to stderr): where the NaN first appears.
  int poison = 0;
  size_t max_workspace = size_t{256} << 20;  // per convolution (cuDNN algorithm search limit)
  TuningCache* tuning = nullptr;             // algorithm choices of earlier builds (conv_tuning.h)
};

// Steps a buffer's arena bytes are kept past its last use when a captured run uses several
// streams (cuda_lanes.cpp).
inline constexpr int kLaneLifetimePad = 8;
inline constexpr size_t kLanePadMaxBytes = size_t{4} << 20;  // buffers up to this size only
// A captured run whose buffers add up to no more than this reuses no arena bytes at all.
inline constexpr size_t kLaneNoReuseBytes = size_t{256} << 20;

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
// Input casts skipped because every use read the fp32 staging (CudaRun::input_staging), since
// the process started (tests).
int input_casts_skipped();
// Values written into a Concat slice besides their own buffer (CudaRun::dual_placement), and
// pieces a Concat copied, since the process started (tests).
int dual_stores_lowered();
int concat_copies_lowered();
void count_concat_copy();

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
  Status enqueue() override { return run_steps(false); }

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
  // Dual store: a value read by an NHWC Concat (once) and by other nodes, produced by a
  // convolution or a MaxPool, is written by its producer twice in one pass: its own packed
  // buffer (define(), read by the others) and its slice of the concat output, which then copies
  // nothing for it. placement() gives no slice for such a value (a producer that writes only the
  // slice would leave the others nothing to read); dual_placement(v) gives it and marks v placed;
  // dual_placement_shape(v) asks first. FUNGEN_CUDA_DUAL=0: no dual slices and no MaxPool written
  // into its slice (the Concat copies, as before).
  Slice dual_placement(int value);
  SliceShape dual_placement_shape(int value) const;
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
  // Anchor-major head input (head_rows.h, lower_head.cpp): the head's per-level convs write NHWC
  // rows into one buffer, element (b, pixel p, channel c) of the conv's output at
  // offset + b * batch_ld + p * ld + c. plan_anchor_slice (when the head is planned, before the
  // convs are lowered) records the slice of `value` and drops any other placement of it;
  // anchor_slice_shape asks (buf -1: none), anchor_placement hands it out and marks it taken
  // (a producer that writes it elsewhere leaves it to lower_detect_head's copy).
  struct AnchorSlice {
    int buf = -1;
    int64_t offset = 0, ld = 0, batch_ld = 0;
  };
  void plan_anchor_slice(int value, AnchorSlice s);
  AnchorSlice anchor_slice_shape(int value) const;
  AnchorSlice anchor_placement(int value);
  bool anchor_placed(int value) const { return anchor_taken_[static_cast<size_t>(value)] != 0; }
  // The step writing `value` (batch x pixels x channels) into its anchor slice `s` touches only
  // the bytes from its first to its last element (narrow_last_step).
  void narrow_to_anchor_slice(const AnchorSlice& s, int64_t batch, int64_t pixels,
                              int64_t channels) {
    const int64_t end = (batch - 1) * s.batch_ld + s.offset + (pixels - 1) * s.ld + channels;
    const size_t esz = elem_size(elem());
    narrow_last_step(s.buf, static_cast<size_t>(s.offset) * esz,
                     static_cast<size_t>(end - s.offset) * esz);
  }
  bool placed(int value) const { return placed_into_[static_cast<size_t>(value)] >= 0; }
  // The Concat output a placed value was written into (-1: not placed). A Concat skips only
  // its own placed pieces: another Concat reading the same value copies it.
  int placed_into(int value) const { return placed_into_[static_cast<size_t>(value)]; }
  // The slice a placed value was written into (buf -1 when not placed).
  Slice slice_of(int value) const;
  // Split of a placed value: its outputs lie in that concat already; that Concat skips them.
  void mark_placed(int value, int concat) { placed_into_[static_cast<size_t>(value)] = concat; }
  // Strided input: a Split piece lying in a Concat slice (the Split of a placed value) is not
  // copied out by the Split. define_view records where it lies; a consumer that reads NHWC rows
  // with a stride (the igemm kernel) asks view_of and reads it there; get() makes the packed
  // copy (a step labelled `copy_label`) the first time another consumer asks for the value.
  // view_of: buf -1 when `value` has no view or its packed copy exists already.
  void define_view(int value, Slice slice, std::string copy_label);
  Slice view_of(int value) const;
  // Node inputs and graph outputs that read `value` (whole graph).
  int uses(int value) const { return uses_[static_cast<size_t>(value)]; }
  // The node of this run that reads `value` when it is its only use (index into graph().nodes),
  // else -1.
  int only_reader(int value) const;
  // `value` is the last-two-axes transpose of `source`, not computed: its only reader (a MatMul)
  // reads `source` transposed. transposed_from(value): the source, or -1.
  void defer_transpose(int value, int source) {
    transposed_from_[static_cast<size_t>(value)] = source;
  }
  int transposed_from(int value) const { return transposed_from_[static_cast<size_t>(value)]; }
  // Split outputs read only by a fused attention (lower_attention.cpp), which reads them inside
  // the Split's input: planned before lowering (plan_split_in_place); lower_split's plain path
  // then neither defines nor copies such an output and marks it (split_in_place), so the
  // attention reads the input; any other path of lower_split produces it as usual.
  void plan_split_in_place(int value) { split_in_place_[static_cast<size_t>(value)] = 1; }
  bool split_in_place_planned(int value) const {
    return split_in_place_[static_cast<size_t>(value)] == 1;
  }
  void split_in_place(int value) { split_in_place_[static_cast<size_t>(value)] = 2; }
  bool split_read_in_place(int value) const {
    return split_in_place_[static_cast<size_t>(value)] == 2;
  }
  // Reading a model input in fp32 (fp16 runs): run() copies each input into an fp32 staging
  // buffer and casts it to fp16 (the "cast input" step, which enqueue() skips: its caller writes
  // the fp16 input itself). A step that can read either asks input_staging(value) (-1 when value
  // is not an input of this fp16 run) and calls read_from_staging(value); at launch it reads the
  // staging buffer when from_staging() (run()) and the fp16 buffer otherwise (enqueue()). When
  // every use of the input is such a read, the cast step is skipped.
  int input_staging(int value) const;
  void read_from_staging(int value) { ++staging_reads_[static_cast<size_t>(value)]; }
  bool from_staging() const { return from_staging_; }
  // Upsampled Concat read by its consumer (lower_upfuse.cpp): a channel Concat (NHWC, fp16) whose
  // pieces are values or 2x nearest Resizes of values (read only there), read only by one 1x1
  // stride-1 convolution, decided at the start of lowering (measured, FUNGEN_CUDA_UPFUSE). The
  // Concat and its Resizes then lower to nothing; the convolution (lower_conv_igemm) reads the
  // pieces' sources (IgemmPieces). upfuse_of(v): the pattern whose Concat output or Resize
  // output v is, else null. get() of such a value materializes it (a fallback no path takes).
  struct UpfusePiece {
    int value = -1;   // the Concat input
    int source = -1;  // value itself, or the Resize's input
    int shift = 0;    // 1: upsampled 2x (value = Resize(source))
    int64_t c0 = 0, channels = 0;
  };
  struct Upfuse {
    int concat = -1;  // the Concat's output value
    int conv_node = -1;
    std::vector<UpfusePiece> pieces;
    bool persist = false;  // the persistent 1x1 kernel, else igemm
    int tile_m = 0, tile_n = 0;
    std::string note;  // for the convolution's step label
  };
  const Upfuse* upfuse_of(int value) const {
    const int i = upfuse_at_.empty() ? -1 : upfuse_at_[static_cast<size_t>(value)];
    return i >= 0 ? &upfuse_[static_cast<size_t>(i)] : nullptr;
  }
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
  // The last step touches only bytes [offset, offset + bytes) of `buf` (one of its buffers): the
  // multi-stream capture (cuda_lanes.cpp) orders it only after steps touching those (the head's
  // convs writing rows of one anchor-major buffer, head_rows.h, at batch 1 one range per level).
  void narrow_last_step(int buf, size_t offset, size_t bytes);
  // The next step calls cuDNN or cuBLAS (cuda_lanes.cpp): through the context's handles, bound
  // to its stream (kContext: a multi-stream capture keeps the step there), or through
  // cudnn_for/cublas_for/workspace_for of the stream it is given (kPerStream).
  void next_step_uses(StepLibrary lib) { next_library_ = lib; }
  cudnnHandle_t cudnn_for(cudaStream_t st) const;
  cublasHandle_t cublas_for(cudaStream_t st) const;
  void* workspace_for(cudaStream_t st) const;
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
    StepLibrary library = StepLibrary::kNone;  // next_step_uses
    struct Range {
      int buf = -1;
      size_t offset = 0, bytes = 0;
    };
    std::vector<Range> narrowed;  // narrow_last_step
  };
  // Multi-stream capture (cuda_lanes.cpp): each step's lane (0: the context's stream) and the
  // steps of other lanes it waits for; `record`: a later step of another lane waits for it.
  struct LaneStep {
    int lane = 0;
    std::vector<int> waits;
    bool record = false;
  };

  CudaRun(const Graph& graph, CudaContext& ctx) : graph_(graph), ctx_(ctx) {}
  Status lower(const NodeRun& run);
  Status finalize();
  // All steps (run(): the inputs are in their fp32 staging buffers) or all but the input casts
  // (enqueue(): the caller wrote them in the run's type).
  Status run_steps(bool from_staging);
  Status plan_lanes();
  Status run_lanes(size_t first);
  void destroy_lanes();
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
    bool dual = false;  // read elsewhere too: the producer writes both (dual_placement)
    bool nchw = false;  // placement_nchw's kind (a Reshape between the conv and the Concat)
  };
  Slice take_slice(int value, bool dual);
  SliceShape slice_shape(int value, bool dual) const;
  std::vector<Candidate> candidates_;       // value -> slice it may be written into (placement())
  std::vector<AnchorSlice> anchor_slices_;  // value -> its anchor-major head input slice
  std::vector<char> anchor_taken_;          // value -> anchor_placement handed it out
  std::vector<int> placed_into_;            // value -> the Concat output it was written into, or -1
  struct View {
    Slice slice;
    std::string copy_label;
  };
  std::vector<View> views_;     // value -> the Concat slice it lies in (define_view), buf -1: none
  Status copy_view(int value);  // get(): the packed NHWC copy of a view
  std::vector<int> uses_;
  std::vector<char> absorbed_;             // node -> lowered by an earlier node's lowering
  std::vector<int> transposed_from_;       // value -> its deferred transpose's source, or -1
  std::vector<char> split_in_place_;       // value -> 1 planned, 2 read in the Split's input
  size_t first_node_ = 0, last_node_ = 0;  // this run's nodes
  void find_placements(const NodeRun& run);
  std::vector<int> upfuse_at_;  // value -> index into upfuse_, or -1
  std::vector<Upfuse> upfuse_;
  Status find_upfuse(const NodeRun& run);  // lower_upfuse.cpp
  Status materialize_upfuse(int value);    // get() of a value upfuse_of names
  void find_nchw_placements(const NodeRun& run, const std::vector<bool>& run_output);
  std::vector<int> direct_staging_;  // value -> output staging written by a step, or -1
  std::vector<int> run_outputs_;
  std::vector<Step> steps_;
  StepLibrary next_library_ = StepLibrary::kNone;
  // Per lane l >= 1: cuDNN and cuBLAS handles bound to lanes_[l], a workspace of
  // workspace_bytes_ (none when the run needs a large one: kPerStream steps then stay on lane 0).
  std::vector<cudnnHandle_t> lane_cudnn_;
  std::vector<cublasHandle_t> lane_cublas_;
  std::vector<std::shared_ptr<void>> lane_workspace_;
  std::vector<LaneStep> lane_steps_;    // empty: one stream
  std::vector<cudaStream_t> lanes_;     // [0] null (the context's stream), then owned streams
  std::vector<cudaEvent_t> step_done_;  // per step with `record`, else null
  std::vector<cudaEvent_t> lane_done_;  // per lane: its last step (joined back at the end)
  cudaEvent_t fork_ = nullptr;
  std::vector<int> input_staging_, output_staging_;  // fp32 plain, one per run input/output
  std::vector<int> input_values_, output_values_;    // the run's boundary values
  std::vector<int> input_bufs_;     // per input: the buffer holding it in the run's element type
  size_t input_steps_ = 0;          // the first steps: input casts, skipped by enqueue()
  std::vector<int> staging_reads_;  // value -> reads served from its fp32 staging in run()
  std::vector<char> cast_skipped_;  // per input: its cast step does nothing (all reads staged)
  bool from_staging_ = true;        // while steps launch: from run() (true) or enqueue()
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

// Convolutions lowered reading an upsampled Concat's pieces, and such Concats materialized by
// get() after all, since the process started (tests; lower_upfuse.cpp).
int upfuse_reads_lowered();
void count_upfuse_read();
int upfuse_materialized();

// Packed copies of Split pieces out of their Concat slices made so far in this process (by the
// Split, or by get() for a view): tests check a C2f block's bottleneck reads its piece in place.
int split_piece_copies();
void count_split_piece_copy();

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
int multi_lane_captures();  // captures that used more than one stream, in this process (tests)
struct DetectHead;          // head_match.h
struct HeadRows;            // head_rows.h
struct RunView;             // head_match.h
// lower_head.cpp: plan_head_rows (before the nodes are lowered) gives the head's per-level convs
// their anchor-major slices and absorbs the views and Concats between them and the head; false
// when the head's inputs are not built that way (it then reads them plain). lower_detect_head
// lowers the fused step, reading the anchor-major input when `rows` is given.
Result<bool> plan_head_rows(CudaRun& run, const RunView& rv, const DetectHead& head, HeadRows& rows,
                            int& buf);
Status lower_detect_head(CudaRun& run, const DetectHead& head, const HeadRows* rows = nullptr,
                         int rows_buf = -1);
int head_fusions_lowered();  // detect heads lowered as one kernel, in this process (tests)
int head_rows_lowered();     // ... of them reading the anchor-major input (tests)
int nchw_placements();       // conv outputs written NCHW into a Concat, in this process (tests)
int anchor_placements();     // conv outputs written into an anchor-major head input (tests)
int anchor_piece_copies();   // head pieces lower_detect_head copied there instead (tests)
Status lower_softmax(CudaRun& run, const Node& node);
struct AttentionMatch;  // attn_match.h
Status lower_attention(CudaRun& run, const AttentionMatch& m);
// Before lowering: q and k read only by the attention, pieces of a Split on their head-dim axis,
// are planned to be read inside the Split's input (CudaRun::plan_split_in_place).
void plan_attention_inputs(CudaRun& run, const RunView& rv, const AttentionMatch& m);
int attention_fusions_lowered();  // attentions lowered as one kernel, in this process (tests)

bool check_conv(const Node& node, const Graph& graph);
bool check_matmul(const Node& node, const Graph& graph);
bool check_any(const Node& node, const Graph& graph);
bool check_binary(const Node& node, const Graph& graph);
bool check_slice(const Node& node, const Graph& graph);
bool check_maxpool(const Node& node, const Graph& graph);
bool check_resize(const Node& node, const Graph& graph);
bool check_softmax(const Node& node, const Graph& graph);

}  // namespace fungen::cuda
