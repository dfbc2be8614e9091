// gpu_pipeline.cpp — see detect/gpu_pipeline.h.
#include "detect/gpu_pipeline.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <string>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cuda_run.h"
#include "backends/cuda/frame_upload.h"
#include "backends/cuda/graph_capture.h"
#include "backends/cuda/postprocess.cuh"
#include "fungen/log.h"
#include "ops/op_util.h"
#include "runtime/device_run.h"

namespace fungen::detect {

namespace {

size_t align256(size_t n) {
  return (n + 255) & ~size_t{255};
}

struct PinnedDeleter {
  void operator()(void* p) const { cudaFreeHost(p); }
};
using Pinned = std::unique_ptr<void, PinnedDeleter>;

// What a captured graph depends on: everything a kernel argument is made of.
using GraphKey = std::vector<uint64_t>;

constexpr size_t kMaxGraphs = 16;  // per batch size (NVDEC rotates through a few surfaces)

}  // namespace

struct GpuPipeline::State {
  int batch = 0;
  DeviceRun* run = nullptr;
  DeviceBuffer in, out;
  std::shared_ptr<void> frames_dev;  // uploaded host frames, packed
  size_t frames_cap = 0;
  Pinned stage;  // pinned staging of pageable host frames
  size_t stage_cap = 0;
  std::shared_ptr<void> workspace;  // NMS scratch
  size_t workspace_bytes = 0;
  std::shared_ptr<void> result_dev;  // [B] counts, then [B][max_det][6]
  Pinned result_host;
  int max_det_cap = 0;
  std::shared_ptr<void> allowed_dev;
  int allowed_cap = 0;
  std::vector<int> allowed_for;      // the class list allowed_dev holds
  std::shared_ptr<void> kept_input;  // keep_input(true): the model input after the letterbox
  bool input_kept = false;           // the last run filled kept_input
  int runs = 0;
  std::vector<std::pair<GraphKey, cudaGraphExec_t>> graphs;
  cuda::CaptureRetry capture;
  // Per-call scratch kept between calls (no host allocation once warm).
  std::vector<size_t> offset;
  std::vector<gpu::DeviceFrame> frames;
  GraphKey key;
  // Upload row plans (frame_upload.h) by frame width, height and contiguity.
  std::vector<std::pair<std::array<int, 3>, std::vector<cuda::RowRun>>> row_plans;
  const std::vector<cuda::RowRun>& rows_for(const Frame& f, int in_w, int in_h) {
    const bool contiguous = static_cast<size_t>(f.stride) == static_cast<size_t>(f.width) * 3;
    const std::array<int, 3> k{f.width, f.height, contiguous ? 1 : 0};
    for (auto& p : row_plans) {
      if (p.first == k) return p.second;
    }
    if (row_plans.size() >= 8) row_plans.erase(row_plans.begin());
    row_plans.emplace_back(
        k, cuda::letterbox_row_runs(f.height, letterbox_params(f.width, f.height, in_w, in_h), in_h,
                                    contiguous));
    return row_plans.back().second;
  }
  std::shared_ptr<CUevent_st> decoded;  // recorded on the decoder's stream (detect_device)

