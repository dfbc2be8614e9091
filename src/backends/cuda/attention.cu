#include <cfloat>
#include <climits>
#include <cmath>

#include "backends/cuda/attention.cuh"
#include "backends/cuda/common.cuh"
#include "backends/cuda/conv_mma.cuh"

namespace fungen::cuda {
namespace {

constexpr float kLog2e = 1.4426950408889634f;

// A tile of kRows tokens (from tok0) x kD dims of one operand into shared memory, as [token][dim]
// rows (token_rows) or [dim][token] rows of `ld` elements; tokens from n on are zero. Consecutive
// threads walk the operand's contiguous axis.
template <int kRows, int kD, class T, class S>
__device__ __forceinline__ void load_tile(const T* src, const AttnOperand& op, int tok0, int n,
                                          S* dst, int ld, bool token_rows) {
  const bool tok_fast = op.tok_stride <= op.dim_stride;
  for (int i = threadIdx.x; i < kRows * kD; i += blockDim.x) {
    const int tok = tok_fast ? i % kRows : i / kD;
    const int dim = tok_fast ? i / kRows : i % kD;
    const int t = tok0 + tok;
    const float x = t < n ? load(src, t * op.tok_stride + dim * op.dim_stride) : 0.0f;
    const int at = token_rows ? tok * ld + dim : dim * ld + tok;
    if constexpr (sizeof(S) == 2) {
      dst[at] = __float2half_rn(x);
    } else {
      dst[at] = x;
    }
  }
}

// The same for an fp16 operand with vec8 (attention.cuh): 16-byte chunks of 8 tokens of one dim,
// stored as they are in [dim][token] rows (ld and the tile 16-byte aligned) or spread over 8
// [token][dim] rows. n is a multiple of 8, so a chunk is all in or all out.
template <int kRows, int kD>
__device__ __forceinline__ void load_tile_vec8(const __half* src, const AttnOperand& op, int tok0,
                                               int n, __half* dst, int ld, bool token_rows) {
  constexpr int kChunks = kRows / 8;
  for (int i = threadIdx.x; i < kChunks * kD; i += blockDim.x) {
    const int c = i % kChunks, dim = i / kChunks, t = tok0 + c * 8;
    uint4 u = make_uint4(0, 0, 0, 0);
    if (t < n) u = *reinterpret_cast<const uint4*>(src + t + dim * op.dim_stride);
    if (!token_rows) {
      *reinterpret_cast<uint4*>(dst + dim * ld + c * 8) = u;
    } else {
      const __half* h = reinterpret_cast<const __half*>(&u);
#pragma unroll
      for (int j = 0; j < 8; ++j) dst[(c * 8 + j) * ld + dim] = h[j];
    }
  }
}

template <int kRows, int kD>
__device__ __forceinline__ void load_half_tile(const __half* src, const AttnOperand& op, int tok0,
                                               int n, __half* dst, int ld, bool token_rows) {
  if (op.vec8) {
    load_tile_vec8<kRows, kD>(src, op, tok0, n, dst, ld, token_rows);
  } else {
    load_tile<kRows, kD>(src, op, tok0, n, dst, ld, token_rows);
  }
}

__device__ __forceinline__ int64_t problem_offset(const AttnOperand& op, int64_t z) {
  return op.z_inner == 1 ? z * op.z_stride
                         : (z / op.z_inner) * op.z_stride + (z % op.z_inner) * op.inner_stride;
}

__device__ __forceinline__ uint32_t ld32(const __half* p) {
  return *reinterpret_cast<const uint32_t*>(p);
}

__device__ __forceinline__ uint32_t pack_half2(float lo, float hi) {
  __half2 h = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&h);
}

// fp16 on tensor cores: 4 warps, 16 query rows each; key tiles of kBk through shared memory.
// Fragments (PTX ISA, m16n8k16, g = lane / 4, t = lane % 4): A regs {row g | g+8} x {cols 2t,2t+1
// | +8}; B regs k rows {2t,2t+1 | +8} x col g; C {row g | g+8} x cols {2t, 2t+1}. Shared rows
// are padded to 4 words mod 32, so the 8 rows x 4 words a fragment load touches hit 32 banks.
constexpr int kWarps = kAttnMmaRows / 16, kBk = 64;

template <int DQK, int DV>
__global__ void __launch_bounds__(kWarps * 32)
    attention_mma_kernel(const __half* __restrict__ q, const __half* __restrict__ k,
                         const __half* __restrict__ v, __half* __restrict__ o, AttnDesc d) {
  constexpr int kLdq = DQK + 8, kLdv = kBk + 8;
  __shared__ __align__(16) __half qs[kAttnMmaRows * kLdq];
  __shared__ __align__(16) __half ks[kBk * kLdq];  // [key][dim]
  __shared__ __align__(16) __half vs[DV * kLdv];   // [dim][key]
  const int64_t z = blockIdx.x;
  const int q0 = static_cast<int>(blockIdx.y) * kAttnMmaRows;
  const __half* qz = q + problem_offset(d.q, z);
  const __half* kz = k + problem_offset(d.k, z);
  const __half* vz = v + problem_offset(d.v, z);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;

  load_half_tile<kAttnMmaRows, DQK>(qz + static_cast<int64_t>(q0) * d.q.tok_stride, d.q, 0,
                                    d.n_q - q0, qs, kLdq, true);
  __syncthreads();
  uint32_t qa[DQK / 16][4];
  const int r0 = warp * 16 + g;
#pragma unroll
  for (int kc = 0; kc < DQK / 16; ++kc) {
    qa[kc][0] = ld32(qs + r0 * kLdq + kc * 16 + 2 * t);
    qa[kc][1] = ld32(qs + (r0 + 8) * kLdq + kc * 16 + 2 * t);
    qa[kc][2] = ld32(qs + r0 * kLdq + kc * 16 + 8 + 2 * t);
    qa[kc][3] = ld32(qs + (r0 + 8) * kLdq + kc * 16 + 8 + 2 * t);
  }
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
  float acc[DV / 8][4];
#pragma unroll
  for (int ni = 0; ni < DV / 8; ++ni)
#pragma unroll
    for (int c = 0; c < 4; ++c) acc[ni][c] = 0.0f;
  const float sl2 = d.scale * kLog2e;

  for (int k0 = 0; k0 < d.n_k; k0 += kBk) {
    __syncthreads();  // the previous tile is consumed
    load_half_tile<kBk, DQK>(kz, d.k, k0, d.n_k, ks, kLdq, true);
    load_half_tile<kBk, DV>(vz, d.v, k0, d.n_k, vs, kLdv, false);
    __syncthreads();
    float s[kBk / 8][4];
#pragma unroll
    for (int ni = 0; ni < kBk / 8; ++ni) {
#pragma unroll
      for (int c = 0; c < 4; ++c) s[ni][c] = 0.0f;
      const __half* kr = ks + (ni * 8 + g) * kLdq + 2 * t;
#pragma unroll
      for (int kc = 0; kc < DQK / 16; ++kc)
        mma::mma16816(s[ni], qa[kc], ld32(kr + kc * 16), ld32(kr + kc * 16 + 8));
    }
    // Scaled to base 2, keys past n_k masked; every tile holds at least one key, so mx is finite.
    float mx[2] = {m[0], m[1]};
#pragma unroll
    for (int ni = 0; ni < kBk / 8; ++ni) {
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        const int key = k0 + ni * 8 + 2 * t + (c & 1);
        s[ni][c] = key < d.n_k ? s[ni][c] * sl2 : -INFINITY;
        mx[c >> 1] = fmaxf(mx[c >> 1], s[ni][c]);
      }
    }
    float corr[2], rs[2] = {0.0f, 0.0f};
#pragma unroll
    for (int h = 0; h < 2; ++h) {  // the 4 threads of a quad share rows g and g + 8
      mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 1));
      mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 2));
      corr[h] = exp2f(m[h] - mx[h]);  // 0 on the first tile (m = -inf)
      m[h] = mx[h];
    }
