// preprocess_check.cpp — the fused letterbox kernel (detect/gpu_preprocess.h) against the CPU:
// a plain reference sampler (video/frame_sampler's build_taps/bilerp8/colour rules, written out
// here so the check runs without FFmpeg) makes the picture, detect::letterbox_to_chw the input.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "backends/cuda/frame_upload.h"
#include "bench/gpu/pipeline_checks.h"
#include "detect/gpu_preprocess.h"
#include "detect/letterbox.h"
#include "ops/op_util.h"
#ifdef FUNGEN_HAVE_VIDEO
#include "fungen/video.h"
#include "video/frame_sampler.h"
extern "C" {
#include <libavutil/frame.h>
}
#endif

namespace fungen::bench {
namespace {

struct Tap {
  int offset = -1, wx = 0, wy = 0, sx = 0, sy = 0;
};

// video::build_taps for one point.
Tap make_tap(float x, float y, int pw, int ph, int linesize, int epp) {
  Tap t;
  if (std::isnan(x) || std::isnan(y)) return t;
  x = std::clamp(x, 0.f, static_cast<float>(pw - 1));
  y = std::clamp(y, 0.f, static_cast<float>(ph - 1));
  int x0 = std::min(static_cast<int>(x), std::max(pw - 2, 0));
  int y0 = std::min(static_cast<int>(y), std::max(ph - 2, 0));
  t.wx = std::min(static_cast<int>(std::lround((x - x0) * 128.f)), 128);
  t.wy = std::min(static_cast<int>(std::lround((y - y0) * 128.f)), 128);
  t.offset = y0 * linesize + x0 * epp;
  t.sx = pw > 1 ? epp : 0;
  t.sy = ph > 1 ? linesize : 0;
  return t;
}

int bilerp(const uint8_t* p, const Tap& t, int o) {
  int a = p[o], b = p[o + t.sx], c = p[o + t.sy], d = p[o + t.sx + t.sy];
  int top = a * 128 + (b - a) * t.wx, bot = c * 128 + (d - c) * t.wx;
  return top * 128 + (bot - top) * t.wy;
}

uint8_t to_u8(float v) {
  return static_cast<uint8_t>(std::clamp(v, 0.f, 255.f) + 0.5f);
}

struct Source {
  gpu::PixelFormat format = gpu::PixelFormat::kBgr24;
  gpu::YuvMatrix matrix = gpu::YuvMatrix::kBt709;
  bool full = false;
  int w = 0, h = 0;
  std::vector<uint8_t> p0, p1;  // host planes
  int pitch0 = 0, pitch1 = 0;
};

// One picture pixel as B, G, R from frame coordinates (x, y).
void sample(const Source& s, float x, float y, uint8_t* bgr) {
  bgr[0] = bgr[1] = bgr[2] = 0;
  if (s.format != gpu::PixelFormat::kNv12) {
    Tap t = make_tap(x, y, s.w, s.h, s.pitch0, 3);
    if (t.offset < 0) return;
    bool rgb = s.format == gpu::PixelFormat::kRgb24;
    for (int c = 0; c < 3; ++c)
      bgr[rgb ? 2 - c : c] =
          static_cast<uint8_t>((bilerp(s.p0.data(), t, t.offset + c) + 8192) >> 14);
    return;
  }
  Tap lt = make_tap(x, y, s.w, s.h, s.pitch0, 1);
  if (lt.offset < 0) return;
  Tap ct = make_tap((x + 0.5f) * 0.5f - 0.5f, (y + 0.5f) * 0.5f - 0.5f, (s.w + 1) / 2,
                    (s.h + 1) / 2, s.pitch1, 2);
  float kr = 0.299f, kb = 0.114f;
  if (s.matrix == gpu::YuvMatrix::kBt709) kr = 0.2126f, kb = 0.0722f;
  if (s.matrix == gpu::YuvMatrix::kBt2020) kr = 0.2627f, kb = 0.0593f;
  float kg = 1.f - kr - kb;
  float ysc = s.full ? 1.f : 1.f * 255.f / 219.f, yoff = s.full ? 0.f : -16.f * 255.f / 219.f;
  float csc = s.full ? 1.f : 1.f * 255.f / 224.f, coff = s.full ? -128.f : -128.f * 255.f / 224.f;
  float r_v = 2.f * (1.f - kr), b_u = 2.f * (1.f - kb);
  float g_u = -2.f * kb * (1.f - kb) / kg, g_v = -2.f * kr * (1.f - kr) / kg;
  const float tap = 1.f / 16384.f;
  float ys = ysc * tap, cs = csc * tap;
  float Y = static_cast<float>(bilerp(s.p0.data(), lt, lt.offset)) * ys + yoff;
  float U = static_cast<float>(bilerp(s.p1.data(), ct, ct.offset)) * cs + coff;
  float V = static_cast<float>(bilerp(s.p1.data(), ct, ct.offset + 1)) * cs + coff;
  bgr[0] = to_u8(Y + b_u * U);
  bgr[1] = to_u8(Y + g_u * U + g_v * V);
  bgr[2] = to_u8(Y + r_v * V);
}

Source make_source(gpu::PixelFormat f, int w, int h, std::mt19937& rng) {
  Source s;
  s.format = f;
  s.w = w, s.h = h;
  s.pitch0 = (f == gpu::PixelFormat::kNv12 ? w : 3 * w) + static_cast<int>(rng() % 9);
  s.p0.resize(static_cast<size_t>(s.pitch0) * h);
  for (auto& v : s.p0) v = static_cast<uint8_t>(rng());
  if (f == gpu::PixelFormat::kNv12) {
    s.pitch1 = 2 * ((w + 1) / 2) + static_cast<int>(rng() % 9);
    s.p1.resize(static_cast<size_t>(s.pitch1) * ((h + 1) / 2));
    for (auto& v : s.p1) v = static_cast<uint8_t>(rng());
  }
  return s;
}

template <class T>
T* upload(const std::vector<T>& v) {
  T* d = nullptr;
  if (cudaMalloc(&d, std::max<size_t>(v.size() * sizeof(T), 16)) != cudaSuccess) return nullptr;
  cudaMemcpy(d, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice);
  return d;
}

}  // namespace

Image random_image(int width, int height, std::mt19937& rng) {
  Image im(width, height);
  // Smooth blobs over noise, so the resize sees gradients as well as edges.
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c)
        im.pixel(x, y)[c] = static_cast<uint8_t>(
            std::clamp(static_cast<int>(128 + 100 * std::sin(0.013 * x * (c + 1) + 0.021 * y)) +
                           static_cast<int>(rng() % 40) - 20,
                       0, 255));
  return im;
}

