// detector.cpp — Detector: letterbox a batch, run the engine, decode, NMS, map back.
#include <algorithm>
#include <cctype>
#include <cstring>

#include "detect/letterbox.h"
#ifdef FUNGEN_HAVE_CUDA
#include "detect/device_detect.h"
#include "detect/gpu_pipeline.h"
#endif
#include "detect/postprocess.h"
#include "fungen/detector.h"
#include "fungen/log.h"

namespace fungen {

struct Detector::Impl {
  Engine engine;
  DetectorOptions options;
  std::string label;
  int in_w = 640, in_h = 640;
  int static_batch = 0;
  HeadLayout layout = HeadLayout::kRaw;
  bool layout_known = false;
  int num_classes = 0;
  std::map<int, std::string> names;
  Tensor input;
  std::vector<uint8_t> scratch;
#ifdef FUNGEN_HAVE_CUDA
  std::unique_ptr<detect::GpuPipeline> gpu;  // pre/post-processing on the GPU (cuda backend)
#endif

  explicit Impl(Engine e) : engine(std::move(e)) {}
};

namespace {

std::vector<int> ints_in(const std::string& text) {
  std::vector<int> v;
  long long cur = -1;
  for (char c : text) {
    if (std::isdigit(static_cast<unsigned char>(c))) {
      cur = (cur < 0 ? 0 : cur * 10) + (c - '0');
      if (cur > 1 << 20) return {};
    } else if (cur >= 0) {
      v.push_back(static_cast<int>(cur));
      cur = -1;
    }
  }
  if (cur >= 0) v.push_back(static_cast<int>(cur));
  return v;
}

// Boxes of one frame (model-input pixels) → its detections, in the frame's pixels, best first.
void finish_frame(const Detector& det, const Frame& f, const LetterboxParams& params,
                  std::vector<detect::Candidate>& boxes, std::vector<Detection>& dets) {
  detect::map_to_frame(boxes, params, f.width, f.height);
  dets.reserve(boxes.size());
  for (const detect::Candidate& b : boxes) {
    dets.push_back(
        Detection{b.class_id, det.class_name(b.class_id), b.score, b.x1, b.y1, b.x2, b.y2});
  }
  std::stable_sort(dets.begin(), dets.end(), [](const Detection& a, const Detection& b) {
    return a.confidence > b.confidence;
  });
}

std::string meta(const Engine& e, const std::string& key) {
  auto it = e.metadata().find(key);
  return it == e.metadata().end() ? std::string() : it->second;
}

}  // namespace

Detector::Detector(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Detector::Detector(Detector&&) noexcept = default;
Detector& Detector::operator=(Detector&&) noexcept = default;
Detector::~Detector() = default;

Result<Detector> Detector::load(const std::string& model_path, const DetectorOptions& options) {
  EngineOptions eo;
  eo.threads = options.threads;
  eo.backend = options.backend;
  auto engine = Engine::load(model_path, eo);
  if (!engine.ok()) return engine.status();
  auto det = from_engine(std::move(engine).value(), options);
  if (!det.ok()) return det.status().with_context(model_path);
  det->impl_->label = model_path;
  return det;
}

Result<Detector> Detector::from_engine(Engine engine, const DetectorOptions& options) {
  auto impl = std::make_unique<Impl>(std::move(engine));
  impl->options = options;
  impl->label = "model";
  const Engine& e = impl->engine;
  if (e.inputs().size() != 1) {
    return invalid_argument("a YOLO detect model has one input (images); this one has " +
                            std::to_string(e.inputs().size()));
  }
  const TensorInfo& in = e.inputs()[0];
  if (in.shape.size() != 4 || (in.shape[1] != 3 && in.shape[1] != -1)) {
    return invalid_argument("input '" + in.name + "' has shape " + shape_to_string(in.shape) +
                            "; a YOLO detect model takes N x 3 x H x W");
  }
  if (in.dtype != DType::kFloat32) {
    return unsupported("input '" + in.name + "' is " + dtype_name(in.dtype) +
                       "; only float32 exports are supported (export without half=True)");
  }
  std::string task = meta(e, "task");
  if (!task.empty() && task != "detect") {
    return unsupported("the model's task is '" + task + "'; fungen runs detect models only");
  }
  std::vector<int> imgsz = ints_in(meta(e, "imgsz"));
  if (imgsz.size() == 1) imgsz.push_back(imgsz[0]);
  int h = static_cast<int>(in.shape[2]);
  int w = static_cast<int>(in.shape[3]);
  if (h <= 0)
    h = options.input_height > 0 ? options.input_height : (imgsz.size() == 2 ? imgsz[0] : 640);
  if (w <= 0)
    w = options.input_width > 0 ? options.input_width : (imgsz.size() == 2 ? imgsz[1] : 640);
  impl->in_h = h;
  impl->in_w = w;
  impl->static_batch = in.shape[0] > 0 ? static_cast<int>(in.shape[0]) : 0;

  std::string e2e = meta(e, "end2end");
  if (e2e == "True" || e2e == "False") {
    impl->layout = e2e == "True" ? HeadLayout::kEndToEnd : HeadLayout::kRaw;
    impl->layout_known = true;
  } else if (!e.outputs().empty() && e.outputs()[0].shape.size() == 3 &&
             e.outputs()[0].shape[2] > 0) {
    impl->layout = e.outputs()[0].shape[2] == 6 ? HeadLayout::kEndToEnd : HeadLayout::kRaw;
    impl->layout_known = true;
  }
  if (impl->layout == HeadLayout::kRaw && !e.outputs().empty() &&
      e.outputs()[0].shape.size() == 3 && e.outputs()[0].shape[1] > 4) {
    impl->num_classes = static_cast<int>(e.outputs()[0].shape[1]) - 4;
  }

  std::string names_literal = meta(e, "names");
  if (!names_literal.empty()) {
    auto names = parse_class_names(names_literal);
    if (names.ok()) {
      impl->names = std::move(names).value();
    } else {
      log(LogLevel::kWarn, "model metadata 'names' is not readable ({}); using class<N>",
          names.status().message());
    }
  }
  if (impl->names.empty() && !options.names_file.empty()) {
    auto names = read_class_names_file(options.names_file);
    if (!names.ok()) return names.status();
    impl->names = std::move(names).value();
  }
  if (impl->num_classes == 0 && !impl->names.empty())
    impl->num_classes = impl->names.rbegin()->first + 1;
  return Detector(std::move(impl));
}

int Detector::input_width() const {
  return impl_->in_w;
}
int Detector::input_height() const {
  return impl_->in_h;
}
int Detector::static_batch() const {
  return impl_->static_batch;
}
HeadLayout Detector::layout() const {
  return impl_->layout;
}
int Detector::num_classes() const {
  return impl_->num_classes;
}
const std::map<int, std::string>& Detector::class_names() const {
  return impl_->names;
}
Engine& Detector::engine() {
  return impl_->engine;
}

std::string Detector::class_name(int class_id) const {
  auto it = impl_->names.find(class_id);
  return it != impl_->names.end() ? it->second : "class" + std::to_string(class_id);
}

Result<size_t> Detector::activation_bytes(int batch) {
  if (impl_->static_batch > 0) batch = impl_->static_batch;
  Shape shape{batch, 3, impl_->in_h, impl_->in_w};
  FUNGEN_RETURN_IF_ERROR(impl_->engine.prepare({&shape, 1}));
  return impl_->engine.arena_bytes();
}

Result<Tensor> Detector::preprocess(std::span<const Frame> frames) {
  Impl& m = *impl_;
  Tensor t(DType::kFloat32, {static_cast<int64_t>(frames.size()), 3, m.in_h, m.in_w});
  const size_t plane3 = static_cast<size_t>(3) * m.in_w * m.in_h;
  for (size_t k = 0; k < frames.size(); ++k) {
    const Frame& f = frames[k];
    if (f.empty() || f.stride < 3 * f.width)
      return invalid_argument("frame " + std::to_string(k) + " is empty");
    detect::letterbox_to_chw(f, letterbox_params(f.width, f.height, m.in_w, m.in_h), m.in_w, m.in_h,
                             t.data<float>() + k * plane3, m.scratch);
  }
  return t;
}

Result<std::vector<std::vector<Detection>>> Detector::detect(std::span<const Frame> frames,
                                                             const DetectOptions& options) {
  Impl& m = *impl_;
  if (!(options.conf >= 0.f && options.conf <= 1.f)) {
    return invalid_argument("conf " + std::to_string(options.conf) + " is outside [0, 1]");
  }
  if (!(options.iou >= 0.f && options.iou <= 1.f)) {
    return invalid_argument("iou " + std::to_string(options.iou) + " is outside [0, 1]");
  }
  if (options.max_det < 1) return invalid_argument("max_det must be at least 1");
  for (size_t i = 0; i < frames.size(); ++i) {
    const Frame& f = frames[i];
    if (f.empty() || f.stride < 3 * f.width) {
      return invalid_argument("frame " + std::to_string(i) + " is empty or its stride (" +
                              std::to_string(f.stride) + ") is below 3 x width (" +
                              std::to_string(f.width) + ")");
    }
  }
  std::vector<std::vector<Detection>> results(frames.size());
  const size_t n = frames.size();
  size_t chunk = m.static_batch > 0
                     ? static_cast<size_t>(m.static_batch)
                     : (m.options.max_batch > 0 ? static_cast<size_t>(m.options.max_batch)
                                                : std::max<size_t>(n, 1));
  const size_t plane3 = static_cast<size_t>(3) * m.in_w * m.in_h;
  for (size_t begin = 0; begin < n; begin += chunk) {
    size_t count = std::min(chunk, n - begin);
    int64_t batch = m.static_batch > 0 ? m.static_batch : static_cast<int64_t>(count);
#ifdef FUNGEN_HAVE_CUDA
    if (m.options.gpu_pipeline) {
      if (!m.gpu) m.gpu = std::make_unique<detect::GpuPipeline>(m.engine, m.in_w, m.in_h);
      auto on_gpu = m.gpu->available(static_cast<int>(batch));
      if (!on_gpu.ok()) return on_gpu.status().with_context(m.label);
      if (on_gpu.value()) {
        std::vector<std::vector<detect::Candidate>> boxes;
        Status s = m.gpu->detect(frames.subspan(begin, count), static_cast<int>(batch), options,
                                 m.layout_known ? std::optional(m.layout) : std::nullopt, boxes);
        if (!s.ok()) return s.with_context(m.label);
        m.layout = m.gpu->layout();
        m.layout_known = true;
        for (size_t k = 0; k < count; ++k) {
          const Frame& f = frames[begin + k];
          finish_frame(*this, f, letterbox_params(f.width, f.height, m.in_w, m.in_h), boxes[k],
                       results[begin + k]);
        }
        continue;
      }
    }
#endif
    Shape shape{batch, 3, m.in_h, m.in_w};
    if (m.input.empty() || m.input.shape() != shape) m.input = Tensor(DType::kFloat32, shape);
    float* data = m.input.data<float>();
    std::vector<LetterboxParams> params(count);
    for (size_t k = 0; k < count; ++k) {
      const Frame& f = frames[begin + k];
      params[k] = letterbox_params(f.width, f.height, m.in_w, m.in_h);
      detect::letterbox_to_chw(f, params[k], m.in_w, m.in_h, data + k * plane3, m.scratch);
    }
    for (size_t k = count; k < static_cast<size_t>(batch); ++k) {
      detect::fill_padding_image(m.in_w, m.in_h, data + k * plane3);
    }
    std::vector<Tensor> outputs;
    Status s = m.engine.run({&m.input, 1}, outputs);
    if (!s.ok()) return s.with_context(m.label);
    if (outputs.empty() || outputs[0].rank() != 3 || outputs[0].dim(0) != batch) {
      return internal_error(
          m.label + ": output 0 has shape " +
          (outputs.empty() ? std::string("(none)") : shape_to_string(outputs[0].shape())) +
          "; expected " + std::to_string(batch) + " x C x A or " + std::to_string(batch) +
          " x K x 6");
    }
    const Tensor& out = outputs[0];
    if (out.dtype() != DType::kFloat32) {
      return unsupported(m.label + ": output 0 is " + dtype_name(out.dtype()) +
                         "; expected float32");
    }
    if (!m.layout_known) {
      m.layout = out.dim(2) == 6 ? HeadLayout::kEndToEnd : HeadLayout::kRaw;
      m.layout_known = true;
    }
    const int d1 = static_cast<int>(out.dim(1)), d2 = static_cast<int>(out.dim(2));
    if (m.layout == HeadLayout::kRaw) {
      if (d1 <= 4)
        return internal_error(m.label + ": output 0 has " + std::to_string(d1) +
                              " rows; expected 4 + classes");
      m.num_classes = d1 - 4;
    } else if (d2 < 6) {
      return internal_error(m.label + ": end-to-end output has " + std::to_string(d2) +
                            " columns; expected 6");
    }
    for (size_t k = 0; k < count; ++k) {
      const float* o = out.data<float>() + k * static_cast<size_t>(d1) * d2;
      std::vector<detect::Candidate> boxes;
      if (m.layout == HeadLayout::kRaw) {
        boxes = detect::non_max_suppression(detect::raw_candidates(o, d1, d2, options), options);
      } else {
        boxes = detect::end_to_end_candidates(o, d1, d2, options);
      }
      finish_frame(*this, frames[begin + k], params[k], boxes, results[begin + k]);
    }
  }
  return results;
}

#ifdef FUNGEN_HAVE_CUDA
namespace detect {

Result<bool> DeviceDetect::available(Detector& detector, int frames, std::string& why) {
  Detector::Impl& m = *detector.impl_;
  if (!m.options.gpu_pipeline) {
    why = "the detector's GPU pipeline is off";
    return false;
  }
  int batch = m.static_batch > 0 ? m.static_batch : std::max(frames, 1);
  if (!m.gpu) m.gpu = std::make_unique<GpuPipeline>(m.engine, m.in_w, m.in_h);
  FUNGEN_ASSIGN_OR_RETURN(bool ok, m.gpu->available(batch));
  if (!ok) why = "the model does not run as one GPU graph on this backend";
  return ok;
}

Result<gpu::DeviceRemap> DeviceDetect::upload_remap(Detector& detector, const RemapTable& table) {
  Detector::Impl& m = *detector.impl_;
  if (!m.gpu) m.gpu = std::make_unique<GpuPipeline>(m.engine, m.in_w, m.in_h);
  if (table.x.size() != static_cast<size_t>(table.width) * table.height ||
      table.y.size() != table.x.size())
    return invalid_argument("remap table: x/y arrays do not match its size");
  return m.gpu->upload_remap(table.x.data(), table.y.data(), table.width, table.height);
}

Result<std::vector<std::vector<Detection>>> DeviceDetect::detect(
    Detector& detector, std::span<const gpu::DeviceFrame> frames, const gpu::DeviceRemap* remap,
    const DetectOptions& options, int pad_to) {
  Detector::Impl& m = *detector.impl_;
  if (!(options.conf >= 0.f && options.conf <= 1.f) || !(options.iou >= 0.f && options.iou <= 1.f))
    return invalid_argument("conf and iou must be in [0, 1]");
  if (options.max_det < 1) return invalid_argument("max_det must be at least 1");
  if (!m.gpu) m.gpu = std::make_unique<GpuPipeline>(m.engine, m.in_w, m.in_h);
  std::vector<std::vector<Detection>> results(frames.size());
  const size_t n = frames.size();
  const size_t pad = static_cast<size_t>(std::max(pad_to, 0));
  size_t chunk = m.static_batch > 0
                     ? static_cast<size_t>(m.static_batch)
                     : (m.options.max_batch > 0 ? static_cast<size_t>(m.options.max_batch)
                                                : std::max<size_t>({n, pad, 1}));
  std::vector<std::vector<Candidate>> boxes;
  for (size_t begin = 0; begin < n; begin += chunk) {
    size_t count = std::min(chunk, n - begin);
    int batch = m.static_batch > 0 ? m.static_batch
                                   : static_cast<int>(std::max(count, std::min(pad, chunk)));
    Status s = m.gpu->detect_device(frames.subspan(begin, count), remap, batch, options,
                                    m.layout_known ? std::optional(m.layout) : std::nullopt, boxes);
    if (!s.ok()) return s.with_context(m.label);
    m.layout = m.gpu->layout();
    m.layout_known = true;
    for (size_t k = 0; k < count; ++k) {
      const gpu::DeviceFrame& f = frames[begin + k];
      const int w = remap ? remap->width : f.width, h = remap ? remap->height : f.height;
      // finish_frame reads only the frame's size.
      Frame shape;
      shape.width = w, shape.height = h;
      finish_frame(detector, shape, letterbox_params(w, h, m.in_w, m.in_h), boxes[k],
                   results[begin + k]);
    }
  }
  return results;
}

Status DeviceDetect::warm_up(Detector& detector, const DetectOptions& options, int pad_to) {
  Detector::Impl& m = *detector.impl_;
  if (!m.gpu) m.gpu = std::make_unique<GpuPipeline>(m.engine, m.in_w, m.in_h);
  return m.gpu->with_dummy_device_frame(
      [&](const gpu::DeviceFrame& frame, const gpu::DeviceRemap& remap) -> Status {
        for (int i = 0; i < 2; ++i) {  // the first runs eagerly, the second is captured
          auto r = detect(detector, {&frame, 1}, &remap, options, pad_to);
          if (!r.ok()) return r.status();
        }
        return Status();
      });
}

}  // namespace detect
#endif

}  // namespace fungen
