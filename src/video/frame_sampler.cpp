#include "video/frame_sampler.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "fungen/log.h"
#include "util/yuv_coeffs.h"

extern "C" {
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

namespace fungen::video {
namespace {

YuvCoeffs color_coeffs(const AVFrame* f, const AVPixFmtDescriptor* desc, float sample_to_8bit) {
  float kr = 0.299f, kb = 0.114f;  // BT.601 (also what swscale assumes by default)
  if (f->colorspace == AVCOL_SPC_BT709) {
    kr = 0.2126f, kb = 0.0722f;
  } else if (f->colorspace == AVCOL_SPC_BT2020_NCL || f->colorspace == AVCOL_SPC_BT2020_CL) {
    kr = 0.2627f, kb = 0.0593f;
  }
  bool full =
      f->color_range == AVCOL_RANGE_JPEG || std::string_view(desc->name).starts_with("yuvj");
  return yuv_coeffs(kr, kb, full, sample_to_8bit);
}

inline uint8_t to_u8(float v) {
  v = std::clamp(v, 0.f, 255.f);
  return static_cast<uint8_t>(v + 0.5f);
}

// Bilinear tap ×16384 (7-bit weights on both axes).
template <class T>
inline int32_t bilerp8(const T* p, int32_t o, int32_t sx, int32_t sy, int32_t wx, int32_t wy) {
  int32_t a = p[o], b = p[o + sx], c = p[o + sy], d = p[o + sx + sy];
  int32_t top = a * 128 + (b - a) * wx;
  int32_t bot = c * 128 + (d - c) * wx;
  return top * 128 + (bot - top) * wy;
}

template <class T, bool kSemiPlanar>
void sample_yuv(const T* yp, const T* up, const T* vp, const PlaneTaps& lt, const PlaneTaps& ct,
                const YuvCoeffs& cc, int width, int height, uint8_t* dst, int dst_stride) {
  constexpr float kTap = 1.f / 16384.f;
  const float ys = cc.y_scale * kTap, cs = cc.c_scale * kTap;
  for (int row = 0; row < height; ++row) {
    uint8_t* out = dst + static_cast<ptrdiff_t>(row) * dst_stride;
    const size_t base = static_cast<size_t>(row) * width;
    const int32_t* lo = lt.offset.data() + base;
    const uint8_t* lwx = lt.wx.data() + base;
    const uint8_t* lwy = lt.wy.data() + base;
    const int32_t* co = ct.offset.data() + base;
    const uint8_t* cwx = ct.wx.data() + base;
    const uint8_t* cwy = ct.wy.data() + base;
    for (int i = 0; i < width; ++i) {
      if (lo[i] < 0) {
        out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = 0;
        continue;
      }
      float y = bilerp8(yp, lo[i], lt.step_x, lt.step_y, lwx[i], lwy[i]) * ys + cc.y_offset;
      float u = bilerp8(up, co[i], ct.step_x, ct.step_y, cwx[i], cwy[i]) * cs + cc.c_offset;
      float v = bilerp8(vp, co[i], ct.step_x, ct.step_y, cwx[i], cwy[i]) * cs + cc.c_offset;
      out[3 * i + 0] = to_u8(y + cc.b_u * u);
      out[3 * i + 1] = to_u8(y + cc.g_u * u + cc.g_v * v);
      out[3 * i + 2] = to_u8(y + cc.r_v * v);
    }
  }
}

#if defined(__x86_64__)
// Bilinear taps ×16384, as bilerp8().
__attribute__((target("avx2"))) inline __m256i lerp8(__m256i a, __m256i b, __m256i c, __m256i d,
                                                     __m256i wx, __m256i wy) {
  const __m256i k128 = _mm256_set1_epi32(128);
  __m256i t =
      _mm256_add_epi32(_mm256_mullo_epi32(a, k128), _mm256_mullo_epi32(_mm256_sub_epi32(b, a), wx));
  __m256i u =
      _mm256_add_epi32(_mm256_mullo_epi32(c, k128), _mm256_mullo_epi32(_mm256_sub_epi32(d, c), wx));
  return _mm256_add_epi32(_mm256_mullo_epi32(t, k128),
                          _mm256_mullo_epi32(_mm256_sub_epi32(u, t), wy));
}
// to_u8(): clamp to [0, 255], + 0.5, truncate.
__attribute__((target("avx2"))) inline __m256i to_u8_8(__m256 v) {
  v = _mm256_min_ps(_mm256_max_ps(v, _mm256_setzero_ps()), _mm256_set1_ps(255.f));
  return _mm256_cvttps_epi32(_mm256_add_ps(v, _mm256_set1_ps(0.5f)));
}

// The same arithmetic as sample_yuv<uint8_t, kSemi> on 8 pixels at a time (AVX2 gathers). Each
// 32-bit gather at a tap's offset also brings its right neighbour (and, in NV12, both chroma
// components), so two gathers per plane give all four taps. Reads up to 3 bytes past a tap,
// within FFmpeg's frame padding.
template <bool kSemi>
__attribute__((target("avx2"))) void sample_yuv8_avx2(const uint8_t* yp, const uint8_t* up,
                                                      const uint8_t* vp, const PlaneTaps& lt,
                                                      const PlaneTaps& ct, const YuvCoeffs& cc,
                                                      int width, int height, uint8_t* dst,
                                                      int dst_stride) {
  constexpr float kTap = 1.f / 16384.f;
  const __m256 ys = _mm256_set1_ps(cc.y_scale * kTap), cs = _mm256_set1_ps(cc.c_scale * kTap);
  const __m256 yo = _mm256_set1_ps(cc.y_offset), co = _mm256_set1_ps(cc.c_offset);
  const __m256 bu = _mm256_set1_ps(cc.b_u), gu = _mm256_set1_ps(cc.g_u);
  const __m256 gv = _mm256_set1_ps(cc.g_v), rv = _mm256_set1_ps(cc.r_v);
  const __m256i ff = _mm256_set1_epi32(0xff);
  const __m256i lsy = _mm256_set1_epi32(lt.step_y), csy = _mm256_set1_epi32(ct.step_y);
  alignas(32) int32_t bb[8], gg[8], rr[8];
  for (int row = 0; row < height; ++row) {
    uint8_t* out = dst + static_cast<ptrdiff_t>(row) * dst_stride;
    const size_t base = static_cast<size_t>(row) * width;
    int i = 0;
    for (; i + 8 <= width; i += 8) {
      __m256i lo =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lt.offset.data() + base + i));
      __m256i outside = _mm256_cmpgt_epi32(_mm256_setzero_si256(), lo);
      lo = _mm256_max_epi32(lo, _mm256_setzero_si256());
      __m256i lwx = _mm256_cvtepu8_epi32(
          _mm_loadl_epi64(reinterpret_cast<const __m128i*>(lt.wx.data() + base + i)));
      __m256i lwy = _mm256_cvtepu8_epi32(
          _mm_loadl_epi64(reinterpret_cast<const __m128i*>(lt.wy.data() + base + i)));
      __m256i g0 = _mm256_i32gather_epi32(reinterpret_cast<const int*>(yp), lo, 1);
      __m256i g1 =
          _mm256_i32gather_epi32(reinterpret_cast<const int*>(yp), _mm256_add_epi32(lo, lsy), 1);
      __m256i yv =
          lerp8(_mm256_and_si256(g0, ff), _mm256_and_si256(_mm256_srli_epi32(g0, 8), ff),
                _mm256_and_si256(g1, ff), _mm256_and_si256(_mm256_srli_epi32(g1, 8), ff), lwx, lwy);
      __m256i c_off = _mm256_max_epi32(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ct.offset.data() + base + i)),
          _mm256_setzero_si256());
      __m256i cwx = _mm256_cvtepu8_epi32(
          _mm_loadl_epi64(reinterpret_cast<const __m128i*>(ct.wx.data() + base + i)));
      __m256i cwy = _mm256_cvtepu8_epi32(
          _mm_loadl_epi64(reinterpret_cast<const __m128i*>(ct.wy.data() + base + i)));
      __m256i uv, vv;
      if constexpr (kSemi) {  // U V U V ...: one gather holds both components of both columns
        __m256i h0 = _mm256_i32gather_epi32(reinterpret_cast<const int*>(up), c_off, 1);
        __m256i h1 = _mm256_i32gather_epi32(reinterpret_cast<const int*>(up),
                                            _mm256_add_epi32(c_off, csy), 1);
        uv = lerp8(_mm256_and_si256(h0, ff), _mm256_and_si256(_mm256_srli_epi32(h0, 16), ff),
                   _mm256_and_si256(h1, ff), _mm256_and_si256(_mm256_srli_epi32(h1, 16), ff), cwx,
                   cwy);
        vv = lerp8(_mm256_and_si256(_mm256_srli_epi32(h0, 8), ff), _mm256_srli_epi32(h0, 24),
                   _mm256_and_si256(_mm256_srli_epi32(h1, 8), ff), _mm256_srli_epi32(h1, 24), cwx,
                   cwy);
      } else {
        __m256i u0 = _mm256_i32gather_epi32(reinterpret_cast<const int*>(up), c_off, 1);
        __m256i u1 = _mm256_i32gather_epi32(reinterpret_cast<const int*>(up),
                                            _mm256_add_epi32(c_off, csy), 1);
        __m256i v0 = _mm256_i32gather_epi32(reinterpret_cast<const int*>(vp), c_off, 1);
        __m256i v1 = _mm256_i32gather_epi32(reinterpret_cast<const int*>(vp),
                                            _mm256_add_epi32(c_off, csy), 1);
        uv = lerp8(_mm256_and_si256(u0, ff), _mm256_and_si256(_mm256_srli_epi32(u0, 8), ff),
                   _mm256_and_si256(u1, ff), _mm256_and_si256(_mm256_srli_epi32(u1, 8), ff), cwx,
                   cwy);
        vv = lerp8(_mm256_and_si256(v0, ff), _mm256_and_si256(_mm256_srli_epi32(v0, 8), ff),
                   _mm256_and_si256(v1, ff), _mm256_and_si256(_mm256_srli_epi32(v1, 8), ff), cwx,
                   cwy);
      }
      __m256 y = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(yv), ys), yo);
      __m256 u = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(uv), cs), co);
      __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(vv), cs), co);
      __m256i b = to_u8_8(_mm256_add_ps(y, _mm256_mul_ps(bu, u)));
      __m256i g =
          to_u8_8(_mm256_add_ps(_mm256_add_ps(y, _mm256_mul_ps(gu, u)), _mm256_mul_ps(gv, v)));
      __m256i r = to_u8_8(_mm256_add_ps(y, _mm256_mul_ps(rv, v)));
      _mm256_store_si256(reinterpret_cast<__m256i*>(bb), _mm256_andnot_si256(outside, b));
      _mm256_store_si256(reinterpret_cast<__m256i*>(gg), _mm256_andnot_si256(outside, g));
      _mm256_store_si256(reinterpret_cast<__m256i*>(rr), _mm256_andnot_si256(outside, r));
      for (int k = 0; k < 8; ++k) {
        out[3 * (i + k)] = static_cast<uint8_t>(bb[k]);
        out[3 * (i + k) + 1] = static_cast<uint8_t>(gg[k]);
        out[3 * (i + k) + 2] = static_cast<uint8_t>(rr[k]);
      }
    }
    if (i < width) {  // the row's last few pixels: the scalar kernel on a one-row slice
      PlaneTaps lt_tail, ct_tail;
      for (const PlaneTaps* src : {&lt, &ct}) {
        PlaneTaps& t = src == &lt ? lt_tail : ct_tail;
        t.step_x = src->step_x, t.step_y = src->step_y;
        t.offset.assign(src->offset.begin() + base + i, src->offset.begin() + base + width);
        t.wx.assign(src->wx.begin() + base + i, src->wx.begin() + base + width);
        t.wy.assign(src->wy.begin() + base + i, src->wy.begin() + base + width);
      }
      sample_yuv<uint8_t, kSemi>(yp, up, vp, lt_tail, ct_tail, cc, width - i, 1, out + 3 * i,
                                 dst_stride);
    }
  }
}
#endif

