#include "backends/cuda/cuda_run.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "backends/cuda/attn_match.h"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cuda_ops.h"
#include "backends/cuda/graph_capture.h"
#include "backends/cuda/head_match.h"
#include "backends/cuda/head_rows.h"
#include "backends/cuda/permute.cuh"
#include "fungen/log.h"
#include "graph/memory_plan.h"

namespace fungen::cuda {

namespace {
std::atomic<size_t> g_in_use{0}, g_peak{0};
std::atomic<int> g_casts_skipped{0};
RunStats g_stats;

// Layout conversion of a 4-D [N,C,H,W] value: NCHW -> NHWC or back.
PermuteDesc layout_change(const Shape& s, Layout to) {
  int64_t n = s[0], c = s[1], h = s[2], w = s[3];
  PermuteDesc d;
  d.rank = 4;
  if (to == Layout::kNhwc) {  // out [N,H,W,C] from NCHW
    int64_t dims[4] = {n, h, w, c}, str[4] = {c * h * w, w, 1, h * w};
    std::copy(dims, dims + 4, d.out_dims);
    std::copy(str, str + 4, d.in_strides);
  } else {  // out [N,C,H,W] from NHWC
    int64_t dims[4] = {n, c, h, w}, str[4] = {h * w * c, 1, w * c, c};
    std::copy(dims, dims + 4, d.out_dims);
    std::copy(str, str + 4, d.in_strides);
  }
  return d;
}

PermuteDesc flat_copy(int64_t n) {
  PermuteDesc d;
  d.rank = 1;
  d.out_dims[0] = n;
  d.in_strides[0] = 1;
  return d;
}
}  // namespace

std::shared_ptr<void> device_alloc(size_t bytes) {
  void* p = nullptr;
  if (cudaMalloc(&p, std::max<size_t>(bytes, 256)) != cudaSuccess) return nullptr;
  size_t now = g_in_use += bytes;
  size_t peak = g_peak.load();
  while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
  }
  return std::shared_ptr<void>(p, [bytes](void* q) {
    cudaFree(q);
    g_in_use -= bytes;
  });
}
size_t device_bytes_in_use() {
  return g_in_use;
}
size_t device_bytes_peak() {
  return g_peak;
}
const RunStats& last_run_stats() {
  return g_stats;
}
int input_casts_skipped() {
  return g_casts_skipped.load();
}

Status upload_and_wait(void* dst, const void* src, size_t bytes, cudaStream_t stream,
                       const char* what) {
  if (!dst) {
    return out_of_memory(std::string("cuda: no device memory left for ") +
                         std::to_string(bytes >> 10) + " KiB of " + what +
                         "; free GPU memory or use a smaller batch");
  }
  // FUNGEN_CUDA_UPLOAD=plain: the old plain cudaMemcpy, only to show the race on a device (A/B).
  static const bool plain = [] {
    const char* v = std::getenv("FUNGEN_CUDA_UPLOAD");
    return v && std::strcmp(v, "plain") == 0;
  }();
  if (plain) {
    CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
    return Status();
  }
  CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
  return Status();
}

CudaRun::~CudaRun() {
  if (profiled_runs_ > 0) print_profile();
  if (graph_exec_) cudaGraphExecDestroy(graph_exec_);
  destroy_lanes();
  for (cudaEvent_t e : events_) {
    if (e) cudaEventDestroy(e);
  }
  for (cudaEvent_t e : step_events_) {
    if (e) cudaEventDestroy(e);
  }
}

// The steps ranked by mean device time per run (the first, eager warm-up run excluded when
// there were more): label (node name and what ran), ms, share; to stderr, whatever the log level.
void CudaRun::print_profile() const {
  std::vector<size_t> order(steps_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return step_ms_[a] > step_ms_[b]; });
  double total = 0;
  for (double ms : step_ms_) total += ms;
  const double runs = profiled_runs_;
  std::fprintf(stderr, "cuda profile: %zu steps, %.3f ms per run (mean of %d runs), ranked:\n",
               steps_.size(), total / runs, profiled_runs_);
  std::fprintf(stderr, "  %9s %6s  %s\n", "ms", "share", "step (node: kernel)");
  for (size_t i : order) {
    std::fprintf(stderr, "  %9.4f %5.1f%%  %s\n", step_ms_[i] / runs,
                 total > 0 ? 100.0 * step_ms_[i] / total : 0.0, steps_[i].label.c_str());
  }
}

