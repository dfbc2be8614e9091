// letterbox.cpp — see letterbox.h. The geometry follows ultralytics/data/augment.py LetterBox and
// the resize OpenCV's imgproc/src/resize.cpp (INTER_LINEAR, 8-bit, fixed point); both were
// re-derived from their documented behaviour and checked against the Python packages.
#include "detect/letterbox.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace fungen {

namespace {
// Python 3's round(): nearest, ties to even (std::nearbyint in the default rounding mode).
int round_half_even(double v) {
  return static_cast<int>(std::nearbyint(v));
}
}  // namespace

LetterboxParams letterbox_params(int width, int height, int input_width, int input_height) {
  LetterboxParams p;
  p.ratio = std::min(static_cast<double>(input_height) / height,
                     static_cast<double>(input_width) / width);
  p.resized_width = std::max(round_half_even(width * p.ratio), 1);
  p.resized_height = std::max(round_half_even(height * p.ratio), 1);
  double dw = (input_width - p.resized_width) / 2.0;
  double dh = (input_height - p.resized_height) / 2.0;
  p.top = round_half_even(dh - 0.1);
  p.bottom = round_half_even(dh + 0.1);
  p.left = round_half_even(dw - 0.1);
  p.right = round_half_even(dw + 0.1);
  p.gain_x = static_cast<double>(p.resized_width) / width;
  p.gain_y = static_cast<double>(p.resized_height) / height;
  return p;
}