std::atomic<bool> g_simd_enabled{true};

// Display pixel (x, y) → coded pixel, for a picture shown rotated `rotation` degrees clockwise.
inline void display_to_coded(int rotation, int coded_w, int coded_h, float x, float y, float& cx,
                             float& cy) {
  switch (rotation) {
    case 90:
      cx = y, cy = static_cast<float>(coded_h - 1) - x;
      break;
    case 180:
      cx = static_cast<float>(coded_w - 1) - x, cy = static_cast<float>(coded_h - 1) - y;
      break;
    case 270:
      cx = static_cast<float>(coded_w - 1) - y, cy = x;
      break;
    default:
      cx = x, cy = y;
  }
}

bool is_direct_yuv(const AVPixFmtDescriptor* d) {
  if (!d) return false;
  if (d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_BE | AV_PIX_FMT_FLAG_PAL |
                  AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_FLOAT)) {
    return false;
  }
  if (!(d->flags & AV_PIX_FMT_FLAG_PLANAR) || d->nb_components != 3) return false;
  if (d->comp[0].plane != 0 || d->comp[1].plane != 1) return false;
  int bytes = (d->comp[0].depth + d->comp[0].shift) > 8 ? 2 : 1;
  bool semi = d->comp[2].plane == 1;
  if (!semi && d->comp[2].plane != 2) return false;
  if (d->comp[0].step != bytes) return false;
  if (semi ? d->comp[1].step != 2 * bytes : d->comp[1].step != bytes) return false;
  return true;
}

}  // namespace

