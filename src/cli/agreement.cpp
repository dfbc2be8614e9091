// fungen compare-precision — the agreement of an opt-in precision with fp32 (agreement.h).
//
//   fungen compare-precision --model yolo11n.onnx --precision bf16 --threads 2 --json
//   fungen compare-precision --model yolo11n.onnx --precision int8 --calibrate samples/
#include "cli/agreement.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cli/commands.h"
#include "cli/precision_flags.h"
#include "fungen/detector.h"
#include "fungen/engine.h"
#include "fungen/image.h"

namespace fungen::cli {
namespace {

float iou(const Detection& a, const Detection& b) {
  const float iw = std::max(0.0f, std::min(a.x2, b.x2) - std::max(a.x1, b.x1));
  const float ih = std::max(0.0f, std::min(a.y2, b.y2) - std::max(a.y1, b.y1));
  const float inter = iw * ih;
  const float uni = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return uni > 0 ? inter / uni : 0.0f;
}

// fp32 detections that one of `got` (each used once) reproduces: same class, IoU >= min_iou.
int reproduced(const std::vector<Detection>& want, const std::vector<Detection>& got,
               float min_iou) {
  std::vector<bool> used(got.size(), false);
  int n = 0;
  for (const Detection& w : want) {
    int best = -1;
    float best_iou = min_iou;
    for (size_t j = 0; j < got.size(); ++j) {
      if (used[j] || got[j].class_id != w.class_id) continue;
      float v = iou(w, got[j]);
      if (v >= best_iou) {
        best_iou = v;
        best = static_cast<int>(j);
      }
    }
    if (best >= 0) {
      used[static_cast<size_t>(best)] = true;
      ++n;
    }
  }
  return n;
}

// Raw head N×(4+nc)×A (cx, cy, w, h, class scores), one image: the anchor-level agreement.
void compare_anchors(const Tensor& want, const Tensor& got, float match_iou, AgreementAtConf* at) {
  const Shape& s = want.shape();
  if (s.size() != 3 || s[0] != 1 || s[1] <= 4 || got.shape() != s) return;
  const int64_t nc = s[1] - 4, a = s[2];
  const float* w = want.data<float>();
  const float* g = got.data<float>();
  auto best = [&](const float* p, int64_t i, int* cls) {
    float m = -1;
    for (int64_t c = 0; c < nc; ++c) {
      if (p[(4 + c) * a + i] > m) {
        m = p[(4 + c) * a + i];
        *cls = static_cast<int>(c);
      }
    }
    return m;
  };
  auto box = [&](const float* p, int64_t i) {
    Detection d;
    d.x1 = p[i] - p[2 * a + i] / 2;
    d.x2 = p[i] + p[2 * a + i] / 2;
    d.y1 = p[a + i] - p[3 * a + i] / 2;
    d.y2 = p[a + i] + p[3 * a + i] / 2;
    return d;
  };
  for (int64_t i = 0; i < a; ++i) {
    int cw = 0, cg = 0;
    if (best(w, i, &cw) <= at->conf) continue;
    ++at->fp32_anchors;
    if (best(g, i, &cg) > at->conf && cg == cw && iou(box(w, i), box(g, i)) >= match_iou)
      ++at->anchors_kept;
  }
}

Result<std::vector<Image>> agreement_images(const AgreementOptions& o, std::string* source) {
  std::vector<Image> images;
  if (o.images_dir.empty()) {
    // tests/e2e's synthetic pictures, then more seeds at 1280x720.
    const struct {
      int w, h;
      uint32_t seed;
    } kImages[] = {{640, 640, 1},  {1920, 1080, 2}, {717, 391, 3},  {480, 854, 4},
                   {1280, 720, 5}, {1280, 720, 6},  {1280, 720, 7}, {1280, 720, 8}};
    for (const auto& i : kImages) images.push_back(make_test_image(i.w, i.h, i.seed));
    *source =
        "synthetic (fungen detect --make-test-image: 640x640/1, 1920x1080/2, 717x391/3, "
        "480x854/4, 1280x720/5-8)";
    return images;
  }
  FUNGEN_ASSIGN_OR_RETURN(auto paths, list_images(o.images_dir));
  for (const std::string& p : paths) {
    FUNGEN_ASSIGN_OR_RETURN(Image img, read_image(p));
    images.push_back(std::move(img));
  }
  *source = o.images_dir;
  return images;
}

}  // namespace

Result<Agreement> measure_agreement(const AgreementOptions& o) {
  Agreement a;
  FUNGEN_ASSIGN_OR_RETURN(std::vector<Image> images, agreement_images(o, &a.image_source));
  EngineOptions ref_opt;
  ref_opt.threads = o.threads;
  ref_opt.backend = "cpu";
  EngineOptions opt = ref_opt;
  opt.precision = o.precision;
  opt.calibration = o.calibration;
  FUNGEN_ASSIGN_OR_RETURN(Engine ref_engine, Engine::load(o.model, ref_opt));
  FUNGEN_ASSIGN_OR_RETURN(Engine engine, Engine::load(o.model, opt));
  FUNGEN_ASSIGN_OR_RETURN(Detector ref, Detector::from_engine(std::move(ref_engine)));
  FUNGEN_ASSIGN_OR_RETURN(Detector det, Detector::from_engine(std::move(engine)));
  a.max_det = o.max_det;
  a.match_iou = o.match_iou;
  a.end_to_end = ref.layout() == HeadLayout::kEndToEnd;
  a.at.resize(o.confs.size());
  for (size_t c = 0; c < o.confs.size(); ++c) a.at[c].conf = o.confs[c];
  double sum = 0;
  int64_t count = 0;
  std::vector<Tensor> want, got;
  for (const Image& img : images) {
    Frame f = img.frame();
    FUNGEN_ASSIGN_OR_RETURN(Tensor x, ref.preprocess({&f, 1}));
    FUNGEN_RETURN_IF_ERROR(ref.engine().run({&x, 1}, want));
    FUNGEN_RETURN_IF_ERROR(det.engine().run({&x, 1}, got));
    // Engine outputs live until the engine's next run (detect() below): keep copies.
    for (Tensor& t : want) t = t.clone();
    for (Tensor& t : got) t = t.clone();
    for (size_t i = 0; i < want.size() && i < got.size(); ++i) {
      if (want[i].dtype() != DType::kFloat32 || got[i].dtype() != DType::kFloat32) continue;
      const float* p = want[i].data<float>();
      const float* q = got[i].data<float>();
      for (int64_t k = 0; k < want[i].numel(); ++k) {
        const double d = std::abs(static_cast<double>(p[k]) - q[k]);
        a.max_abs = std::max(a.max_abs, d);
        a.max_ref = std::max(a.max_ref, static_cast<double>(std::abs(p[k])));
        sum += d;
      }
      count += want[i].numel();
    }
    for (AgreementAtConf& at : a.at) {
      if (ref.layout() == HeadLayout::kRaw && !want.empty() && !got.empty())
        compare_anchors(want[0], got[0], o.match_iou, &at);
      DetectOptions d;
      d.conf = at.conf;
      d.iou = o.nms_iou;
      d.max_det = o.max_det;
      FUNGEN_ASSIGN_OR_RETURN(auto w, ref.detect({&f, 1}, d));
      FUNGEN_ASSIGN_OR_RETURN(auto g, det.detect({&f, 1}, d));
      at.fp32_detections += static_cast<int>(w[0].size());
      at.detections += static_cast<int>(g[0].size());
      at.reproduced += reproduced(w[0], g[0], o.match_iou);
    }
    ++a.images;
  }
  a.mean_abs = count ? sum / static_cast<double>(count) : 0.0;
  return a;
}

nlohmann::ordered_json agreement_json(const Agreement& a) {
  nlohmann::ordered_json j;
  j["images"] = a.images;
  j["image_source"] = a.image_source;
  j["max_abs_error"] = a.max_abs;
  j["mean_abs_error"] = a.mean_abs;
  j["max_abs_fp32"] = a.max_ref;
  j["max_det"] = a.max_det;
  j["head"] = a.end_to_end ? "end_to_end" : "raw";
  j["match_iou"] = a.match_iou;  // same class and IoU >= this
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const AgreementAtConf& at : a.at) {
    list.push_back({{"conf", at.conf},
                    {"fp32_detections", at.fp32_detections},
                    {"detections", at.detections},
                    {"reproduced", at.reproduced},
                    {"reproduced_share", at.share()},
                    {"fp32_anchors", at.fp32_anchors},
                    {"anchors_kept", at.anchors_kept},
                    {"anchors_kept_share",
                     at.fp32_anchors ? double(at.anchors_kept) / at.fp32_anchors : 1.0}});
  }
  j["detections"] = list;
  return j;
}