int check_preprocess(uint32_t seed) {
  std::mt19937 rng(seed);
  const int sizes[][2] = {{1920, 1080}, {1277, 713}, {333, 999},  {640, 640},
                          {17, 31},     {2001, 301}, {3840, 2160}};
  const int inputs[][2] = {{640, 640}, {640, 384}};
  struct Fmt {
    gpu::PixelFormat f;
    gpu::YuvMatrix m;
    bool full;
    const char* name;
  } fmts[] = {{gpu::PixelFormat::kBgr24, gpu::YuvMatrix::kBt709, false, "bgr"},
              {gpu::PixelFormat::kRgb24, gpu::YuvMatrix::kBt709, false, "rgb"},
              {gpu::PixelFormat::kNv12, gpu::YuvMatrix::kBt709, false, "nv12-709"},
              {gpu::PixelFormat::kNv12, gpu::YuvMatrix::kBt601, true, "nv12-601-full"}};
  int failures = 0, cases = 0;
  size_t rows_sent = 0, rows_total = 0;  // the row-planned uploads of packed frames
  double worst16 = 0;
  for (size_t si = 0; si < std::size(sizes); ++si) {
    for (const Fmt& fm : fmts) {
      for (int use_map = 0; use_map < 2; ++use_map) {
        const int w = sizes[si][0], h = sizes[si][1];
        const int in_w = inputs[(si + use_map) % 2][0], in_h = inputs[(si + use_map) % 2][1];
        Source s = make_source(fm.f, w, h, rng);
        s.matrix = fm.m, s.full = fm.full;
        // Picture: the frame, or a remap table of an odd size with NaNs and outside points.
        int pw = w, ph = h;
        std::vector<float> mx, my;
        if (use_map) {
          pw = 401 + static_cast<int>(rng() % 300), ph = 257 + static_cast<int>(rng() % 400);
          std::uniform_real_distribution<float> ux(-3.f, w + 2.f), uy(-3.f, h + 2.f);
          mx.resize(static_cast<size_t>(pw) * ph), my.resize(mx.size());
          for (size_t i = 0; i < mx.size(); ++i) {
            mx[i] = ux(rng), my[i] = uy(rng);
            if (rng() % 31 == 0) mx[i] = NAN;
          }
        }
        Image pic(pw, ph);
        for (int y = 0; y < ph; ++y)
          for (int x = 0; x < pw; ++x) {
            size_t i = static_cast<size_t>(y) * pw + x;
            if (use_map) {
              sample(s, mx[i], my[i], pic.pixel(x, y));
            } else if (fm.f == gpu::PixelFormat::kNv12) {
              sample(s, static_cast<float>(x), static_cast<float>(y), pic.pixel(x, y));
            } else {
              const uint8_t* p = s.p0.data() + static_cast<size_t>(y) * s.pitch0 + 3 * x;
              bool rgb = fm.f == gpu::PixelFormat::kRgb24;
              for (int c = 0; c < 3; ++c) pic.pixel(x, y)[rgb ? 2 - c : c] = p[c];
            }
          }
        LetterboxParams lp = letterbox_params(pw, ph, in_w, in_h);
        const size_t n = static_cast<size_t>(3) * in_w * in_h;
        std::vector<float> ref(n);
        std::vector<uint8_t> scratch;
        detect::letterbox_to_chw(pic.frame(), lp, in_w, in_h, ref.data(), scratch);

        gpu::DeviceFrame df;
        df.format = fm.f, df.width = w, df.height = h, df.matrix = fm.m, df.full_range = fm.full;
        uint8_t* d0 = upload(s.p0);
        uint8_t* d1 = fm.f == gpu::PixelFormat::kNv12 ? upload(s.p1) : nullptr;
        df.data[0] = d0, df.data[1] = d1, df.pitch[0] = s.pitch0, df.pitch[1] = s.pitch1;
        float* dmap = nullptr;
        gpu::DeviceRemap remap;
        if (use_map) {
          cudaMalloc(&dmap, mx.size() * 2 * sizeof(float));
          Status st = gpu::upload_remap_table(mx.data(), my.data(), pw, ph, dmap);
          if (!st.ok()) std::printf("  %s\n", st.message().c_str());
          remap = {dmap, pw, ph};
        }
        void* dout = nullptr;
        cudaMalloc(&dout, n * 4);
        std::vector<float> got32(n);
        std::vector<uint16_t> got16(n);
        Status a = gpu::letterbox_on_device(df, use_map ? &remap : nullptr, lp, dout,
                                            gpu::InputType::kF32, in_w, in_h, nullptr);
        cudaMemcpy(got32.data(), dout, n * 4, cudaMemcpyDeviceToHost);
        Status b = gpu::letterbox_on_device(df, use_map ? &remap : nullptr, lp, dout,
                                            gpu::InputType::kF16, in_w, in_h, nullptr);
        cudaMemcpy(got16.data(), dout, n * 2, cudaMemcpyDeviceToHost);
        // Packed frames as the pipeline uploads them (frame_upload.h): only the rows the plan
        // says the letterbox reads; the others hold the frame's complement, so reading one of
        // them shows up as a difference.
        size_t diff_rows = 0;
        cudaError_t err_rows = cudaSuccess;
        if (!use_map && fm.f != gpu::PixelFormat::kNv12) {
          std::vector<float> got_rows(n);
          std::vector<uint8_t> poison(s.p0.size());
          for (size_t i = 0; i < poison.size(); ++i) poison[i] = static_cast<uint8_t>(~s.p0[i]);
          const bool contiguous = (cases & 1) != 0, pinned = (cases & 2) != 0;
          auto runs = cuda::letterbox_row_runs(h, lp, in_h, contiguous);
          for (const cuda::RowRun& r : runs) rows_sent += static_cast<size_t>(r.count) * r.rows;
          rows_total += static_cast<size_t>(h);
          uint8_t* stage = nullptr;
          if (!pinned) err_rows = cudaMallocHost(&stage, s.p0.size());
          if (err_rows == cudaSuccess)
            err_rows = cudaMemcpy(d0, poison.data(), poison.size(), cudaMemcpyHostToDevice);
          if (err_rows == cudaSuccess) {
            err_rows = cuda::upload_frame_rows(Frame{w, h, s.pitch0, s.p0.data()}, pinned, d0,
                                               static_cast<size_t>(s.pitch0), runs, stage, nullptr);
          }
          Status c = gpu::letterbox_on_device(df, nullptr, lp, dout, gpu::InputType::kF32, in_w,
                                              in_h, nullptr);
          if (err_rows == cudaSuccess) err_rows = cudaDeviceSynchronize();
          if (err_rows == cudaSuccess)
            err_rows = cudaMemcpy(got_rows.data(), dout, n * 4, cudaMemcpyDeviceToHost);
          if (!c.ok() && err_rows == cudaSuccess) err_rows = cudaErrorUnknown;
          if (stage) cudaFreeHost(stage);
          for (size_t i = 0; i < n; ++i) diff_rows += got_rows[i] != ref[i];
          if (diff_rows || err_rows != cudaSuccess) {
            std::printf(
                "FAIL preprocess %s %dx%d -> %dx%d with only the planned rows uploaded "
                "(%zu runs, %s, %s): %zu of %zu values differ%s%s\n",
                fm.name, w, h, in_w, in_h, runs.size(), contiguous ? "blocks" : "single rows",
                pinned ? "direct" : "staged", diff_rows, n,
                err_rows == cudaSuccess ? "" : ", CUDA error ",
                err_rows == cudaSuccess ? "" : cudaGetErrorString(err_rows));
          }
        }
        cudaError_t err = cudaDeviceSynchronize();
        cudaFree(dout), cudaFree(dmap), cudaFree(d0), cudaFree(d1);
        size_t diff32 = 0, diff16 = 0;
        double max16 = 0;
        for (size_t i = 0; i < n; ++i) {
          diff32 += got32[i] != ref[i];
          // fp16: the bits the engine's fp32 -> fp16 input cast (round to nearest even) gives
          // the CPU letterbox, so both paths feed an fp16 model the same input.
          diff16 += got16[i] != float_to_float16(ref[i]);
          max16 =
              std::max(max16, static_cast<double>(std::fabs(float16_to_float(got16[i]) - ref[i])));
        }
        worst16 = std::max(worst16, max16);
        bool ok = a.ok() && b.ok() && err == cudaSuccess && diff32 == 0 && diff16 == 0 &&
                  diff_rows == 0 && err_rows == cudaSuccess;
        ++cases;
        if (!ok) {
          ++failures;
          std::printf(
              "FAIL preprocess %s %dx%d%s -> %dx%d: fp32 %zu of %zu values differ, fp16 %zu "
              "differ from the rounded CPU value (max err %.3g)%s%s\n",
              fm.name, w, h, use_map ? " remap" : "", in_w, in_h, diff32, n, diff16, max16,
              a.ok() ? "" : (" " + a.message()).c_str(), cudaGetErrorString(err));
        }
      }
    }
  }
  std::printf(
      "%s preprocess: %d cases (bgr/rgb/nv12, remap or not, odd sizes), fp32 exact, fp16 "
      "bit-exact with the CPU value rounded to fp16 (max err vs fp32 %.3g); packed frames also "
      "exact from only the rows the letterbox reads (%zu of %zu rows uploaded)\n",
      failures ? "FAIL" : "PASS", cases, worst16, rows_sent, rows_total);
  return failures;
}

