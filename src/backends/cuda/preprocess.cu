// preprocess.cu — see preprocess.cuh and detect/gpu_preprocess.h (its entry points are in
// gpu_preprocess.cpp). Every float operation that the
// CPU path rounds separately is written with a _rn intrinsic so nvcc cannot fuse it into an FMA:
// that is what keeps the result equal to the CPU's bit for bit.
#include "backends/cuda/common.cuh"
#include "backends/cuda/preprocess.cuh"

namespace fungen::cuda {
namespace {

struct Bgr {
  int c[3];  // B, G, R
};

// One tap of video::build_taps: top-left element offset and 7-bit weights; false: outside.
struct Tap {
  int offset, wx, wy, step_x, step_y;
};

__device__ __forceinline__ bool make_tap(float x, float y, int plane_w, int plane_h, int linesize,
                                         int elems_per_pixel, Tap& t) {
  if (isnan(x) || isnan(y)) return false;
  const float max_x = static_cast<float>(plane_w - 1), max_y = static_cast<float>(plane_h - 1);
  x = x < 0.f ? 0.f : (max_x < x ? max_x : x);
  y = y < 0.f ? 0.f : (max_y < y ? max_y : y);
  int x0 = min(static_cast<int>(x), max(plane_w - 2, 0));
  int y0 = min(static_cast<int>(y), max(plane_h - 2, 0));
  int wx = static_cast<int>(lroundf(__fmul_rn(__fsub_rn(x, static_cast<float>(x0)), 128.f)));
  int wy = static_cast<int>(lroundf(__fmul_rn(__fsub_rn(y, static_cast<float>(y0)), 128.f)));
  t.offset = y0 * linesize + x0 * elems_per_pixel;
  t.wx = min(wx, 128);
  t.wy = min(wy, 128);
  t.step_x = plane_w > 1 ? elems_per_pixel : 0;
  t.step_y = plane_h > 1 ? linesize : 0;
  return true;
}

// Bilinear tap ×16384, as video::bilerp8.
__device__ __forceinline__ int bilerp8(const uint8_t* p, int o, const Tap& t) {
  int a = p[o], b = p[o + t.step_x], c = p[o + t.step_y], d = p[o + t.step_x + t.step_y];
  int top = a * 128 + (b - a) * t.wx;
  int bot = c * 128 + (d - c) * t.wx;
  return top * 128 + (bot - top) * t.wy;
}

__device__ __forceinline__ int to_u8(float v) {
  v = v < 0.f ? 0.f : (255.f < v ? 255.f : v);
  return static_cast<int>(__fadd_rn(v, 0.5f));
}

// The colour of one pixel of the picture (the frame, or the remapped image) as B, G, R.
__device__ Bgr picture_pixel(const LetterboxDesc& d, int px, int py) {
  Bgr out{{0, 0, 0}};
  float x, y;
  if (d.map) {
    float2 m = d.map[static_cast<int64_t>(py) * d.src_width + px];
    x = m.x, y = m.y;
  } else if (!d.nv12) {  // the frame's own pixel
    const uint8_t* p = d.plane0 + static_cast<int64_t>(py) * d.pitch0 + 3 * px;
    out.c[0] = p[d.rgb ? 2 : 0], out.c[1] = p[1], out.c[2] = p[d.rgb ? 0 : 2];
    return out;
  } else {
    x = static_cast<float>(px), y = static_cast<float>(py);
  }
  Tap lt;
  if (!d.nv12) {
    if (!make_tap(x, y, d.frame_width, d.frame_height, d.pitch0, 3, lt)) return out;
    for (int c = 0; c < 3; ++c) {
      int v = (bilerp8(d.plane0, lt.offset + c, lt) + 8192) >> 14;
      out.c[d.rgb ? 2 - c : c] = v;
    }
    return out;
  }
  if (!make_tap(x, y, d.frame_width, d.frame_height, d.pitch0, 1, lt)) return out;
  // Chroma sample centres in chroma-plane pixels (centre siting), as FrameSampler::compile.
  float cx = __fsub_rn(__fmul_rn(__fadd_rn(x, 0.5f), 0.5f), 0.5f);
  float cy = __fsub_rn(__fmul_rn(__fadd_rn(y, 0.5f), 0.5f), 0.5f);
  Tap ct;
  make_tap(cx, cy, (d.frame_width + 1) / 2, (d.frame_height + 1) / 2, d.pitch1, 2, ct);
  const YuvCoeffs& k = d.yuv;
  constexpr float kTap = 1.f / 16384.f;
  const float ys = __fmul_rn(k.y_scale, kTap), cs = __fmul_rn(k.c_scale, kTap);
  float yv =
      __fadd_rn(__fmul_rn(static_cast<float>(bilerp8(d.plane0, lt.offset, lt)), ys), k.y_offset);
  float u =
      __fadd_rn(__fmul_rn(static_cast<float>(bilerp8(d.plane1, ct.offset, ct)), cs), k.c_offset);
  float v = __fadd_rn(__fmul_rn(static_cast<float>(bilerp8(d.plane1, ct.offset + 1, ct)), cs),
                      k.c_offset);
  out.c[0] = to_u8(__fadd_rn(yv, __fmul_rn(k.b_u, u)));
  out.c[1] = to_u8(__fadd_rn(__fadd_rn(yv, __fmul_rn(k.g_u, u)), __fmul_rn(k.g_v, v)));
  out.c[2] = to_u8(__fadd_rn(yv, __fmul_rn(k.r_v, v)));
  return out;
}

// One OpenCV INTER_LINEAR tap (detect/letterbox.cpp make_taps): first sample and 11-bit weights.
__device__ __forceinline__ void resize_tap(int dst, int src_size, double scale, bool clamp_edge,
                                           int& s, int& w0, int& w1) {
  float f = static_cast<float>(__dsub_rn(__dmul_rn(__dadd_rn(dst, 0.5), scale), 0.5));
  s = static_cast<int>(floorf(f));
  f = __fsub_rn(f, static_cast<float>(s));
  if (clamp_edge) {
    if (s < 0) f = 0.f, s = 0;
    if (s >= src_size - 1) f = 0.f, s = src_size - 1;
  }
  w0 = __float2int_rn(__fmul_rn(__fsub_rn(1.f, f), 2048.f));
  w1 = __float2int_rn(__fmul_rn(f, 2048.f));
}

__device__ __forceinline__ int mul_hi_16(int a, int b) {
  a = a < -32768 ? -32768 : (a > 32767 ? 32767 : a);
  return (a * b) >> 16;
}

template <class T>
__global__ void letterbox_kernel(LetterboxDesc d) {
  const int ox = blockIdx.x * blockDim.x + threadIdx.x;
  const int oy = blockIdx.y * blockDim.y + threadIdx.y;
  if (ox >= d.in_width || oy >= d.in_height) return;
  const int rows = min(d.resized_height, d.in_height - d.top);
  const int cols = min(d.resized_width, d.in_width - d.left);
  const int dx = ox - d.left, dy = oy - d.top;
  int bgr[3] = {114, 114, 114};
  if (dx >= 0 && dy >= 0 && dx < cols && dy < rows) {
    int sx, a0, a1, sy, b0, b1;
    resize_tap(dx, d.src_width, d.scale_x, true, sx, a0, a1);
    resize_tap(dy, d.src_height, d.scale_y, false, sy, b0, b1);
    const int sx1 = min(sx + 1, d.src_width - 1);
    const int ya = min(max(sy, 0), d.src_height - 1), yb = min(max(sy + 1, 0), d.src_height - 1);
    // A zero weight contributes nothing: skip fetching its pixels (the identity-size case).
    Bgr p00 = picture_pixel(d, sx, ya);
    Bgr p01 = a1 ? picture_pixel(d, sx1, ya) : Bgr{{0, 0, 0}};
    Bgr p10{{0, 0, 0}}, p11{{0, 0, 0}};
    if (b1) {
      p10 = picture_pixel(d, sx, yb);
      if (a1) p11 = picture_pixel(d, sx1, yb);
    }
    for (int c = 0; c < 3; ++c) {
      int h0 = p00.c[c] * a0 + p01.c[c] * a1;
      int h1 = p10.c[c] * a0 + p11.c[c] * a1;
      int v = (mul_hi_16(h0 >> 4, b0) + mul_hi_16(h1 >> 4, b1) + 2) >> 2;
      bgr[c] = v < 0 ? 0 : (v > 255 ? 255 : v);
    }
  }
  const int64_t plane = static_cast<int64_t>(d.in_width) * d.in_height;
  const int64_t o = static_cast<int64_t>(oy) * d.in_width + ox;
  T* out = static_cast<T*>(d.dst);
  store(out, o, __fdiv_rn(static_cast<float>(bgr[2]), 255.f));  // R
  store(out, plane + o, __fdiv_rn(static_cast<float>(bgr[1]), 255.f));
  store(out, 2 * plane + o, __fdiv_rn(static_cast<float>(bgr[0]), 255.f));
}

template <class T>
__global__ void fill_kernel(T* dst, int64_t n, float v) {
  FUNGEN_GRID_STRIDE(i, n) {
    store(dst, i, v);
  }
}

}  // namespace

void launch_letterbox(const LetterboxDesc& d, cudaStream_t stream) {
  dim3 block(32, 8);
  dim3 grid((d.in_width + 31) / 32, (d.in_height + 7) / 8);
  if (d.elem == Elem::kF16) {
    letterbox_kernel<__half><<<grid, block, 0, stream>>>(d);
  } else {
    letterbox_kernel<float><<<grid, block, 0, stream>>>(d);
  }
}

void launch_fill_padding(void* dst, Elem elem, int64_t n, cudaStream_t stream) {
  const float grey = 114.f / 255.f;
  if (elem == Elem::kF16) {
    fill_kernel<<<blocks_for(n), kThreads, 0, stream>>>(static_cast<__half*>(dst), n, grey);
  } else {
    fill_kernel<<<blocks_for(n), kThreads, 0, stream>>>(static_cast<float*>(dst), n, grey);
  }
}

}  // namespace fungen::cuda