std::string agreement_text(const Agreement& a, const std::string& precision) {
  char line[512];
  std::snprintf(line, sizeof line,
                "%s vs fp32 on %d image(s): raw outputs max |err| %.4g, mean |err| %.4g "
                "(largest |fp32| %.4g)\n",
                precision.c_str(), a.images, a.max_abs, a.mean_abs, a.max_ref);
  std::string out = line;
  if (a.end_to_end) {
    out +=
        "  (end-to-end head: its raw rows are the model's TopK picks, compared row by row, so the "
        "raw error also counts a different pick order; the detection share is the measure)\n";
  }
  for (const AgreementAtConf& at : a.at) {
    std::snprintf(line, sizeof line,
                  "  conf %.2f: %d/%d fp32 detections reproduced (%.2f%%; same class, IoU >= %.2f, "
                  "max_det %d), %s made %d%s\n",
                  at.conf, at.reproduced, at.fp32_detections, 100.0 * at.share(), a.match_iou,
                  a.max_det, precision.c_str(), at.detections,
                  at.fp32_detections < 20 ? "  [few fp32 detections: weak evidence]" : "");
    out += line;
    if (at.fp32_anchors) {
      std::snprintf(line, sizeof line,
                    "             before NMS: %d/%d fp32 candidate anchors kept (%.2f%%; score > "
                    "conf, same class, box IoU >= %.2f)\n",
                    at.anchors_kept, at.fp32_anchors, 100.0 * at.anchors_kept / at.fp32_anchors,
                    a.match_iou);
      out += line;
    }
  }
  return out;
}

