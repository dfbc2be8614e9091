#include "backends/cuda/common.cuh"
#include "backends/cuda/conv_epilogue.cuh"

namespace fungen::cuda {
namespace {

__device__ __forceinline__ float silu(float v) {
  return v / (1.0f + __expf(-v));
}

template <class T, bool kSilu>
__global__ void epilogue_kernel(T* y, const float* bias, const T* z, int64_t n, int64_t channels,
                                int64_t inner) {
  FUNGEN_GRID_STRIDE(i, n) {
    float v = load(y, i);
    if (bias) v += bias[(i / inner) % channels];
    if constexpr (kSilu) v = silu(v);
    if (z) v += load(z, i);
    store(y, i, v);
  }
}

template <class T>
void dispatch(T* y, const float* bias, const T* z, int64_t n, int64_t c, int64_t inner, bool silu,
              cudaStream_t s) {
  if (silu)
    epilogue_kernel<T, true><<<blocks_for(n), kThreads, 0, s>>>(y, bias, z, n, c, inner);
  else
    epilogue_kernel<T, false><<<blocks_for(n), kThreads, 0, s>>>(y, bias, z, n, c, inner);
}

// 16 bytes of T: 8 halves or 4 floats, unpacked to fp32 and back.
template <class T>
struct Vec {
  static constexpr int kN = 16 / sizeof(T);
  float v[kN];
  __device__ __forceinline__ void load(const void* p) {
    uint4 u = *static_cast<const uint4*>(p);
    if constexpr (sizeof(T) == 2) {
      const __half2* h = reinterpret_cast<const __half2*>(&u);
      for (int k = 0; k < 4; ++k) {
        float2 f = __half22float2(h[k]);
        v[2 * k] = f.x;
        v[2 * k + 1] = f.y;
      }
    } else {
      const float* f = reinterpret_cast<const float*>(&u);
      for (int k = 0; k < 4; ++k) v[k] = f[k];
    }
  }
  __device__ __forceinline__ void store(void* p) const {
    uint4 u;
    if constexpr (sizeof(T) == 2) {
      __half2* h = reinterpret_cast<__half2*>(&u);
      for (int k = 0; k < 4; ++k) h[k] = __floats2half2_rn(v[2 * k], v[2 * k + 1]);
    } else {
      float* f = reinterpret_cast<float*>(&u);
      for (int k = 0; k < 4; ++k) f[k] = v[k];
    }
    *static_cast<uint4*>(p) = u;
  }
};

// One thread per 16-byte vector of a row; I is the index type (int32 when everything fits).
// Where row r goes in out: rows of out_ld back to back, or (img_rows > 0) images of img_rows rows
// out_img_ld elements apart.
template <class I>
__device__ __forceinline__ I out_row(I r, I out_ld, I img_rows, I out_img_ld) {
  if (img_rows == 0) return r * out_ld;
  const I img = r / img_rows;
  return img * out_img_ld + (r - img * img_rows) * out_ld;
}

template <class T, bool kSilu, class I>
__global__ void epilogue_rows_vec(const T* y, T* out, I out_ld, const float* bias, const T* z,
                                  I rows, I channels, T* out2, I out2_ld, I img_rows,
                                  I out_img_ld) {
  constexpr int kN = Vec<T>::kN;
  const I per_row = channels / kN, n = rows * per_row;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<I>(gridDim.x) * blockDim.x) {
    const I r = i / per_row, c = (i - r * per_row) * kN;
    Vec<T> a;
    a.load(y + r * channels + c);
    if (bias) {
      const float4* b = reinterpret_cast<const float4*>(bias + c);
      for (int k = 0; k < kN / 4; ++k) {
        float4 f = b[k];
        a.v[4 * k] += f.x;
        a.v[4 * k + 1] += f.y;
        a.v[4 * k + 2] += f.z;
        a.v[4 * k + 3] += f.w;
      }
    }
    if constexpr (kSilu) {
      for (int k = 0; k < kN; ++k) a.v[k] = silu(a.v[k]);
    }
    if (z) {
      Vec<T> b;
      b.load(z + r * channels + c);
      for (int k = 0; k < kN; ++k) a.v[k] += b.v[k];
    }
    a.store(out + out_row(r, out_ld, img_rows, out_img_ld) + c);
    if (out2) a.store(out2 + r * out2_ld + c);
  }
}

// Any shape and alignment: one element per thread, 2-D indexing.
template <class T, bool kSilu>
__global__ void epilogue_rows_scalar(const T* y, T* out, int64_t out_ld, const float* bias,
                                     const T* z, int64_t rows, int64_t channels, T* out2,
                                     int64_t out2_ld, int64_t img_rows, int64_t out_img_ld) {
  const int64_t n = rows * channels;
  FUNGEN_GRID_STRIDE(i, n) {
    const int64_t r = i / channels, c = i - r * channels;
    float v = load(y, i);
    if (bias) v += bias[c];
    if constexpr (kSilu) v = silu(v);
    if (z) v += load(z, i);
    store(out, out_row(r, out_ld, img_rows, out_img_ld) + c, v);
    if (out2) store(out2, r * out2_ld + c, v);
  }
}

bool aligned16(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

template <class T, bool kSilu>
void rows(const T* y, T* out, int64_t out_ld, const float* bias, const T* z, int64_t r, int64_t c,
          T* out2, int64_t out2_ld, int64_t img_rows, int64_t out_img_ld, cudaStream_t s) {
  constexpr int kN = 16 / sizeof(T);
  const bool vec = c % kN == 0 && out_ld % kN == 0 && aligned16(y) && aligned16(out) &&
                   (!z || aligned16(z)) && (!bias || aligned16(bias)) &&
                   (!out2 || (out2_ld % kN == 0 && aligned16(out2))) &&
                   (img_rows == 0 || out_img_ld % kN == 0);
  if (!vec) {
    epilogue_rows_scalar<T, kSilu><<<blocks_for(r * c), kThreads, 0, s>>>(
        y, out, out_ld, bias, z, r, c, out2, out2_ld, img_rows, out_img_ld);
    return;
  }
  const int64_t vectors = r * c / kN;
  // The largest offset: past the last row of y, out (packed, or its last image) and out2.
  const int64_t images = img_rows > 0 ? (r + img_rows - 1) / img_rows : 0;
  const int64_t reach = std::max(r * std::max({c, out_ld, out2_ld}), images * out_img_ld);
  if (reach < 0x7fffffff) {
    epilogue_rows_vec<T, kSilu, int32_t><<<blocks_for(vectors), kThreads, 0, s>>>(
        y, out, static_cast<int32_t>(out_ld), bias, z, static_cast<int32_t>(r),
        static_cast<int32_t>(c), out2, static_cast<int32_t>(out2_ld),
        static_cast<int32_t>(img_rows), static_cast<int32_t>(out_img_ld));
  } else {
    epilogue_rows_vec<T, kSilu, int64_t><<<blocks_for(vectors), kThreads, 0, s>>>(
        y, out, out_ld, bias, z, r, c, out2, out2_ld, img_rows, out_img_ld);
  }
}

template <class T>
void rows_dispatch(const void* y, void* out, int64_t out_ld, const float* bias, const void* z,
                   int64_t r, int64_t c, bool silu, void* out2, int64_t out2_ld, int64_t img_rows,
                   int64_t out_img_ld, cudaStream_t s) {
  auto* yt = static_cast<const T*>(y);
  auto* ot = static_cast<T*>(out);
  auto* zt = static_cast<const T*>(z);
  auto* o2 = static_cast<T*>(out2);
  if (silu)
    rows<T, true>(yt, ot, out_ld, bias, zt, r, c, o2, out2_ld, img_rows, out_img_ld, s);
  else
    rows<T, false>(yt, ot, out_ld, bias, zt, r, c, o2, out2_ld, img_rows, out_img_ld, s);
}

// Tile of 32 channels (p, contiguous in y) x 32 pixels (q): read along channels, written along
// pixels; bias and SiLU applied on the way out.
constexpr int kTile = 32, kRowsPerPass = 8;
template <class T, bool kSilu>
__global__ void epilogue_to_nchw_kernel(const T* y, T* out, const float* bias, int64_t batch,
                                        int64_t channels, int64_t hw, int64_t ch_ld,
                                        int64_t batch_ld) {
  __shared__ float tile[kTile][kTile + 1];
  const int64_t tiles_q = (hw + kTile - 1) / kTile;
  const int64_t p0 = (blockIdx.x / tiles_q) * kTile, q0 = (blockIdx.x % tiles_q) * kTile;
  const int tx = threadIdx.x, ty = threadIdx.y;
  for (int64_t b = blockIdx.y; b < batch; b += gridDim.y) {
    const T* yb = y + b * hw * channels;
    T* ob = out + b * batch_ld;
    for (int j = ty; j < kTile; j += kRowsPerPass) {
      const int64_t p = p0 + tx, q = q0 + j;
      if (p < channels && q < hw) tile[j][tx] = load(yb, q * channels + p);
    }
    __syncthreads();
    for (int j = ty; j < kTile; j += kRowsPerPass) {
      const int64_t q = q0 + tx, p = p0 + j;
      if (p < channels && q < hw) {
        float v = tile[tx][j] + (bias ? bias[p] : 0.0f);
        if constexpr (kSilu) v = silu(v);
        store(ob, p * ch_ld + q, v);
      }
    }
    __syncthreads();
  }
}

template <class T>
void to_nchw(const void* y, void* out, const float* bias, int64_t n, int64_t c, int64_t hw,
             bool silu, cudaStream_t s, int64_t ch_ld, int64_t batch_ld) {
  const int64_t tiles = ((c + kTile - 1) / kTile) * ((hw + kTile - 1) / kTile);
  const dim3 grid(static_cast<unsigned>(tiles), static_cast<unsigned>(std::min<int64_t>(n, 65535)));
  const dim3 block(kTile, kRowsPerPass);
  auto* yt = static_cast<const T*>(y);
  auto* ot = static_cast<T*>(out);
  if (silu)
    epilogue_to_nchw_kernel<T, true>
        <<<grid, block, 0, s>>>(yt, ot, bias, n, c, hw, ch_ld, batch_ld);
  else
    epilogue_to_nchw_kernel<T, false>
        <<<grid, block, 0, s>>>(yt, ot, bias, n, c, hw, ch_ld, batch_ld);
}

}  // namespace

void launch_conv_epilogue_to_nchw(Elem e, const void* y, void* out, const float* bias, int64_t n,
                                  int64_t channels, int64_t hw, bool silu, cudaStream_t stream,
                                  int64_t ch_ld, int64_t batch_ld) {
  if (n * channels * hw == 0) return;
  if (ch_ld == 0) ch_ld = hw;
  if (batch_ld == 0) batch_ld = channels * ch_ld;
  if (e == Elem::kF16)
    to_nchw<__half>(y, out, bias, n, channels, hw, silu, stream, ch_ld, batch_ld);
  else
    to_nchw<float>(y, out, bias, n, channels, hw, silu, stream, ch_ld, batch_ld);
}

void launch_conv_epilogue(Elem e, void* y, const float* bias, const void* z, int64_t n,
                          int64_t channels, int64_t inner, bool silu, cudaStream_t stream) {
  if (n == 0) return;
  if (e == Elem::kF16) {
    dispatch(static_cast<__half*>(y), bias, static_cast<const __half*>(z), n, channels, inner, silu,
             stream);
  } else {
    dispatch(static_cast<float*>(y), bias, static_cast<const float*>(z), n, channels, inner, silu,
             stream);
  }
}

void launch_conv_epilogue_rows(Elem e, const void* y, void* out, int64_t out_ld, const float* bias,
                               const void* z, int64_t rows, int64_t channels, bool silu,
                               cudaStream_t stream, void* out2, int64_t out2_ld, int64_t img_rows,
                               int64_t out_img_ld) {
  if (rows == 0 || channels == 0) return;
  if (!out2) out2_ld = 0;
  if (img_rows <= 0) img_rows = out_img_ld = 0;
  if (e == Elem::kF16)
    rows_dispatch<__half>(y, out, out_ld, bias, z, rows, channels, silu, out2, out2_ld, img_rows,
                          out_img_ld, stream);
  else
    rows_dispatch<float>(y, out, out_ld, bias, z, rows, channels, silu, out2, out2_ld, img_rows,
                         out_img_ld, stream);
}

}  // namespace fungen::cuda