#pragma unroll
    for (int ni = 0; ni < kBk / 8; ++ni) {
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        s[ni][c] = exp2f(s[ni][c] - m[c >> 1]);
        rs[c >> 1] += s[ni][c];
      }
    }
#pragma unroll
    for (int h = 0; h < 2; ++h) l[h] = l[h] * corr[h] + rs[h];  // this thread's columns only
#pragma unroll
    for (int ni = 0; ni < DV / 8; ++ni) {
#pragma unroll
      for (int c = 0; c < 4; ++c) acc[ni][c] *= corr[c >> 1];
    }
    // P (the C fragments of two n8 key blocks are the A fragment of one k16 block) times V.
#pragma unroll
    for (int kc = 0; kc < kBk / 16; ++kc) {
      const uint32_t pa[4] = {pack_half2(s[2 * kc][0], s[2 * kc][1]),
                              pack_half2(s[2 * kc][2], s[2 * kc][3]),
                              pack_half2(s[2 * kc + 1][0], s[2 * kc + 1][1]),
                              pack_half2(s[2 * kc + 1][2], s[2 * kc + 1][3])};
#pragma unroll
      for (int ni = 0; ni < DV / 8; ++ni) {
        const __half* vr = vs + (ni * 8 + g) * kLdv + kc * 16 + 2 * t;
        mma::mma16816(acc[ni], pa, ld32(vr), ld32(vr + 8));
      }
    }
  }
  float inv[2];
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    l[h] += __shfl_xor_sync(0xffffffffu, l[h], 1);
    l[h] += __shfl_xor_sync(0xffffffffu, l[h], 2);
    inv[h] = 1.0f / l[h];
  }
  __half* oz = o + problem_offset(d.o, z);