void build_taps(const std::vector<float>& xs, const std::vector<float>& ys, int plane_w,
                int plane_h, int linesize, int elems_per_pixel, PlaneTaps& taps) {
  size_t n = xs.size();
  taps.offset.resize(n);
  taps.wx.resize(n);
  taps.wy.resize(n);
  taps.step_x = plane_w > 1 ? elems_per_pixel : 0;
  taps.step_y = plane_h > 1 ? linesize : 0;
  for (size_t i = 0; i < n; ++i) {
    float x = xs[i], y = ys[i];
    if (std::isnan(x) || std::isnan(y)) {
      taps.offset[i] = -1;
      taps.wx[i] = taps.wy[i] = 0;
      continue;
    }
    x = std::clamp(x, 0.f, static_cast<float>(plane_w - 1));
    y = std::clamp(y, 0.f, static_cast<float>(plane_h - 1));
    int x0 = std::min(static_cast<int>(x), std::max(plane_w - 2, 0));
    int y0 = std::min(static_cast<int>(y), std::max(plane_h - 2, 0));
    int wx = static_cast<int>(std::lround((x - x0) * 128.f));
    int wy = static_cast<int>(std::lround((y - y0) * 128.f));
    taps.offset[i] = y0 * linesize + x0 * elems_per_pixel;
    taps.wx[i] = static_cast<uint8_t>(std::min(wx, 128));
    taps.wy[i] = static_cast<uint8_t>(std::min(wy, 128));
  }
}

