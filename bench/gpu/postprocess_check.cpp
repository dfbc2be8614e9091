// postprocess_check.cpp — GPU detections (backends/cuda/postprocess.cuh) against
// detect/postprocess.cpp on random heads: raw outputs with clusters of jittered boxes around
// random objects and scores quantized to 1/64 (many exact ties), end-to-end rows.
#include <cuda_runtime.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "backends/cuda/postprocess.cuh"
#include "bench/gpu/pipeline_checks.h"
#include "detect/postprocess.h"

namespace fungen::bench {
namespace {

float quantize(float v) {
  return std::round(v * 64.f) / 64.f;
}

// One raw image [4+nc, A]: half the anchors see an object (jittered box, its class scores high).
void raw_image(int nc, int anchors, std::mt19937& rng, float* o) {
  std::uniform_real_distribution<float> u(0.f, 1.f);
  struct Obj {
    float cx, cy, w, h, score;
    int cls;
  };
  std::vector<Obj> objs(rng() % 40);
  for (Obj& ob : objs) {
    ob = {u(rng) * 640,     u(rng) * 640,         8 + u(rng) * 300,
          8 + u(rng) * 300, 0.3f + 0.7f * u(rng), static_cast<int>(rng() % nc)};
  }
  for (int a = 0; a < anchors; ++a) {
    bool hit = !objs.empty() && rng() % 2;
    const Obj* ob = hit ? &objs[rng() % objs.size()] : nullptr;
    float j = 0.1f;
    float cx = hit ? ob->cx * (1 + j * (u(rng) - 0.5f)) : u(rng) * 640;
    float cy = hit ? ob->cy * (1 + j * (u(rng) - 0.5f)) : u(rng) * 640;
    float w = hit ? ob->w * (1 + j * (u(rng) - 0.5f)) : 4 + u(rng) * 100;
    float h = hit ? ob->h * (1 + j * (u(rng) - 0.5f)) : 4 + u(rng) * 100;
    if (hit && rng() % 8 == 0) cx = ob->cx, cy = ob->cy, w = ob->w, h = ob->h;  // duplicates
    o[a] = cx, o[anchors + a] = cy, o[2 * anchors + a] = w, o[3 * anchors + a] = h;
    for (int c = 0; c < nc; ++c) {
      float s = hit && c == ob->cls ? ob->score * (0.7f + 0.3f * u(rng)) : 0.3f * u(rng);
      o[static_cast<size_t>(4 + c) * anchors + a] = quantize(s);
    }
  }
}

bool equal(const std::vector<detect::Candidate>& a, const float* d, int n, std::string& why) {
  if (static_cast<int>(a.size()) != n) {
    why = std::to_string(n) + " boxes vs " + std::to_string(a.size()) + " on the CPU";
    return false;
  }
  for (int i = 0; i < n; ++i, d += 6) {
    const detect::Candidate& c = a[static_cast<size_t>(i)];
    if (c.x1 != d[0] || c.y1 != d[1] || c.x2 != d[2] || c.y2 != d[3] || c.score != d[4] ||
        c.class_id != static_cast<int>(d[5])) {
      why = "box " + std::to_string(i) + " differs";
      return false;
    }
  }
  return true;
}

struct Device {
  std::vector<void*> ptrs;
  void* alloc(size_t n) {
    void* p = nullptr;
    cudaMalloc(&p, std::max<size_t>(n, 16));
    ptrs.push_back(p);
    return p;
  }
  ~Device() {
    for (void* p : ptrs) cudaFree(p);
  }
};

cuda::DetectParams params_of(const DetectOptions& o, Device& dev) {
  cuda::DetectParams p;
  p.conf = o.conf, p.iou = o.iou, p.max_det = o.max_det, p.max_nms = o.max_nms;
  p.agnostic = o.agnostic;
  if (!o.classes.empty()) {
    int n = 1;
    for (int c : o.classes) n = std::max(n, c + 1);
    std::vector<uint8_t> flags(static_cast<size_t>(n), 0);
    for (int c : o.classes) flags[static_cast<size_t>(c)] = 1;
    void* d = dev.alloc(flags.size());
    cudaMemcpy(d, flags.data(), flags.size(), cudaMemcpyHostToDevice);
    p.allowed = static_cast<const uint8_t*>(d);
    p.num_allowed = n;
  }
  return p;
}

std::vector<DetectOptions> option_sets() {
  std::vector<DetectOptions> v(7);
  v[1].conf = 0.1f, v[1].iou = 0.7f;
  v[2].agnostic = true;
  v[3].classes = {0, 2, 5};
  v[4].max_det = 7;
  v[5].max_nms = 40;
  v[6].conf = 0.0f, v[6].iou = 0.3f;
  return v;
}

}  // namespace

const char* nms_method_name(int nms_method) {
  switch (static_cast<cuda::NmsMethod>(nms_method)) {
    case cuda::NmsMethod::kMask:
      return "mask";
    case cuda::NmsMethod::kPerBox:
      return "per-box";
    case cuda::NmsMethod::kGrouped:
      return "grouped";
  }
  return "?";
}

int check_postprocess(uint32_t seed) {
  std::mt19937 rng(seed);
  int failures = 0;
  const int shapes[][3] = {{2, 80, 8400}, {3, 3, 1000}, {1, 1, 33600}, {4, 80, 2100}};
  int cases = 0;
  for (auto& sh : shapes) {
    const int batch = sh[0], nc = sh[1], anchors = sh[2], ch = 4 + nc;
    std::vector<float> out(static_cast<size_t>(batch) * ch * anchors);
    for (int b = 0; b < batch; ++b)
      raw_image(nc, anchors, rng, out.data() + static_cast<size_t>(b) * ch * anchors);
    for (int method = 0; method < 3; ++method) {
      for (const DetectOptions& o : option_sets()) {
        Device dev;
        auto* d_out = static_cast<float*>(dev.alloc(out.size() * 4));
        cudaMemcpy(d_out, out.data(), out.size() * 4, cudaMemcpyHostToDevice);
        cuda::DetectParams params = params_of(o, dev);
        params.method = static_cast<cuda::NmsMethod>(method);
        size_t ws = cuda::raw_detect_workspace_bytes(batch, anchors);
        void* d_ws = dev.alloc(ws);
        cuda::DetectOutput r;
        r.dets = static_cast<float*>(dev.alloc(sizeof(float) * 6 * batch * o.max_det));
        r.count = static_cast<int*>(dev.alloc(sizeof(int) * batch));
        cudaError_t e = cuda::raw_detect(d_out, batch, ch, anchors, params, d_ws, ws, r, nullptr);
        std::vector<float> dets(static_cast<size_t>(6) * batch * o.max_det);
        std::vector<int> counts(batch);
        cudaMemcpy(dets.data(), r.dets, dets.size() * 4, cudaMemcpyDeviceToHost);
        cudaMemcpy(counts.data(), r.count, counts.size() * 4, cudaMemcpyDeviceToHost);
        cudaError_t e2 = cudaDeviceSynchronize();
        for (int b = 0; b < batch; ++b) {
          const float* img = out.data() + static_cast<size_t>(b) * ch * anchors;
          auto cpu = detect::non_max_suppression(detect::raw_candidates(img, ch, anchors, o), o);
          std::string why;
          bool ok =
              e == cudaSuccess && e2 == cudaSuccess &&
              equal(cpu, dets.data() + static_cast<size_t>(b) * o.max_det * 6, counts[b], why);
          ++cases;
          if (!ok) {
            ++failures;
            std::printf(
                "FAIL nms %s raw %dx%dx%d image %d (conf %.2f iou %.2f agnostic %d classes %zu "
                "max_det %d max_nms %d): %s %s\n",
                nms_method_name(method), batch, ch, anchors, b, o.conf, o.iou, o.agnostic,
                o.classes.size(), o.max_det, o.max_nms, why.c_str(),
                cudaGetErrorString(e != cudaSuccess ? e : e2));
          }
        }
      }
    }
  }
  // End-to-end heads [B, K, 6].
  {
    const int batch = 3, rows = 300, cols = 6;
    std::uniform_real_distribution<float> u(0.f, 1.f);
    std::vector<float> out(static_cast<size_t>(batch) * rows * cols);
    for (size_t i = 0; i < out.size(); i += cols) {
      out[i] = u(rng) * 600, out[i + 1] = u(rng) * 600;
      out[i + 2] = out[i] + u(rng) * 100, out[i + 3] = out[i + 1] + u(rng) * 100;
      out[i + 4] = quantize(u(rng)), out[i + 5] = static_cast<float>(rng() % 80);
    }
    for (const DetectOptions& o : option_sets()) {
      Device dev;
      auto* d_out = static_cast<float*>(dev.alloc(out.size() * 4));
      cudaMemcpy(d_out, out.data(), out.size() * 4, cudaMemcpyHostToDevice);
      cuda::DetectOutput r;
      r.dets = static_cast<float*>(dev.alloc(sizeof(float) * 6 * batch * o.max_det));
      r.count = static_cast<int*>(dev.alloc(sizeof(int) * batch));
      cudaError_t e =
          cuda::end_to_end_detect(d_out, batch, rows, cols, params_of(o, dev), r, nullptr);
      std::vector<float> dets(static_cast<size_t>(6) * batch * o.max_det);
      std::vector<int> counts(batch);
      cudaMemcpy(dets.data(), r.dets, dets.size() * 4, cudaMemcpyDeviceToHost);
      cudaMemcpy(counts.data(), r.count, counts.size() * 4, cudaMemcpyDeviceToHost);
      cudaError_t e2 = cudaDeviceSynchronize();
      for (int b = 0; b < batch; ++b) {
        auto cpu = detect::end_to_end_candidates(out.data() + static_cast<size_t>(b) * rows * cols,
                                                 rows, cols, o);
        std::string why;
        bool ok = e == cudaSuccess && e2 == cudaSuccess &&
                  equal(cpu, dets.data() + static_cast<size_t>(b) * o.max_det * 6, counts[b], why);
        ++cases;
        if (!ok) {
          ++failures;
          std::printf("FAIL nms end-to-end image %d (conf %.2f, max_det %d): %s\n", b, o.conf,
                      o.max_det, why.c_str());
        }
      }
    }
  }
  std::printf(
      "%s postprocess: %d image cases (raw clustered heads with ties, mask, per-box and "
      "grouped NMS; end-to-end), equal to the CPU field for field\n",
      failures ? "FAIL" : "PASS", cases);
  return failures;
}

}  // namespace fungen::bench