#pragma unroll
  for (int ni = 0; ni < DV / 8; ++ni) {
#pragma unroll
    for (int c = 0; c < 4; ++c) {
      const int row = q0 + r0 + (c >> 1) * 8, dim = ni * 8 + 2 * t + (c & 1);
      if (row < d.n_q)
        oz[row * d.o.tok_stride + dim * d.o.dim_stride] = __float2half_rn(acc[ni][c] * inv[c >> 1]);
    }
  }
}

// fp32 FMAs: one thread per query row (q and the output row in registers), key tiles of kKeys
// rows in shared memory read as broadcasts.
constexpr int kKeys = 32;

template <class T, int DQK, int DV>
__global__ void __launch_bounds__(kAttnSimtRows)
    attention_simt_kernel(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                          T* __restrict__ o, AttnDesc d) {
  __shared__ float ks[kKeys * DQK];  // [key][dim]
  __shared__ float vs[kKeys * DV];   // [key][dim]
  const int64_t z = blockIdx.x;
  const int row = static_cast<int>(blockIdx.y) * kAttnSimtRows + static_cast<int>(threadIdx.x);
  const bool live = row < d.n_q;
  const T* qz = q + problem_offset(d.q, z);
  const T* kz = k + problem_offset(d.k, z);
  const T* vz = v + problem_offset(d.v, z);
  const float sl2 = d.scale * kLog2e;
  float qr[DQK], acc[DV];
#pragma unroll
  for (int i = 0; i < DQK; ++i)
    qr[i] = live ? load(qz, row * d.q.tok_stride + i * d.q.dim_stride) * sl2 : 0.0f;
#pragma unroll
  for (int i = 0; i < DV; ++i) acc[i] = 0.0f;
  float m = -INFINITY, l = 0.0f;
  for (int k0 = 0; k0 < d.n_k; k0 += kKeys) {
    __syncthreads();
    load_tile<kKeys, DQK>(kz, d.k, k0, d.n_k, ks, DQK, true);
    load_tile<kKeys, DV>(vz, d.v, k0, d.n_k, vs, DV, true);
    __syncthreads();
    float s[kKeys];
    float mx = m;
#pragma unroll
    for (int j = 0; j < kKeys; ++j) {
      float a = 0.0f;
#pragma unroll
      for (int i = 0; i < DQK; ++i) a = fmaf(qr[i], ks[j * DQK + i], a);
      s[j] = k0 + j < d.n_k ? a : -INFINITY;
      mx = fmaxf(mx, s[j]);
    }
    const float corr = exp2f(m - mx);
    m = mx;
    l *= corr;
#pragma unroll
    for (int i = 0; i < DV; ++i) acc[i] *= corr;
#pragma unroll
    for (int j = 0; j < kKeys; ++j) {
      const float p = exp2f(s[j] - m);
      l += p;
#pragma unroll
      for (int i = 0; i < DV; ++i) acc[i] = fmaf(p, vs[j * DV + i], acc[i]);
    }
  }
  if (!live) return;
  const float inv = 1.0f / l;
  T* oz = o + problem_offset(d.o, z);
#pragma unroll
  for (int i = 0; i < DV; ++i) store(oz, row * d.o.tok_stride + i * d.o.dim_stride, acc[i] * inv);
}