size_t CudaRun::value_bytes(int value) const {
  return static_cast<size_t>(shape_numel(shape(value))) * elem_size(elem());
}

int CudaRun::new_buf(size_t bytes) {
  Buf b;
  b.bytes = bytes;
  bufs_.push_back(std::move(b));
  return static_cast<int>(bufs_.size()) - 1;
}

int CudaRun::only_reader(int value) const {
  if (uses(value) != 1) return -1;
  for (size_t k = first_node_; k <= last_node_; ++k) {
    for (int in : graph_.nodes[k].inputs) {
      if (in == value) return static_cast<int>(k);
    }
  }
  return -1;
}

void CudaRun::touch(int buf) {
  Buf& b = bufs_[static_cast<size_t>(buf)];
  int now = static_cast<int>(steps_.size());
  if (b.first < 0) b.first = now;
  b.last = std::max(b.last, now);
}

int CudaRun::persistent(size_t bytes) {
  int id = new_buf(bytes);
  Buf& b = bufs_[static_cast<size_t>(id)];
  b.persistent = true;
  b.owned = device_alloc(bytes);
  b.ptr = b.owned.get();
  return id;
}

int CudaRun::define(int value, Layout layout) {
  int id = new_buf(value_bytes(value));
  variants_[static_cast<size_t>(value)].insert(variants_[static_cast<size_t>(value)].begin(),
                                               Held{id, layout});
  return id;
}

void CudaRun::define_alias(int value, int buf) {
  variants_[static_cast<size_t>(value)].push_back(Held{buf, Layout::kPlain});
}

Layout CudaRun::produced_layout(int value) const {
  const auto& v = variants_[static_cast<size_t>(value)];
  if (v.empty() && view_of(value).buf >= 0) return Layout::kNhwc;  // a Split piece in its slice
  return v.empty() ? Layout::kPlain : v.front().layout;
}

void CudaRun::add_step(std::string label, std::vector<int> bufs, StepFn fn) {
  for (int b : bufs) {
    if (b >= 0) touch(b);
  }
  steps_.push_back(Step{std::move(label), std::move(fn), std::move(bufs), next_library_, {}});
  next_library_ = StepLibrary::kNone;
}

void CudaRun::narrow_last_step(int buf, size_t offset, size_t bytes) {
  if (!steps_.empty() && buf >= 0) steps_.back().narrowed.push_back({buf, offset, bytes});
}

Result<int> CudaRun::get(int value, Layout want) {
  auto& held = variants_[static_cast<size_t>(value)];
  if (held.empty() && view_of(value).buf >= 0) FUNGEN_RETURN_IF_ERROR(copy_view(value));
  if (held.empty() && upfuse_of(value)) FUNGEN_RETURN_IF_ERROR(materialize_upfuse(value));
  for (const Held& h : held) {
    if (h.layout == want) return h.buf;
  }
  const Shape& s = shape(value);
  if (held.empty()) {
    if (!is_constant(value)) {
      return internal_error("cuda: value '" + graph_.values[static_cast<size_t>(value)].name +
                            "' is read before it is produced");
    }
    const Tensor& c = constant(value);
    if (c.dtype() != DType::kFloat32) {
      return unsupported("cuda: constant '" + graph_.values[static_cast<size_t>(value)].name +
                         "' is not float32");
    }
    // Upload as fp32, convert to the run's type on the device (once, now).
    int id = persistent(value_bytes(value));
    if (!ptr(id))
      return out_of_memory(
          "cuda: no device memory left for a constant; free GPU memory or use a smaller batch");
    auto staging = device_alloc(c.nbytes());
    FUNGEN_RETURN_IF_ERROR(upload(staging.get(), c.raw(), c.nbytes()));
    launch_permute(Elem::kF32, elem(), staging.get(), ptr(id), flat_copy(c.numel()), ctx_.stream);
    CUDA_CHECK(cudaGetLastError());
    CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
    held.push_back(Held{id, Layout::kPlain});
    if (want == Layout::kPlain) return id;
  }
  if (s.size() != 4)
    return internal_error("cuda: NHWC asked of a value of rank " + std::to_string(s.size()));
  int from = held.front().buf;
  Layout from_layout = held.front().layout;
  if (from_layout == want) return from;
  int to = new_buf(value_bytes(value));
  held.push_back(Held{to, want});
  PermuteDesc d = layout_change(s, want);
  Elem e = elem();
  add_step(std::string(want == Layout::kNhwc ? "to NHWC " : "to NCHW ") +
               graph_.values[static_cast<size_t>(value)].name,
           {from, to}, [this, from, to, d, e](cudaStream_t st) {
             launch_permute(e, e, ptr(from), ptr(to), d, st);
             return Status();
           });
  return to;
}