  void drop_graphs() {
    for (auto& g : graphs) cudaGraphExecDestroy(g.second);
    graphs.clear();
  }
  ~State() { drop_graphs(); }
};

GpuPipeline::GpuPipeline(Engine& engine, int input_width, int input_height)
    : engine_(engine), in_w_(input_width), in_h_(input_height) {
  const char* g = std::getenv("FUNGEN_CUDA_GRAPHS");
  graphs_ = !(g && std::strcmp(g, "0") == 0);
  const char* nms = std::getenv("FUNGEN_GPU_NMS");
  cuda::NmsMethod m = cuda::NmsMethod::kMask;
  if (nms && std::strcmp(nms, "grouped") == 0) m = cuda::NmsMethod::kGrouped;
  if (nms && std::strcmp(nms, "perbox") == 0) m = cuda::NmsMethod::kPerBox;
  nms_method_ = static_cast<int>(m);
}

GpuPipeline::~GpuPipeline() = default;

void* GpuPipeline::alloc_pinned(size_t bytes) {
  void* p = nullptr;
  return cudaMallocHost(&p, bytes) == cudaSuccess ? p : nullptr;
}

void GpuPipeline::free_pinned(void* p) {
  if (p) cudaFreeHost(p);
}

void GpuPipeline::keep_input(bool on) {
  keep_input_ = on;  // part of the graph key: no stale graph replays without (or with) the copy
}

Result<GpuPipeline::State*> GpuPipeline::state_for(int batch) {
  auto it = states_.find(batch);
  if (it != states_.end()) return it->second.get();
  auto s = std::make_unique<State>();
  s->batch = batch;
  Shape shape{batch, 3, in_h_, in_w_};
  auto run = device_run_of(engine_, {&shape, 1});
  if (!run.ok()) return run.status();
  s->run = run.value();
  if (s->run) {
    s->in = s->run->device_input(0);
    s->out = s->run->device_output(0);
    if (s->in.shape != shape ||
        (s->in.dtype != DType::kFloat16 && s->in.dtype != DType::kFloat32) ||
        s->out.shape.size() != 3 || s->out.shape[0] != batch) {
      log(LogLevel::kInfo, "gpu pipeline: the model's input {} / output {} do not fit; CPU path",
          shape_to_string(s->in.shape), shape_to_string(s->out.shape));
      s->run = nullptr;
    }
  }
  return states_.emplace(batch, std::move(s)).first->second.get();
}

Result<bool> GpuPipeline::available(int batch) {
  FUNGEN_ASSIGN_OR_RETURN(State * s, state_for(batch));
  return s->run != nullptr;
}

Status GpuPipeline::detect(std::span<const Frame> frames, int batch, const DetectOptions& options,
                           std::optional<HeadLayout> layout,
                           std::vector<std::vector<Candidate>>& out) {
  FUNGEN_ASSIGN_OR_RETURN(State * s, state_for(batch));
  if (!s->run) return unsupported("gpu pipeline: the model does not run as one GPU graph");
  if (frames.size() > static_cast<size_t>(batch))
    return invalid_argument("gpu pipeline: more frames than the batch");
  auto stream = static_cast<cudaStream_t>(s->run->device_stream());
  // Device layout of the frames: packed rows, each frame 256-byte aligned.
  std::vector<size_t>& offset = s->offset;
  offset.resize(frames.size());
  size_t total = 0;
  for (size_t k = 0; k < frames.size(); ++k) {
    offset[k] = total;
    total += align256(static_cast<size_t>(frames[k].width) * 3 * frames[k].height);
  }
  if (total > s->frames_cap) {
    s->drop_graphs();  // they point at the old buffer
    s->frames_dev = cuda::device_alloc(total);
    if (!s->frames_dev) return out_of_memory("gpu pipeline: no device memory for the frames");
    s->frames_cap = total;
  }
  auto* dev = static_cast<uint8_t*>(s->frames_dev.get());
  std::vector<gpu::DeviceFrame>& df = s->frames;
  df.assign(frames.size(), gpu::DeviceFrame{});
  for (size_t k = 0; k < frames.size(); ++k) {
    const Frame& f = frames[k];
    const size_t row = static_cast<size_t>(f.width) * 3;
    cudaPointerAttributes attr{};
    bool pinned =
        cudaPointerGetAttributes(&attr, f.bgr) == cudaSuccess && attr.type == cudaMemoryTypeHost;
    cudaGetLastError();
    if (!pinned && total > s->stage_cap) {
      s->stage.reset(alloc_pinned(total));
      if (!s->stage) return out_of_memory("gpu pipeline: no pinned host memory for staging");
      s->stage_cap = total;
    }
    // Only the rows the letterbox reads (frame_upload.h): a third of a 1080p frame.
    const std::vector<cuda::RowRun>& runs = s->rows_for(f, in_w_, in_h_);
    uint8_t* stage = pinned ? nullptr : static_cast<uint8_t*>(s->stage.get()) + offset[k];
    CUDA_CHECK(cuda::upload_frame_rows(f, pinned, dev + offset[k], row, runs, stage, stream));
    df[k].format = gpu::PixelFormat::kBgr24;
    df[k].width = f.width;
    df[k].height = f.height;
    df[k].data[0] = dev + offset[k];
    df[k].pitch[0] = static_cast<int>(row);
  }
  return run(*s, df, nullptr, options, layout, out, false);
}

Status GpuPipeline::detect_device(std::span<const gpu::DeviceFrame> frames,
                                  const gpu::DeviceRemap* remap, int batch,
                                  const DetectOptions& options, std::optional<HeadLayout> layout,
                                  std::vector<std::vector<Candidate>>& out) {
  FUNGEN_ASSIGN_OR_RETURN(State * s, state_for(batch));
  if (!s->run) return unsupported("gpu pipeline: the model does not run as one GPU graph");
  if (frames.size() > static_cast<size_t>(batch))
    return invalid_argument("gpu pipeline: more frames than the batch");
  if (!frames.empty()) {
    // Frames from another GPU than the model's cannot be read here.
    cudaPointerAttributes fa{}, ma{};
    CUDA_CHECK(cudaPointerGetAttributes(&fa, frames[0].data[0]));
    CUDA_CHECK(cudaPointerGetAttributes(&ma, s->in.data));
    if (fa.type != cudaMemoryTypeDevice || fa.device != ma.device)
      return invalid_argument(
          "gpu pipeline: the frames are not in device memory of the model's GPU (cuda:" +
          std::to_string(ma.device) +
          "); decode on the same GPU (--decode cuda:" + std::to_string(ma.device) + ")");
  }
  // The decoder wrote the frames on the legacy default stream (FFmpeg's CUDA device context):
  // order our stream after everything enqueued there so far, without blocking the host.
  auto stream = static_cast<cudaStream_t>(s->run->device_stream());
  if (!s->decoded) {
    cudaEvent_t e = nullptr;
    CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    s->decoded.reset(e, [](cudaEvent_t ev) { cudaEventDestroy(ev); });
  }
  CUDA_CHECK(cudaEventRecord(s->decoded.get(), cudaStreamLegacy));
  CUDA_CHECK(cudaStreamWaitEvent(stream, s->decoded.get(), 0));
  return run(*s, frames, remap, options, layout, out, true);
}

Status GpuPipeline::with_dummy_device_frame(
    const std::function<Status(const gpu::DeviceFrame&, const gpu::DeviceRemap&)>& use) {
  constexpr int kSize = 64;  // even (NV12), a pitch of 64 bytes is aligned for the kernels
  const size_t plane = static_cast<size_t>(kSize) * kSize;
  auto pixels = cuda::device_alloc(plane * 3 / 2);
  auto xy = cuda::device_alloc(sizeof(float) * 2 * plane);
  if (!pixels || !xy) return out_of_memory("gpu pipeline: no device memory for a warm-up frame");
  // Mid grey on the legacy stream, which detect_device waits for.
  CUDA_CHECK(cudaMemsetAsync(pixels.get(), 128, plane * 3 / 2, cudaStreamLegacy));
  std::vector<float> x(plane), y(plane);
  for (size_t i = 0; i < plane; ++i) {
    x[i] = static_cast<float>(i % kSize);
    y[i] = static_cast<float>(i / kSize);
  }
  FUNGEN_RETURN_IF_ERROR(
      gpu::upload_remap_table(x.data(), y.data(), kSize, kSize, static_cast<float*>(xy.get())));
  gpu::DeviceFrame f;
  f.format = gpu::PixelFormat::kNv12;
  f.width = f.height = kSize;
  f.data[0] = static_cast<const uint8_t*>(pixels.get());
  f.data[1] = f.data[0] + plane;
  f.pitch[0] = f.pitch[1] = kSize;
  // detect_device synchronizes before it returns (and cudaFree waits for the device anyway).
  return use(f, gpu::DeviceRemap{static_cast<const float*>(xy.get()), kSize, kSize});
}

Result<gpu::DeviceRemap> GpuPipeline::upload_remap(const float* x, const float* y, int width,
                                                   int height) {
  if (width <= 0 || height <= 0) return invalid_argument("gpu pipeline: empty remap table");
  const size_t bytes = sizeof(float) * 2 * static_cast<size_t>(width) * height;
  if (!remap_ || bytes > remap_bytes_) {
    remap_ = cuda::device_alloc(bytes);
    if (!remap_) return out_of_memory("gpu pipeline: no device memory for the remap table");
    remap_bytes_ = bytes;
  }
  auto* xy = static_cast<float*>(remap_.get());
  FUNGEN_RETURN_IF_ERROR(gpu::upload_remap_table(x, y, width, height, xy));
  return gpu::DeviceRemap{xy, width, height};
}

Status GpuPipeline::run(State& s, std::span<const gpu::DeviceFrame> frames,
                        const gpu::DeviceRemap* remap, const DetectOptions& options,
                        std::optional<HeadLayout> layout, std::vector<std::vector<Candidate>>& out,
                        bool device_frames) {
  auto stream = static_cast<cudaStream_t>(s.run->device_stream());
  const int batch = s.batch;
  const int d1 = static_cast<int>(s.out.shape[1]), d2 = static_cast<int>(s.out.shape[2]);
  layout_ = layout ? *layout : (d2 == 6 ? HeadLayout::kEndToEnd : HeadLayout::kRaw);
  if (layout_ == HeadLayout::kRaw && d1 <= 4)
    return internal_error("gpu pipeline: output has " + std::to_string(d1) + " rows");
  if (layout_ == HeadLayout::kEndToEnd && d2 < 6)
    return internal_error("gpu pipeline: end-to-end output has " + std::to_string(d2) + " columns");

  // Buffers sized by options (reallocation invalidates the captured graphs).
  if (options.max_det > s.max_det_cap) {
    s.drop_graphs();
    size_t bytes = align256(sizeof(int) * batch) + sizeof(float) * 6 * batch * options.max_det;
    s.result_dev = cuda::device_alloc(bytes);
    s.result_host.reset(alloc_pinned(bytes));
    if (!s.result_dev || !s.result_host)
      return out_of_memory("gpu pipeline: no memory for the detections");
    s.max_det_cap = options.max_det;
  }
  if (layout_ == HeadLayout::kRaw && !s.workspace) {
    s.workspace_bytes = cuda::raw_detect_workspace_bytes(batch, d2);
    s.workspace = cuda::device_alloc(s.workspace_bytes);
    if (!s.workspace) return out_of_memory("gpu pipeline: no device memory for NMS");
  }
  cuda::DetectParams p;
  p.conf = options.conf;
  p.iou = options.iou;
  p.max_det = options.max_det;
  p.max_nms = options.max_nms;
  p.agnostic = options.agnostic;
  p.method = static_cast<cuda::NmsMethod>(nms_method_);
  if (!options.classes.empty()) {
    int n = 1;
    for (int c : options.classes) n = std::max(n, c + 1);
    if (n > s.allowed_cap) {
      s.drop_graphs();
      s.allowed_dev = cuda::device_alloc(static_cast<size_t>(n));
      if (!s.allowed_dev) return out_of_memory("gpu pipeline: no device memory");
      s.allowed_cap = n;
      s.allowed_for.clear();
    }
    if (s.allowed_for != options.classes) {
      std::vector<uint8_t> flags(static_cast<size_t>(s.allowed_cap), 0);
      for (int c : options.classes) {
        if (c >= 0) flags[static_cast<size_t>(c)] = 1;
      }
      CUDA_CHECK(cudaMemcpyAsync(s.allowed_dev.get(), flags.data(), flags.size(),
                                 cudaMemcpyHostToDevice, stream));
      CUDA_CHECK(cudaStreamSynchronize(stream));  // `flags` is pageable and local
      s.allowed_for = options.classes;
    }
    p.allowed = static_cast<const uint8_t*>(s.allowed_dev.get());
    p.num_allowed = s.allowed_cap;
  }
  const gpu::InputType type =
      s.in.dtype == DType::kFloat16 ? gpu::InputType::kF16 : gpu::InputType::kF32;
  const size_t image_bytes =
      static_cast<size_t>(3) * in_w_ * in_h_ * (type == gpu::InputType::kF16 ? 2 : 4);
  if (keep_input_ && !s.kept_input) {
    s.drop_graphs();
    s.kept_input = cuda::device_alloc(image_bytes * batch);
    if (!s.kept_input) return out_of_memory("gpu pipeline: no device memory for the input copy");
  }
  s.input_kept = false;
  cuda::DetectOutput r;
  r.count = static_cast<int*>(s.result_dev.get());
  r.dets = reinterpret_cast<float*>(static_cast<char*>(s.result_dev.get()) +
                                    align256(sizeof(int) * batch));

  // The device work after the frame uploads: letterbox, model, detections, their download.
  const size_t result_bytes =
      align256(sizeof(int) * batch) + sizeof(float) * 6 * batch * options.max_det;
  // Device frames (NVDEC) come from a pool of surfaces whose addresses rotate: their letterbox
  // runs eagerly ahead of the graph, which then holds only what stays put (model, NMS, download).
  const bool frames_in_graph = !device_frames;
  auto enqueue_letterbox = [&]() -> Status {
    for (size_t k = 0; k < frames.size(); ++k) {
      int sw = remap ? remap->width : frames[k].width;
      int sh = remap ? remap->height : frames[k].height;
      LetterboxParams lp = letterbox_params(sw, sh, in_w_, in_h_);
      FUNGEN_RETURN_IF_ERROR(gpu::letterbox_on_device(
          frames[k], remap, lp, static_cast<char*>(s.in.data) + k * image_bytes, type, in_w_, in_h_,
          stream));
    }
    FUNGEN_RETURN_IF_ERROR(gpu::fill_padding_on_device(
        static_cast<char*>(s.in.data) + frames.size() * image_bytes, type, in_w_, in_h_,
        batch - static_cast<int>(frames.size()), stream));
    if (keep_input_) {
      CUDA_CHECK(cudaMemcpyAsync(s.kept_input.get(), s.in.data, image_bytes * batch,
                                 cudaMemcpyDeviceToDevice, stream));
    }
    return Status();
  };
  auto enqueue = [&]() -> Status {
    if (frames_in_graph) FUNGEN_RETURN_IF_ERROR(enqueue_letterbox());
    FUNGEN_RETURN_IF_ERROR(s.run->enqueue());
    const auto* o = static_cast<const float*>(s.out.data);
    if (layout_ == HeadLayout::kRaw) {
      CUDA_CHECK(
          cuda::raw_detect(o, batch, d1, d2, p, s.workspace.get(), s.workspace_bytes, r, stream));
    } else {
      CUDA_CHECK(cuda::end_to_end_detect(o, batch, d1, d2, p, r, stream));
    }
    CUDA_CHECK(cudaMemcpyAsync(s.result_host.get(), s.result_dev.get(), result_bytes,
                               cudaMemcpyDeviceToHost, stream));
    return Status();
  };

  GraphKey& key = s.key;
  // Device frames: the graph holds only model, NMS and download, the same for any frame count
  // or remap table (one capture serves a whole video, its short last batch and the next video).
  key.assign({static_cast<uint64_t>(frames_in_graph ? frames.size() : 0),
              static_cast<uint64_t>(layout_), static_cast<uint64_t>(options.max_det),
              static_cast<uint64_t>(keep_input_)});
  for (const gpu::DeviceFrame& f : frames) {
    if (!frames_in_graph) break;
    key.insert(key.end(), {static_cast<uint64_t>(f.format), static_cast<uint64_t>(f.width),
                           static_cast<uint64_t>(f.height), reinterpret_cast<uint64_t>(f.data[0]),
                           reinterpret_cast<uint64_t>(f.data[1]), static_cast<uint64_t>(f.pitch[0]),
                           static_cast<uint64_t>(f.pitch[1]), static_cast<uint64_t>(f.matrix),
                           static_cast<uint64_t>(f.full_range)});
  }
  uint32_t conf_bits, iou_bits;
  std::memcpy(&conf_bits, &p.conf, 4);
  std::memcpy(&iou_bits, &p.iou, 4);
  const gpu::DeviceRemap* keyed_remap = frames_in_graph ? remap : nullptr;
  key.insert(key.end(),
             {reinterpret_cast<uint64_t>(keyed_remap ? keyed_remap->xy : nullptr),
              static_cast<uint64_t>(keyed_remap ? keyed_remap->width : 0),
              static_cast<uint64_t>(keyed_remap ? keyed_remap->height : 0), conf_bits, iou_bits,
              static_cast<uint64_t>(p.max_det), static_cast<uint64_t>(p.max_nms),
              static_cast<uint64_t>(p.agnostic) | static_cast<uint64_t>(p.method) << 1,
              reinterpret_cast<uint64_t>(p.allowed), static_cast<uint64_t>(p.num_allowed)});

  cudaGraphExec_t exec = nullptr;
  for (auto& g : s.graphs) {
    if (g.first == key) exec = g.second;
  }
  if (!exec && graphs_ && s.runs > 0 && s.capture.may_try()) {
    // Capture once per key; the first run went eagerly (library initialization). A failed
    // capture leaves this call eager and is retried on a later one (graph_capture.h).
    // (Device frames: the letterbox of this call runs after the capture, ahead of the launch.)
    auto g = cuda::capture_graph(stream, enqueue);
    if (g.ok()) {
      exec = g.value();
      if (s.graphs.size() >= kMaxGraphs) {
        cudaGraphExecDestroy(s.graphs.front().second);
        s.graphs.erase(s.graphs.begin());
      }
      s.graphs.emplace_back(key, exec);  // a copy: `key` is scratch
    } else if (!s.capture.failed("gpu pipeline", g.status())) {
      return g.status();
    }
  }
  if (!frames_in_graph) FUNGEN_RETURN_IF_ERROR(enqueue_letterbox());
  if (exec) {
    CUDA_CHECK(cudaGraphLaunch(exec, stream));
  } else {
    FUNGEN_RETURN_IF_ERROR(enqueue());
  }
  ++s.runs;
  CUDA_CHECK(cudaStreamSynchronize(stream));
  s.input_kept = keep_input_;
  // Rows of image b start at b·max_det·6 (the kernels' stride is options.max_det).
  const auto* counts = static_cast<const int*>(s.result_host.get());
  const auto* dets = reinterpret_cast<const float*>(static_cast<const char*>(s.result_host.get()) +
                                                    align256(sizeof(int) * batch));
  out.assign(frames.size(), {});
  for (size_t k = 0; k < frames.size(); ++k) {
    const float* d = dets + k * static_cast<size_t>(options.max_det) * 6;
    int n = std::min(counts[k], options.max_det);
    out[k].reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i, d += 6) {
      out[k].push_back(Candidate{d[0], d[1], d[2], d[3], d[4], static_cast<int>(d[5])});
    }
  }
  return Status();
}