void sample_packed_bgr(const uint8_t* src, const PlaneTaps& taps, int width, int height,
                       uint8_t* dst, int dst_stride) {
  for (int row = 0; row < height; ++row) {
    uint8_t* out = dst + static_cast<ptrdiff_t>(row) * dst_stride;
    const size_t base = static_cast<size_t>(row) * width;
    for (int i = 0; i < width; ++i) {
      int32_t o = taps.offset[base + i];
      if (o < 0) {
        out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = 0;
        continue;
      }
      for (int ch = 0; ch < 3; ++ch) {
        int32_t v =
            bilerp8(src, o + ch, taps.step_x, taps.step_y, taps.wx[base + i], taps.wy[base + i]);
        out[3 * i + ch] = static_cast<uint8_t>((v + 8192) >> 14);
      }
    }
  }
}

void set_sampler_simd(bool enabled) {
  g_simd_enabled = enabled;
}

FrameSampler::FrameSampler() = default;
FrameSampler::~FrameSampler() {
  sws_freeContext(sws_);
}

Status FrameSampler::compile(const AVFrame* f, int rotation, const RemapTable& table) {
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(f->format));
  if (!d) return internal_error("decoded frame has an unknown pixel format");
  bool swap = rotation == 90 || rotation == 270;
  int disp_w = swap ? f->height : f->width, disp_h = swap ? f->width : f->height;
  if (table.src_width != disp_w || table.src_height != disp_h) {
    return internal_error(fmt::format("remap table built for {}x{} but the frame shows {}x{}",
                                      table.src_width, table.src_height, disp_w, disp_h));
  }
  size_t n = static_cast<size_t>(table.width) * table.height;
  std::vector<float> cx(n), cy(n);
  for (size_t i = 0; i < n; ++i) {
    if (std::isnan(table.x[i]) || std::isnan(table.y[i])) {
      cx[i] = cy[i] = NAN;
    } else {
      display_to_coded(rotation, f->width, f->height, table.x[i], table.y[i], cx[i], cy[i]);
    }
  }
  via_bgr_ = !is_direct_yuv(d);
  if (via_bgr_) {
    log(LogLevel::kDebug, "pixel format {} goes through swscale to BGR", d->name);
    build_taps(cx, cy, f->width, f->height, f->width * 3, 3, luma_);
  } else {
    int bytes = (d->comp[0].depth + d->comp[0].shift) > 8 ? 2 : 1;
    build_taps(cx, cy, f->width, f->height, f->linesize[0] / bytes, 1, luma_);
    int sw = d->log2_chroma_w, sh = d->log2_chroma_h;
    int cw = AV_CEIL_RSHIFT(f->width, sw), ch = AV_CEIL_RSHIFT(f->height, sh);
    bool semi = d->comp[2].plane == 1;
    // Chroma sample centres in chroma-plane pixels (centre siting).
    float fx = 1.f / static_cast<float>(1 << sw), fy = 1.f / static_cast<float>(1 << sh);
    for (size_t i = 0; i < n; ++i) {
      if (std::isnan(cx[i])) continue;
      cx[i] = (cx[i] + 0.5f) * fx - 0.5f;
      cy[i] = (cy[i] + 0.5f) * fy - 0.5f;
    }
    build_taps(cx, cy, cw, ch, f->linesize[1] / bytes, semi ? 2 : 1, chroma_);
  }
  table_ = &table;
  table_data_ = table.x.data();
  format_ = f->format, width_ = f->width, height_ = f->height, rotation_ = rotation;
  for (int p = 0; p < 3; ++p) linesize_[p] = f->linesize[p];
  return Status();
}