Result<std::unique_ptr<CudaRun>> CudaRun::build(const Graph& graph, const NodeRun& run,
                                                CudaContext& ctx) {
  std::unique_ptr<CudaRun> r(new CudaRun(graph, ctx));
  CUDA_CHECK(cudaSetDevice(ctx.device));
  FUNGEN_RETURN_IF_ERROR(r->lower(run));
  FUNGEN_RETURN_IF_ERROR(r->finalize());
  for (cudaEvent_t& e : r->events_) CUDA_CHECK(cudaEventCreate(&e));
  return r;
}

int CudaRun::direct_output(int value) {
  if (std::find(run_outputs_.begin(), run_outputs_.end(), value) == run_outputs_.end()) return -1;
  for (size_t k = first_node_; k <= last_node_; ++k) {
    const auto& in = graph_.nodes[k].inputs;
    if (std::find(in.begin(), in.end(), value) != in.end()) return -1;
  }
  int& staging = direct_staging_[static_cast<size_t>(value)];
  if (staging < 0)
    staging = persistent(static_cast<size_t>(shape_numel(shape(value))) * sizeof(float));
  return staging;
}

Status CudaRun::lower(const NodeRun& run) {
  variants_.assign(graph_.values.size(), {});
  transposed_from_.assign(graph_.values.size(), -1);
  split_in_place_.assign(graph_.values.size(), 0);
  views_.assign(graph_.values.size(), {});
  staging_reads_.assign(graph_.values.size(), 0);
  direct_staging_.assign(graph_.values.size(), -1);
  run_outputs_ = run.outputs;
  find_placements(run);
  // Inputs: fp32 plain staging; converted to the run's type by the first step (fp16).
  for (int v : run.inputs) {
    size_t n = static_cast<size_t>(shape_numel(shape(v)));
    int staging = persistent(n * sizeof(float));
    input_staging_.push_back(staging);
    input_values_.push_back(v);
    if (elem() == Elem::kF32) {
      variants_[static_cast<size_t>(v)].push_back(Held{staging, Layout::kPlain});
      input_bufs_.push_back(staging);
      continue;
    }
    int b = define(v, Layout::kPlain);
    input_bufs_.push_back(b);
    Elem e = elem();
    const size_t i = input_bufs_.size() - 1;
    // Also when skipped, the step keeps b live from the start: enqueue()'s caller writes it first.
    add_step("cast input " + graph_.values[static_cast<size_t>(v)].name, {staging, b},
             [this, staging, b, e, n, i](cudaStream_t st) {
               if (cast_skipped_[i]) return Status();
               launch_permute(Elem::kF32, e, ptr(staging), ptr(b),
                              flat_copy(static_cast<int64_t>(n)), st);
               return Status();
             });
  }
  input_steps_ = steps_.size();
  cast_skipped_.assign(input_values_.size(), 0);
  absorbed_.assign(graph_.nodes.size(), 0);
  first_node_ = run.first;
  last_node_ = run.last;
  // YOLO Detect heads (head_match.h): their nodes are absorbed now, the fused step is lowered
  // where their output Concat stands.
  std::vector<DetectHead> heads;
  std::vector<int> head_at(graph_.nodes.size(), -1);
  const RunView rv(graph_, run);
  if (ctx_.fuse_head) heads = find_detect_heads(rv);
  // Their per-level convs writing one anchor-major input (head_rows.h) where it fits.
  std::vector<HeadRows> head_rows(heads.size());
  std::vector<int> rows_buf(heads.size(), -1);
  for (size_t i = 0; i < heads.size(); ++i) {
    for (int k : heads[i].nodes) absorbed_[static_cast<size_t>(k)] = 1;
    absorbed_[static_cast<size_t>(heads[i].output_node)] = 0;
    head_at[static_cast<size_t>(heads[i].output_node)] = static_cast<int>(i);
    if (ctx_.head_rows && ctx_.nhwc) {
      FUNGEN_ASSIGN_OR_RETURN(bool planned,
                              plan_head_rows(*this, rv, heads[i], head_rows[i], rows_buf[i]));
      if (!planned) rows_buf[i] = -1;
    }
  }
  // Attention (attn_match.h): the fused step is lowered where its P·V MatMul stands.
  std::vector<AttentionMatch> attns;
  std::vector<int> attn_at(graph_.nodes.size(), -1);
  if (ctx_.attention) attns = find_attention(rv);
  for (size_t i = 0; i < attns.size(); ++i) {
    for (int k : attns[i].nodes) absorbed_[static_cast<size_t>(k)] = 1;
    absorbed_[static_cast<size_t>(attns[i].output_node)] = 0;
    attn_at[static_cast<size_t>(attns[i].output_node)] = static_cast<int>(i);
    if (ctx_.attention == 3) continue;  // FUNGEN_CUDA_ATTN=copy: the first version's I/O
    plan_attention_inputs(*this, rv, attns[i]);
    // The output written [B', N, h, d] (lower_attention.cpp): its Transpose lowers to nothing.
    if (attns[i].out_transpose >= 0) absorbed_[static_cast<size_t>(attns[i].out_transpose)] = 1;
  }
  FUNGEN_RETURN_IF_ERROR(find_upfuse(run));
  for (size_t k = run.first; k <= run.last; ++k) {
    if (absorbed_[k]) continue;
    const Node& node = graph_.nodes[k];
    if (attn_at[k] >= 0) {
      Status s = lower_attention(*this, attns[static_cast<size_t>(attn_at[k])]);
      if (!s.ok()) return s.with_context(node.describe(graph_.opset));
      continue;
    }
    if (head_at[k] >= 0) {
      const size_t i = static_cast<size_t>(head_at[k]);
      Status s = rows_buf[i] >= 0 ? lower_detect_head(*this, heads[i], &head_rows[i], rows_buf[i])
                                  : lower_detect_head(*this, heads[i]);
      if (!s.ok()) return s.with_context(node.describe(graph_.opset));
      continue;
    }
    const CudaOp* op = find_cuda_op(node.op_type);
    if (!op) return unsupported("cuda: no lowering for " + node.describe(graph_.opset));
    Status s = op->lower(*this, node);
    if (!s.ok()) return s.with_context(node.describe(graph_.opset));
  }
  // Inputs whose every use reads the fp32 staging in run(): their cast does nothing.
  for (size_t i = 0; i < input_values_.size() && elem() == Elem::kF16; ++i) {
    const int v = input_values_[i];
    const int reads = staging_reads_[static_cast<size_t>(v)];
    if (reads == 0 || reads != uses(v)) continue;
    cast_skipped_[i] = 1;
    ++g_casts_skipped;
    steps_[i].label += " (skipped: read in fp32 by its consumer)";
    steps_[i].bufs = {input_staging_[i]};  // b is not written (FUNGEN_CUDA_POISON=2 reports)
  }
  // Outputs: converted to fp32 plain in their staging buffers by the last steps.
  for (int v : run.outputs) {
    if (direct_staging_[static_cast<size_t>(v)] >= 0) {  // a step wrote it there (lower_head)
      output_staging_.push_back(direct_staging_[static_cast<size_t>(v)]);
      output_values_.push_back(v);
      continue;
    }
    FUNGEN_ASSIGN_OR_RETURN(int b, get(v, Layout::kPlain));
    int64_t n = shape_numel(shape(v));
    int staging = persistent(static_cast<size_t>(n) * sizeof(float));
    output_staging_.push_back(staging);
    output_values_.push_back(v);
    Elem e = elem();
    add_step("output " + graph_.values[static_cast<size_t>(v)].name, {b, staging},
             [this, staging, b, e, n](cudaStream_t st) {
               launch_permute(e, Elem::kF32, ptr(b), ptr(staging), flat_copy(n), st);
               return Status();
             });
  }
  return Status();
}