// 16-byte chunks of 8 tokens: tokens contiguous, chunk starts aligned in every problem and dim.
bool vec8(const AttnOperand& op, const void* p, int n) {
  return op.tok_stride == 1 && n % 8 == 0 && op.dim_stride % 8 == 0 && op.z_stride % 8 == 0 &&
         (op.z_inner == 1 || op.inner_stride % 8 == 0) && reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

template <int DQK, int DV>
void launch_dims(Elem e, AttnDesc d, const void* q, const void* k, const void* v, void* o,
                 bool simt, cudaStream_t st) {
  if (e == Elem::kF16 && !simt) {
    d.q.vec8 = vec8(d.q, q, d.n_q);
    d.k.vec8 = vec8(d.k, k, d.n_k);
    d.v.vec8 = vec8(d.v, v, d.n_k);
    const dim3 grid(static_cast<unsigned>(d.z),
                    static_cast<unsigned>((d.n_q + kAttnMmaRows - 1) / kAttnMmaRows));
    attention_mma_kernel<DQK, DV>
        <<<grid, kWarps * 32, 0, st>>>(static_cast<const __half*>(q), static_cast<const __half*>(k),
                                       static_cast<const __half*>(v), static_cast<__half*>(o), d);
    return;
  }
  const dim3 grid(static_cast<unsigned>(d.z),
                  static_cast<unsigned>((d.n_q + kAttnSimtRows - 1) / kAttnSimtRows));
  if (e == Elem::kF16) {
    attention_simt_kernel<__half, DQK, DV><<<grid, kAttnSimtRows, 0, st>>>(
        static_cast<const __half*>(q), static_cast<const __half*>(k), static_cast<const __half*>(v),
        static_cast<__half*>(o), d);
  } else {
    attention_simt_kernel<float, DQK, DV>
        <<<grid, kAttnSimtRows, 0, st>>>(static_cast<const float*>(q), static_cast<const float*>(k),
                                         static_cast<const float*>(v), static_cast<float*>(o), d);
  }
}

template <int DQK>
bool launch_dv(Elem e, const AttnDesc& d, const void* q, const void* k, const void* v, void* o,
               bool simt, cudaStream_t st) {
  switch (d.d_v) {
    case 16:
      launch_dims<DQK, 16>(e, d, q, k, v, o, simt, st);
      return true;
    case 32:
      launch_dims<DQK, 32>(e, d, q, k, v, o, simt, st);
      return true;
    case 64:
      launch_dims<DQK, 64>(e, d, q, k, v, o, simt, st);
      return true;
    default:
      return false;
  }
}

}  // namespace

bool launch_attention(Elem e, const AttnDesc& d, const void* q, const void* k, const void* v,
                      void* o, bool simt, cudaStream_t stream) {
  if (d.z < 1 || d.z > INT_MAX || d.n_q < 1 || d.n_k < 1) return false;
  if ((d.n_q + kAttnMmaRows - 1) / kAttnMmaRows > 65535) return false;
  switch (d.d_qk) {
    case 16:
      return launch_dv<16>(e, d, q, k, v, o, simt, stream);
    case 32:
      return launch_dv<32>(e, d, q, k, v, o, simt, stream);
    case 64:
      return launch_dv<64>(e, d, q, k, v, o, simt, stream);
    default:
      return false;
  }
}

}  // namespace fungen::cuda