Status FrameSampler::sample(const AVFrame* f, int rotation, const RemapTable& table, Image& out) {
  bool same = table_ == &table && table_data_ == table.x.data() && format_ == f->format &&
              width_ == f->width && height_ == f->height && rotation_ == rotation &&
              linesize_[0] == f->linesize[0] && linesize_[1] == f->linesize[1] &&
              linesize_[2] == f->linesize[2];
  if (!same) FUNGEN_RETURN_IF_ERROR(compile(f, rotation, table));
  if (out.width() != table.width || out.height() != table.height) {
    out = Image(table.width, table.height);
  }
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(f->format));
  if (via_bgr_) {
    sws_ = sws_getCachedContext(sws_, f->width, f->height, static_cast<AVPixelFormat>(f->format),
                                f->width, f->height, AV_PIX_FMT_BGR24, SWS_BILINEAR, nullptr,
                                nullptr, nullptr);
    if (!sws_)
      return unsupported(std::string("cannot convert pixel format ") + d->name + " to BGR");
    bgr_.resize(static_cast<size_t>(f->width) * f->height * 3);
    uint8_t* dst[4] = {bgr_.data(), nullptr, nullptr, nullptr};
    int dst_ls[4] = {f->width * 3, 0, 0, 0};
    sws_scale(sws_, f->data, f->linesize, 0, f->height, dst, dst_ls);
    sample_packed_bgr(bgr_.data(), luma_, table.width, table.height, out.data(), table.width * 3);
    return Status();
  }
  int shift = d->comp[0].shift;
  int depth = d->comp[0].depth;
  float to8 = 1.f / static_cast<float>(1 << (shift + depth - 8));
  YuvCoeffs cc = color_coeffs(f, d, to8);
  bool semi = d->comp[2].plane == 1;
  bool wide = (depth + shift) > 8;
  int ustep = wide ? 2 : 1;
  auto run = [&](auto sample_type, auto semi_tag) {
    using T = decltype(sample_type);
    constexpr bool kSemi = decltype(semi_tag)::value;
    const T* yp = reinterpret_cast<const T*>(f->data[0]);
    const T* up = reinterpret_cast<const T*>(f->data[1]) + d->comp[1].offset / ustep;
    const T* vp = kSemi ? reinterpret_cast<const T*>(f->data[1]) + d->comp[2].offset / ustep
                        : reinterpret_cast<const T*>(f->data[2]) + d->comp[2].offset / ustep;
    sample_yuv<T, kSemi>(yp, up, vp, luma_, chroma_, cc, table.width, table.height, out.data(),
                         table.width * 3);
  };
  if (wide) {
    semi ? run(uint16_t{}, std::true_type{}) : run(uint16_t{}, std::false_type{});
  } else {
#if defined(__x86_64__)
    bool simd_ok = g_simd_enabled && __builtin_cpu_supports("avx2") && luma_.step_x == 1 &&
                   chroma_.step_x == (semi ? 2 : 1) && luma_.step_y > 0 && chroma_.step_y > 0;
    if (simd_ok) {
      const uint8_t* yp = f->data[0];
      const uint8_t* up = f->data[1] + d->comp[1].offset;
      const uint8_t* vp = semi ? f->data[1] + d->comp[2].offset : f->data[2] + d->comp[2].offset;
      if (semi) {
        sample_yuv8_avx2<true>(yp, up, vp, luma_, chroma_, cc, table.width, table.height,
                               out.data(), table.width * 3);
      } else {
        sample_yuv8_avx2<false>(yp, up, vp, luma_, chroma_, cc, table.width, table.height,
                                out.data(), table.width * 3);
      }
      return Status();
    }
#endif
    semi ? run(uint8_t{}, std::true_type{}) : run(uint8_t{}, std::false_type{});
  }
  return Status();
}

}  // namespace fungen::video