Status CudaRun::finalize() {
  std::vector<BufferRequest> requests;
  std::vector<int> ids;
  // With several streams (cuda_lanes.cpp), bytes reused by a later buffer order its steps after
  // unrelated earlier ones. So a small run (batch 1: ~140 MB in all) reuses nothing, and in a
  // larger one a small buffer's bytes stay its own a few steps longer (large ones are not kept:
  // at batch 128 that grew the arena by 60%, for no gain).
  const bool lanes = ctx_.graphs && ctx_.lanes > 1;
  size_t total = 0;
  for (const Buf& b : bufs_) {
    if (!b.persistent && b.first >= 0) total += b.bytes;
  }
  const bool no_reuse = lanes && total <= kLaneNoReuseBytes;
  const int end = static_cast<int>(steps_.size());
  for (size_t i = 0; i < bufs_.size(); ++i) {
    const Buf& b = bufs_[i];
    if (b.persistent || b.first < 0) continue;
    const int pad = lanes && b.bytes <= kLanePadMaxBytes ? kLaneLifetimePad : 0;
    if (no_reuse)
      requests.push_back({b.bytes, 0, end});
    else
      requests.push_back({b.bytes, b.first, b.last + pad});
    ids.push_back(static_cast<int>(i));
  }
  MemoryPlan mem = plan_memory(requests);
  arena_ = device_alloc(mem.arena_bytes);
  if (!arena_) {
    return out_of_memory("cuda: cannot allocate " + std::to_string(mem.arena_bytes >> 20) +
                         " MiB of device memory for activations; use a smaller batch");
  }
  arena_bytes_ = mem.arena_bytes;
  if (ctx_.poison) {
    FUNGEN_RETURN_IF_ERROR(poison_arena(ctx_.stream));
    CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
  }
  auto* base = static_cast<std::byte*>(arena_.get());
  for (size_t r = 0; r < ids.size(); ++r)
    bufs_[static_cast<size_t>(ids[r])].ptr = base + mem.offsets[r];
  if (workspace_bytes_) {
    workspace_ = device_alloc(workspace_bytes_);
    if (!workspace_) return out_of_memory("cuda: cannot allocate the convolution workspace");
  }
  log(LogLevel::kInfo, "cuda run: {} steps, arena {:.1f} MiB, workspace {:.1f} MiB", steps_.size(),
      static_cast<double>(mem.arena_bytes) / (1 << 20),
      static_cast<double>(workspace_bytes_) / (1 << 20));
  return plan_lanes();
}