namespace detect {
namespace {

constexpr int kCoefScale = 2048;  // OpenCV's INTER_RESIZE_COEF_SCALE (11 bits)

struct Taps {
  std::vector<int> index;  // first source sample (second is index + 1, clamped)
  std::vector<int16_t> w0, w1;
};

// OpenCV computes the tap position in float from a double scale, floors it, and rounds each
// weight separately (so w0 + w1 may differ from 2048 by one). `clamp_to_edge` is the horizontal
// rule (position and weight both clamped); vertically only the row index is clamped later.
Taps make_taps(int src_size, int dst_size, bool clamp_to_edge) {
  Taps t;
  t.index.resize(dst_size);
  t.w0.resize(dst_size);
  t.w1.resize(dst_size);
  double scale = 1.0 / (static_cast<double>(dst_size) / src_size);
  for (int d = 0; d < dst_size; ++d) {
    float f = static_cast<float>((d + 0.5) * scale - 0.5);
    int s = static_cast<int>(std::floor(f));
    f -= static_cast<float>(s);
    if (clamp_to_edge) {
      if (s < 0) f = 0.f, s = 0;
      if (s >= src_size - 1) f = 0.f, s = src_size - 1;
    }
    t.index[d] = s;
    t.w0[d] = static_cast<int16_t>(std::lrint((1.f - f) * static_cast<float>(kCoefScale)));
    t.w1[d] = static_cast<int16_t>(std::lrint(f * static_cast<float>(kCoefScale)));
  }
  return t;
}

// The horizontal pass of one source row: 3 channels, int results scaled by 2048.
void horizontal_pass(const uint8_t* src, int src_width, const Taps& tx, int32_t* out) {
  int dst_width = static_cast<int>(tx.index.size());
  for (int d = 0; d < dst_width; ++d) {
    int s0 = tx.index[d];
    int s1 = std::min(s0 + 1, src_width - 1);
    int a0 = tx.w0[d], a1 = tx.w1[d];
    const uint8_t* p0 = src + 3 * s0;
    const uint8_t* p1 = src + 3 * s1;
    for (int c = 0; c < 3; ++c) out[3 * d + c] = p0[c] * a0 + p1[c] * a1;
  }
}

inline int mul_hi_16(int a, int b) {
  int a16 = std::clamp(a, -32768, 32767);  // v_pack saturates to int16
  return (a16 * b) >> 16;
}

void vertical_pass(const int32_t* r0, const int32_t* r1, int b0, int b1, uint8_t* dst, int n) {
  for (int x = 0; x < n; ++x) {
    int v = (mul_hi_16(r0[x] >> 4, b0) + mul_hi_16(r1[x] >> 4, b1) + 2) >> 2;
    dst[x] = static_cast<uint8_t>(std::clamp(v, 0, 255));
  }
}

}  // namespace

void resize_bilinear_bgr(const Frame& src, int dst_width, int dst_height, uint8_t* dst,
                         int dst_stride) {
  Taps tx = make_taps(src.width, dst_width, true);
  Taps ty = make_taps(src.height, dst_height, false);
  int n = dst_width * 3;
  // Two cached horizontal rows, keyed by source row, so each source row is filtered once.
  std::vector<int32_t> rows(static_cast<size_t>(2) * n);
  int cached[2] = {-1, -1};
  auto slot_of = [&](int y) { return cached[0] == y ? 0 : (cached[1] == y ? 1 : -1); };
  auto fill = [&](int slot, int y) {
    cached[slot] = y;
    horizontal_pass(src.row(y), src.width, tx, rows.data() + static_cast<size_t>(slot) * n);
  };
  for (int dy = 0; dy < dst_height; ++dy) {
    int ya = std::clamp(ty.index[dy], 0, src.height - 1);
    int yb = std::clamp(ty.index[dy] + 1, 0, src.height - 1);
    int sa = slot_of(ya);
    int sb = slot_of(yb);
    if (sa < 0) {
      sa = (sb == 0) ? 1 : 0;
      fill(sa, ya);
    }
    if (sb < 0) {
      sb = 1 - sa;
      fill(sb, yb);
    }
    vertical_pass(rows.data() + static_cast<size_t>(sa) * n,
                  rows.data() + static_cast<size_t>(sb) * n, ty.w0[dy], ty.w1[dy],
                  dst + static_cast<size_t>(dy) * dst_stride, n);
  }
}

namespace {
struct Div255 {
  float v[256];
  Div255() {
    for (int i = 0; i < 256; ++i) v[i] = static_cast<float>(i) / 255.0f;  // like torch's x / 255
  }
};
const Div255 kDiv255;
}  // namespace

void fill_padding_image(int input_width, int input_height, float* chw) {
  std::fill(chw, chw + static_cast<size_t>(3) * input_width * input_height, kDiv255.v[114]);
}

void letterbox_to_chw(const Frame& frame, const LetterboxParams& p, int input_width,
                      int input_height, float* chw, std::vector<uint8_t>& scratch) {
  const size_t plane = static_cast<size_t>(input_width) * input_height;
  fill_padding_image(input_width, input_height, chw);
  Frame picture = frame;
  if (p.resized_width != frame.width || p.resized_height != frame.height) {
    scratch.resize(static_cast<size_t>(p.resized_width) * p.resized_height * 3);
    resize_bilinear_bgr(frame, p.resized_width, p.resized_height, scratch.data(),
                        p.resized_width * 3);
    picture = Frame{p.resized_width, p.resized_height, p.resized_width * 3, scratch.data()};
  }
  // Ultralytics pads with copyMakeBorder after resizing; a picture larger than the input (never
  // with these params) would be cropped by the loop bounds.
  int rows = std::min(picture.height, input_height - p.top);
  int cols = std::min(picture.width, input_width - p.left);
  float* r_plane = chw;
  float* g_plane = chw + plane;
  float* b_plane = chw + 2 * plane;
  for (int y = 0; y < rows; ++y) {
    const uint8_t* src = picture.row(y);
    size_t o = static_cast<size_t>(y + p.top) * input_width + p.left;
    for (int x = 0; x < cols; ++x) {
      b_plane[o + x] = kDiv255.v[src[3 * x + 0]];
      g_plane[o + x] = kDiv255.v[src[3 * x + 1]];
      r_plane[o + x] = kDiv255.v[src[3 * x + 2]];
    }
  }
}

}  // namespace detect
}  // namespace fungen