Result<Tensor> GpuPipeline::output_on_host(int batch) {
  FUNGEN_ASSIGN_OR_RETURN(State * s, state_for(batch));
  if (!s->run) return unsupported("gpu pipeline: the model does not run as one GPU graph");
  Tensor t(DType::kFloat32, s->out.shape);
  auto stream = static_cast<cudaStream_t>(s->run->device_stream());
  CUDA_CHECK(cudaMemcpyAsync(t.raw(), s->out.data, t.nbytes(), cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
  return t;
}

Result<Tensor> GpuPipeline::input_on_host(int batch) {
  FUNGEN_ASSIGN_OR_RETURN(State * s, state_for(batch));
  if (!s->run) return unsupported("gpu pipeline: the model does not run as one GPU graph");
  if (!s->input_kept || !s->kept_input) {
    return invalid_argument(
        "gpu pipeline: no model input kept at batch " + std::to_string(batch) +
        "; call keep_input(true) before detect (the model reuses its input memory)");
  }
  const void* src = s->kept_input.get();
  Tensor t(DType::kFloat32, s->in.shape);
  auto stream = static_cast<cudaStream_t>(s->run->device_stream());
  size_t n = static_cast<size_t>(t.numel());
  if (s->in.dtype == DType::kFloat32) {
    CUDA_CHECK(cudaMemcpyAsync(t.raw(), src, n * 4, cudaMemcpyDeviceToHost, stream));
    CUDA_CHECK(cudaStreamSynchronize(stream));
    return t;
  }
  std::vector<uint16_t> h(n);
  CUDA_CHECK(cudaMemcpyAsync(h.data(), src, n * 2, cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
  float* f = t.data<float>();
  for (size_t i = 0; i < n; ++i) f[i] = float16_to_float(h[i]);
  return t;
}

}  // namespace fungen::detect