int check_reference_sampler(uint32_t seed) {
#ifdef FUNGEN_HAVE_VIDEO
  std::mt19937 rng(seed);
  int failures = 0, cases = 0;
  const int sizes[][2] = {{1277, 713}, {64, 48}, {17, 31}};
  for (auto& sz : sizes) {
    const int w = sz[0], h = sz[1];
    for (int identity = 0; identity < 2; ++identity) {
      RemapTable table;
      table.width = identity ? w : 301 + static_cast<int>(rng() % 100);
      table.height = identity ? h : 203 + static_cast<int>(rng() % 100);
      table.src_width = w, table.src_height = h;
      std::uniform_real_distribution<float> ux(-3.f, w + 2.f), uy(-3.f, h + 2.f);
      for (int y = 0; y < table.height; ++y)
        for (int x = 0; x < table.width; ++x) {
          table.x.push_back(identity ? static_cast<float>(x) : ux(rng));
          table.y.push_back(identity ? static_cast<float>(y) : uy(rng));
          if (!identity && rng() % 31 == 0) table.x.back() = NAN;
        }
      // NV12 through video::FrameSampler, BT.709 limited and BT.601 full.
      for (int full = 0; full < 2; ++full) {
        AVFrame* f = av_frame_alloc();
        f->format = AV_PIX_FMT_NV12, f->width = w, f->height = h;
        f->colorspace = full ? AVCOL_SPC_BT470BG : AVCOL_SPC_BT709;
        f->color_range = full ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
        if (av_frame_get_buffer(f, 0) < 0) return 1;
        Source s;
        s.format = gpu::PixelFormat::kNv12, s.w = w, s.h = h;
        s.matrix = full ? gpu::YuvMatrix::kBt601 : gpu::YuvMatrix::kBt709, s.full = full;
        s.pitch0 = f->linesize[0], s.pitch1 = f->linesize[1];
        for (int y = 0; y < h; ++y)
          for (int x = 0; x < w; ++x)
            f->data[0][y * f->linesize[0] + x] = static_cast<uint8_t>(rng());
        for (int y = 0; y < (h + 1) / 2; ++y)
          for (int x = 0; x < 2 * ((w + 1) / 2); ++x)
            f->data[1][y * f->linesize[1] + x] = static_cast<uint8_t>(rng());
        s.p0.assign(f->data[0], f->data[0] + static_cast<size_t>(f->linesize[0]) * h);
        s.p1.assign(f->data[1], f->data[1] + static_cast<size_t>(f->linesize[1]) * ((h + 1) / 2));
        video::FrameSampler sampler;
        Image got;
        Status st = sampler.sample(f, 0, table, got);
        size_t diff = 0;
        for (int y = 0; y < table.height && st.ok(); ++y)
          for (int x = 0; x < table.width; ++x) {
            size_t i = static_cast<size_t>(y) * table.width + x;
            uint8_t ref[3];
            sample(s, table.x[i], table.y[i], ref);
            diff += std::memcmp(ref, got.pixel(x, y), 3) != 0;
          }
        av_frame_free(&f);
        ++cases;
        if (!st.ok() || diff) {
          ++failures;
          std::printf(
              "FAIL reference sampler nv12 %dx%d%s: %zu pixels differ from FrameSampler %s\n", w, h,
              identity ? "" : " remap", diff, st.message().c_str());
        }
      }
      // Packed BGR through fungen::remap_bgr.
      Source s = make_source(gpu::PixelFormat::kBgr24, w, h, rng);
      Image got;
      remap_bgr(Frame{w, h, s.pitch0, s.p0.data()}, table, got);
      size_t diff = 0;
      for (int y = 0; y < table.height; ++y)
        for (int x = 0; x < table.width; ++x) {
          size_t i = static_cast<size_t>(y) * table.width + x;
          uint8_t ref[3];
          sample(s, table.x[i], table.y[i], ref);
          diff += std::memcmp(ref, got.pixel(x, y), 3) != 0;
        }
      ++cases;
      if (diff) {
        ++failures;
        std::printf("FAIL reference sampler bgr %dx%d: %zu pixels differ from remap_bgr\n", w, h,
                    diff);
      }
    }
  }
  std::printf("%s reference sampler == video::FrameSampler / remap_bgr (CPU): %d cases\n",
              failures ? "FAIL" : "PASS", cases);
  return failures;
#else
  std::printf("reference sampler vs video::FrameSampler: skipped (built without FFmpeg)\n");
  return 0;
#endif
}

}  // namespace fungen::bench
