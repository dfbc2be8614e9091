// The permutation is first simplified (size-1 axes dropped, axes that stay adjacent in x merged),
// then runs as the cheapest of: a flat copy/cast (4 elements per thread), a batched 2-D
// transpose through a shared-memory tile (NCHW <-> NHWC, attention and DFL transposes), a row
// gather whose innermost axis is contiguous in x (16-byte vectors when the type is kept), or
// the generic per-element index walk (32-bit index math when everything fits).
#include <type_traits>

#include "backends/cuda/common.cuh"
#include "backends/cuda/permute.cuh"

namespace fungen::cuda {
namespace {

template <class Ti, class To>
__global__ void copy_kernel(const Ti* x, To* y, int64_t n) {
  FUNGEN_GRID_STRIDE(i, n) {
    store(y, i, load(x, i));
  }
}

// fp32 -> fp16 four at a time (x 16-byte, y 8-byte aligned; n4 = n / 4).
__global__ void cast_f32_f16_x4(const float4* x, uint2* y, int64_t n4) {
  FUNGEN_GRID_STRIDE(i, n4) {
    float4 v = x[i];
    __half2 a = __floats2half2_rn(v.x, v.y), b = __floats2half2_rn(v.z, v.w);
    uint2 o;
    o.x = *reinterpret_cast<unsigned*>(&a);
    o.y = *reinterpret_cast<unsigned*>(&b);
    y[i] = o;
  }
}

// fp16 -> fp32 four at a time.
__global__ void cast_f16_f32_x4(const uint2* x, float4* y, int64_t n4) {
  FUNGEN_GRID_STRIDE(i, n4) {
    uint2 v = x[i];
    float2 a = __half22float2(*reinterpret_cast<__half2*>(&v.x));
    float2 b = __half22float2(*reinterpret_cast<__half2*>(&v.y));
    y[i] = make_float4(a.x, a.y, b.x, b.y);
  }
}

template <class Ti, class To, class I>
__global__ void permute_kernel(const Ti* x, To* y, PermuteDesc d, I n) {
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<I>(gridDim.x) * blockDim.x) {
    I rest = i, src = 0;
    for (int k = d.rank - 1; k >= 0; --k) {
      I dim = static_cast<I>(d.out_dims[k]);
      I q = rest / dim;
      src += (rest - q * dim) * static_cast<I>(d.in_strides[k]);
      rest = q;
    }
    store(y, i, load(x, src));
  }
}

// y[b][p][q] = x[b*sb + p + q*sq]: tile of 32 (p) x 32 (q), read along p, written along q.
constexpr int kTile = 32, kRowsPerPass = 8;
template <class Ti, class To>
__global__ void transpose_kernel(const Ti* x, To* y, int64_t batch, int64_t p_len, int64_t q_len,
                                 int64_t sb, int64_t sq) {
  __shared__ float tile[kTile][kTile + 1];
  const int64_t tiles_q = (q_len + kTile - 1) / kTile;
  const int64_t p0 = (blockIdx.x / tiles_q) * kTile, q0 = (blockIdx.x % tiles_q) * kTile;
  const int tx = threadIdx.x, ty = threadIdx.y;
  for (int64_t b = blockIdx.y; b < batch; b += gridDim.y) {
    const Ti* xb = x + b * sb;
    To* yb = y + b * p_len * q_len;
    for (int j = ty; j < kTile; j += kRowsPerPass) {
      int64_t p = p0 + tx, q = q0 + j;
      if (p < p_len && q < q_len) tile[j][tx] = load(xb, p + q * sq);
    }
    __syncthreads();
    for (int j = ty; j < kTile; j += kRowsPerPass) {
      int64_t q = q0 + tx, p = p0 + j;
      if (p < p_len && q < q_len) store(yb, p * q_len + q, tile[tx][j]);
    }
    __syncthreads();
  }
}

// Rows of `len` units gathered: unit u of output row r comes from x[row_src(r) + u]; V is the
// unit (uint4: 8 halves / 4 floats, or the element itself). Output rows are contiguous.
template <class V>
__global__ void gather_rows_kernel(const V* x, V* y, PermuteDesc d, int64_t rows, int64_t len) {
  const int64_t n = rows * len;
  FUNGEN_GRID_STRIDE(i, n) {
    int64_t r = i / len, u = i - r * len, src = 0;
    for (int k = d.rank - 2; k >= 0; --k) {  // outer axes only (strides already in units)
      int64_t q = r / d.out_dims[k];
      src += (r - q * d.out_dims[k]) * d.in_strides[k];
      r = q;
    }
    y[i] = x[src + u];
  }
}

// Size-1 axes dropped; output axes k, k+1 merged when x steps over k+1 exactly into k.
PermuteDesc simplify(const PermuteDesc& d) {
  PermuteDesc s;
  for (int k = 0; k < d.rank; ++k) {
    if (d.out_dims[k] == 1) continue;
    if (s.rank > 0 &&
        s.in_strides[s.rank - 1] == d.in_strides[k] * d.out_dims[k]) {  // merge into previous
      s.out_dims[s.rank - 1] *= d.out_dims[k];
      s.in_strides[s.rank - 1] = d.in_strides[k];
      continue;
    }
    s.out_dims[s.rank] = d.out_dims[k];
    s.in_strides[s.rank] = d.in_strides[k];
    ++s.rank;
  }
  if (s.rank == 0) {
    s.rank = 1;
    s.out_dims[0] = 1;
    s.in_strides[0] = 1;
  }
  return s;
}

bool aligned(const void* p, size_t bytes) {
  return reinterpret_cast<uintptr_t>(p) % bytes == 0;
}

template <class Ti, class To>
void run(const void* xv, void* yv, const PermuteDesc& d0, int64_t n, cudaStream_t s) {
  auto* x = static_cast<const Ti*>(xv);
  auto* y = static_cast<To*>(yv);
  const PermuteDesc d = simplify(d0);
  const int last = d.rank - 1;
  if (d.rank == 1 && d.in_strides[0] == 1) {  // flat copy or cast
    constexpr bool kToHalf = std::is_same_v<Ti, float> && std::is_same_v<To, __half>;
    constexpr bool kToFloat = std::is_same_v<Ti, __half> && std::is_same_v<To, float>;
    if constexpr (kToHalf || kToFloat) {
      if (n % 4 == 0 && aligned(x, 4 * sizeof(Ti)) && aligned(y, 4 * sizeof(To))) {
        if constexpr (kToHalf)
          cast_f32_f16_x4<<<blocks_for(n / 4), kThreads, 0, s>>>(
              reinterpret_cast<const float4*>(x), reinterpret_cast<uint2*>(y), n / 4);
        else
          cast_f16_f32_x4<<<blocks_for(n / 4), kThreads, 0, s>>>(
              reinterpret_cast<const uint2*>(x), reinterpret_cast<float4*>(y), n / 4);
        return;
      }
    }
    if constexpr (std::is_same_v<Ti, To>) {
      if (cudaMemcpyAsync(y, x, static_cast<size_t>(n) * sizeof(Ti), cudaMemcpyDeviceToDevice, s) ==
          cudaSuccess) {
        return;
      }
    }
    copy_kernel<<<blocks_for(n), kThreads, 0, s>>>(x, y, n);
    return;
  }
  // Batched transpose: the last output axis q is strided in x, one earlier axis p is
  // contiguous in x, and (after merging) at most one batch axis comes first.
  if (d.in_strides[last] != 1 && (d.rank == 2 || d.rank == 3) && d.in_strides[last - 1] == 1) {
    const int64_t batch = d.rank == 3 ? d.out_dims[0] : 1;
    const int64_t sb = d.rank == 3 ? d.in_strides[0] : 0;
    const int64_t p_len = d.out_dims[last - 1], q_len = d.out_dims[last];
    const int64_t tiles = ((p_len + kTile - 1) / kTile) * ((q_len + kTile - 1) / kTile);
    if (tiles <= 0x7fffffff) {
      dim3 grid(static_cast<unsigned>(tiles),
                static_cast<unsigned>(std::min<int64_t>(batch, 65535)));
      transpose_kernel<<<grid, dim3(kTile, kRowsPerPass), 0, s>>>(x, y, batch, p_len, q_len, sb,
                                                                  d.in_strides[last]);
      return;
    }
  }
  // Contiguous innermost rows, same type: copy them in 16-byte units when everything lines up.
  if constexpr (std::is_same_v<Ti, To>) {
    if (d.in_strides[last] == 1) {
      int64_t unit = 16 / static_cast<int64_t>(sizeof(Ti));
      bool vec = d.out_dims[last] % unit == 0 && aligned(x, 16) && aligned(y, 16);
      for (int k = 0; k < last && vec; ++k) vec = d.in_strides[k] % unit == 0;
      if (!vec) unit = 1;
      PermuteDesc u = d;
      for (int k = 0; k < last; ++k) u.in_strides[k] /= unit;
      const int64_t len = d.out_dims[last] / unit, rows = n / d.out_dims[last];
      if (vec) {
        gather_rows_kernel<<<blocks_for(rows * len), kThreads, 0, s>>>(
            reinterpret_cast<const uint4*>(x), reinterpret_cast<uint4*>(y), u, rows, len);
      } else {
        gather_rows_kernel<<<blocks_for(rows * len), kThreads, 0, s>>>(x, y, u, rows, len);
      }
      return;
    }
  }
  int64_t max_src = 0;
  for (int k = 0; k < d.rank; ++k) max_src += (d.out_dims[k] - 1) * d.in_strides[k];
  if (n < 0x7fffffff && max_src < 0x7fffffff)
    permute_kernel<Ti, To, int32_t>
        <<<blocks_for(n), kThreads, 0, s>>>(x, y, d, static_cast<int32_t>(n));
  else
    permute_kernel<Ti, To, int64_t><<<blocks_for(n), kThreads, 0, s>>>(x, y, d, n);
}

}  // namespace

void launch_permute(Elem in, Elem out, const void* x, void* y, const PermuteDesc& desc,
                    cudaStream_t stream) {
  int64_t n = 1;
  for (int k = 0; k < desc.rank; ++k) n *= desc.out_dims[k];
  if (n == 0) return;
  if (in == Elem::kF32 && out == Elem::kF32)
    run<float, float>(x, y, desc, n, stream);
  else if (in == Elem::kF32)
    run<float, __half>(x, y, desc, n, stream);
  else if (out == Elem::kF32)
    run<__half, float>(x, y, desc, n, stream);
  else
    run<__half, __half>(x, y, desc, n, stream);
}

}  // namespace fungen::cuda