namespace {

struct CompareOptions {
  std::string model;
  PrecisionFlags precision;
  int threads = 0;
  std::string images;
  std::vector<float> confs;
  int max_det = 300;
  bool json = false;
};

int run_compare(const CompareOptions& c) {
  AgreementOptions o;
  o.model = c.model;
  o.precision = c.precision.precision;
  o.threads = c.threads;
  o.images_dir = c.images;
  if (!c.confs.empty()) o.confs = c.confs;
  o.max_det = c.max_det;
  auto cal = load_calibration(c.model, c.precision, c.threads);
  if (!cal.ok()) return report(cal.status());
  o.calibration = cal.value();
  auto a = measure_agreement(o);
  if (!a.ok()) return report(a.status().with_context(c.model));
  if (c.json) {
    nlohmann::ordered_json j = {{"model", c.model}, {"precision", o.precision}};
    const nlohmann::ordered_json fields = agreement_json(*a);
    for (auto& [k, v] : fields.items()) j[k] = v;
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("%s: %s (images: %s)\n", c.model.c_str(), o.precision.c_str(),
                a->image_source.c_str());
    std::printf("%s", agreement_text(*a, o.precision).c_str());
  }
  return 0;
}

}  // namespace

Action add_compare_precision_command(CLI::App& app) {
  auto opt = std::make_shared<CompareOptions>();
  opt->precision.precision = "bf16";
  CLI::App* cmd = app.add_subcommand(
      "compare-precision",
      "Agreement of bf16/int8 with fp32 on the cpu backend: raw output error, detections kept");
  cmd->add_option("-m,--model", opt->model, "ONNX model file")
      ->required()
      ->check(CLI::ExistingFile);
  add_precision_flags(cmd, opt->precision, {"bf16", "int8"});
  cmd->add_option("-t,--threads", opt->threads, "Worker threads (0 = physical cores)")
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--images", opt->images,
                  "Folder of images (default: 8 synthetic test images as in tests/e2e)");
  cmd->add_option("--conf", opt->confs, "Confidence thresholds (default 0.25), e.g. 0.25,0.1")
      ->delimiter(',');
  cmd->add_option("--max-det", opt->max_det, "Detections kept per image (default 300)")
      ->check(CLI::Range(1, 1000000));
  cmd->add_flag("--json", opt->json, "Print one JSON object on stdout");
  return [opt] { return run_compare(*opt); };
}

}  // namespace fungen::cli