int CudaRun::input_staging(int value) const {
  if (elem() != Elem::kF16 || ctx_.poison >= 2) return -1;  // poison 2 inspects the fp16 input
  for (size_t i = 0; i < input_values_.size(); ++i) {
    if (input_values_[i] == value) return input_staging_[i];
  }
  return -1;
}

Status CudaRun::run_steps(bool from_staging) {
  const size_t first = from_staging ? 0 : input_steps_;
  from_staging_ = from_staging;
  if (!lane_steps_.empty()) {
    cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
    CUDA_CHECK(cudaStreamIsCapturing(ctx_.stream, &capturing));
    if (capturing == cudaStreamCaptureStatusActive) return run_lanes(first);
  }
  const bool profile = ctx_.profile;
  if (profile && step_events_.empty()) {
    step_events_.assign(steps_.size() + 1, nullptr);
    for (cudaEvent_t& e : step_events_) CUDA_CHECK(cudaEventCreate(&e));
    step_ms_.assign(steps_.size(), 0.0);
  }
  if (profile) CUDA_CHECK(cudaEventRecord(step_events_[first], ctx_.stream));
  for (size_t k = first; k < steps_.size(); ++k) {
    Step& s = steps_[k];
    Status st = s.fn(ctx_.stream);
    if (!st.ok()) return st.with_context(s.label);
    cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) {
      return internal_error("cuda: step '" + s.label +
                            "' failed to launch: " + cudaGetErrorString(err));
    }
    if (profile) CUDA_CHECK(cudaEventRecord(step_events_[k + 1], ctx_.stream));
    if (ctx_.poison >= 2) FUNGEN_RETURN_IF_ERROR(report_non_finite(k));
  }
  if (profile) {
    // The first run loads modules and warms caches: its times are dropped once a second comes.
    CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
    if (profiled_runs_ == 1 && runs_ == 1) {
      std::fill(step_ms_.begin(), step_ms_.end(), 0.0);
      profiled_runs_ = 0;
    }
    for (size_t k = first; k < steps_.size(); ++k) {
      float ms = 0;
      CUDA_CHECK(cudaEventElapsedTime(&ms, step_events_[k], step_events_[k + 1]));
      step_ms_[k] += ms;
    }
    ++profiled_runs_;
  }
  return Status();
}

Status CudaRun::run(KernelContext& kc) {
  cudaStream_t st = ctx_.stream;
  CUDA_CHECK(cudaEventRecord(events_[0], st));
  for (size_t i = 0; i < input_staging_.size(); ++i) {
    const Tensor& t = kc.input(i);
    CUDA_CHECK(
        cudaMemcpyAsync(ptr(input_staging_[i]), t.raw(), t.nbytes(), cudaMemcpyHostToDevice, st));
  }
  CUDA_CHECK(cudaEventRecord(events_[1], st));
  // FUNGEN_CUDA_POISON: whatever the last run (or another buffer) left becomes NaN.
  if (ctx_.poison) FUNGEN_RETURN_IF_ERROR(poison_arena(st));
  bool graph = false;
  if (!graph_exec_ && ctx_.graphs && runs_ >= 1 && capture_.may_try()) {
    // The first run went eagerly (library initialization); capture the second. A failed capture
    // leaves this run eager and is retried on a later one (graph_capture.h).
    auto g = capture_graph(st, [this] { return run_steps(true); });
    if (g.ok()) {
      graph_exec_ = g.value();
    } else if (!capture_.failed("cuda run", g.status())) {
      return g.status();
    }
  }
  if (graph_exec_) {
    CUDA_CHECK(cudaGraphLaunch(graph_exec_, st));
    graph = true;
  } else {
    FUNGEN_RETURN_IF_ERROR(run_steps(true));
  }
  CUDA_CHECK(cudaEventRecord(events_[2], st));
  for (size_t i = 0; i < output_staging_.size(); ++i) {
    Tensor& t = kc.output(i);
    CUDA_CHECK(
        cudaMemcpyAsync(t.raw(), ptr(output_staging_[i]), t.nbytes(), cudaMemcpyDeviceToHost, st));
  }
  CUDA_CHECK(cudaEventRecord(events_[3], st));
  CUDA_CHECK(cudaStreamSynchronize(st));
  ++runs_;
  g_stats.graph = graph;
  CUDA_CHECK(cudaEventElapsedTime(&g_stats.compute_ms, events_[1], events_[2]));
  CUDA_CHECK(cudaEventElapsedTime(&g_stats.total_ms, events_[0], events_[3]));
  return Status();
}

DeviceBuffer CudaRun::device_input(size_t i) const {
  return DeviceBuffer{ptr(input_bufs_[i]), elem() == Elem::kF16 ? DType::kFloat16 : DType::kFloat32,
                      shape(input_values_[i])};
}

DeviceBuffer CudaRun::device_output(size_t i) const {
  return DeviceBuffer{ptr(output_staging_[i]), DType::kFloat32, shape(output_values_[i])};
}

}  // namespace fungen::cuda
