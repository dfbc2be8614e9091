// conv_mma.cuh — device helpers shared by the backend's tensor-core convolutions (conv_igemm.cu,
// the persistent 1x1 kernel conv_igemm_1x1.cu, conv_tile3.cu): cp.async loads, ldmatrix /
// mma.sync m16n8k16 (fp16 in, fp32 accumulate), the XOR swizzles of 64- and 32-byte shared rows,
// and the fused epilogue (bias + SiLU on the accumulators, the fp16 tile staged in shared memory,
// then + residual (with a row stride) and stores as NHWC rows with a row stride, optionally a
// second time (dual store), or NCHW).
//
//   float acc[MI][NI][4];            // a warp's WM x WN block, m16n8 fragments
//   ... mma16816(acc[mi][ni], a[mi], b[ni][0], b[ni][1]) ...
//   stage_accumulators<MI, NI>(acc, tile, ldc, warp_row0, warp_col0, n0, bias, cout, silu, lane);
//   __syncthreads();
//   store_tile<BM, BN, kThreads>(tile, ldc, row_to_pixel, n0, out_desc, threadIdx.x);
// Device code only: include it from .cu files.
#pragma once

#include <cuda_fp16.h>

#include <cstdint>

namespace fungen::cuda::mma {

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16 bytes global -> shared, zero-filled when !valid (src is then not read; it must still be a
// valid address). .ca caches in L1 (reused by several taps), .cg in L2 only.
__device__ __forceinline__ void cp_async16_ca(uint32_t dst, const void* src, bool valid) {
  const int bytes = valid ? 16 : 0;
  asm volatile("cp.async.ca.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(bytes)
               : "memory");
}
__device__ __forceinline__ void cp_async16_cg_zfill(uint32_t dst, const void* src, bool valid) {
  const int bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(bytes)
               : "memory");
}
__device__ __forceinline__ void cp_async16_cg(uint32_t dst, const void* src) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst), "l"(src) : "memory");
}
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr)
               : "memory");
}

__device__ __forceinline__ void mma16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                         uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Byte offset of 16-byte chunk `chunk` (0..3) of shared row `row` of 64 bytes (32 halves of K):
// rows r..r+7 (r % 8 == 0) at one chunk land in the 8 distinct 16-byte bank groups of a 128-byte
// line pair, so ldmatrix reads 8 rows without bank conflicts.
__device__ __forceinline__ uint32_t swz64(int row, int chunk) {
  return static_cast<uint32_t>(row * 64 + ((chunk ^ ((row >> 1) & 3)) << 4));
}
// The same for rows of 32 bytes (16 halves), chunk 0 or 1.
__device__ __forceinline__ uint32_t swz32(int row, int chunk) {
  return static_cast<uint32_t>(row * 32 + ((chunk ^ ((row >> 2) & 1)) << 4));
}

// Two n8 B fragments from one ldmatrix.x4 at `addr` (16 rows of output channels: b0 the first 8,
// b1 the next 8).
__device__ __forceinline__ void ldmatrix_b_pair(uint32_t (&b0)[2], uint32_t (&b1)[2],
                                                uint32_t addr) {
  uint32_t t[4];
  ldmatrix_x4(t, addr);
  b0[0] = t[0];
  b0[1] = t[1];
  b1[0] = t[2];
  b1[1] = t[3];
}

// The accumulators of a warp's block set to zero.
template <int MI, int NI>
__device__ __forceinline__ void zero_acc(float (&acc)[MI][NI][4]) {
#pragma unroll
  for (int mi = 0; mi < MI; ++mi)
#pragma unroll
    for (int ni = 0; ni < NI; ++ni)
#pragma unroll
      for (int q = 0; q < 4; ++q) acc[mi][ni][q] = 0.0f;
}

// acc[mi][ni] += a[mi] * b[ni], m16n8k16 each.
template <int MI, int NI>
__device__ __forceinline__ void mma_block(float (&acc)[MI][NI][4], const uint32_t (&a)[MI][4],
                                          const uint32_t (&b)[NI][2]) {
#pragma unroll
  for (int mi = 0; mi < MI; ++mi)
#pragma unroll
    for (int ni = 0; ni < NI; ++ni) mma16816(acc[mi][ni], a[mi], b[ni][0], b[ni][1]);
}

// One K tile held in 64-byte swizzled rows (swz64: 32 halves of K, two k16 steps) into a warp's
// WM x WN block: A rows (pixels) at sa, the warp's from warp_m * WM; B rows (output channels) at
// sb, from warp_n * WN.
template <int MI, int NI, int WM, int WN>
__device__ __forceinline__ void mma_k32_swz64(float (&acc)[MI][NI][4], uint32_t sa, uint32_t sb,
                                              int warp_m, int warp_n, int lane) {
#pragma unroll
  for (int kk = 0; kk < 2; ++kk) {
    uint32_t a[MI][4], b[NI][2];
#pragma unroll
    for (int mi = 0; mi < MI; ++mi) {
      const int row = warp_m * WM + mi * 16 + (lane & 15);
      ldmatrix_x4(a[mi], sa + swz64(row, kk * 2 + (lane >> 4)));
    }
#pragma unroll
    for (int nj = 0; nj < NI / 2; ++nj) {
      const int row = warp_n * WN + nj * 16 + (lane & 7) + ((lane >> 4) << 3);
      ldmatrix_b_pair(b[2 * nj], b[2 * nj + 1], sb + swz64(row, kk * 2 + ((lane >> 3) & 1)));
    }
    mma_block(acc, a, b);
  }
}

// The 9 taps of a 3x3 convolution over one 16-channel chunk of an input halo held in 32-byte
// swizzled rows (swz32; tile3 and the fused stem): tap (r, s) reads the A rows abase[mi] +
// r * halo_w + col_offset(s) (abase: each fragment's row of tap (0, 0)) and the B rows
// (r * 3 + s) * BN + nj * 16 + brow.
template <int MI, int NI, int BN, class ColOffset>
__device__ __forceinline__ void mma_3x3_swz32(float (&acc)[MI][NI][4], uint32_t sa, uint32_t sb,
                                              const int (&abase)[MI], int achunk, int brow,
                                              int bchunk, int halo_w, ColOffset col_offset) {
#pragma unroll
  for (int r = 0; r < 3; ++r) {
#pragma unroll
    for (int s = 0; s < 3; ++s) {
      const int shift = r * halo_w + col_offset(s);
      uint32_t a[MI][4], bf[NI][2];
#pragma unroll
      for (int mi = 0; mi < MI; ++mi) ldmatrix_x4(a[mi], sa + swz32(abase[mi] + shift, achunk));
#pragma unroll
      for (int nj = 0; nj < NI / 2; ++nj)
        ldmatrix_b_pair(bf[2 * nj], bf[2 * nj + 1],
                        sb + swz32((r * 3 + s) * BN + nj * 16 + brow, bchunk));
      mma_block(acc, a, bf);
    }
  }
}

__device__ __forceinline__ float silu(float v) {
  return v / (1.0f + __expf(-v));
}

// Epilogue 1: act(acc + bias) as fp16 into the staged tile (row length ldc halves). A warp's
// fragment (mi, ni) holds tile rows row0 + mi * 16 + g (+ 8) and columns col0 + ni * 8 + 2 * t4
// (+ 1), g = lane / 4, t4 = lane % 4; n0 + column is the output channel. cout is even.
template <int MI, int NI>
__device__ __forceinline__ void stage_accumulators(const float (&acc)[MI][NI][4], __half* tile,
                                                   int ldc, int row0, int col0, int n0,
                                                   const float* bias, int cout, bool act_silu,
                                                   int lane) {
  const int g = lane >> 2, t4 = lane & 3;
#pragma unroll
  for (int ni = 0; ni < NI; ++ni) {
    const int cl = col0 + ni * 8 + t4 * 2, c = n0 + cl;
    float b0 = 0.0f, b1 = 0.0f;
    if (bias && c < cout) {  // cout is even: c + 1 < cout too
      b0 = bias[c];
      b1 = bias[c + 1];
    }
#pragma unroll
    for (int mi = 0; mi < MI; ++mi) {
#pragma unroll
      for (int hf = 0; hf < 2; ++hf) {
        const int r = row0 + mi * 16 + g + hf * 8;
        float v0 = acc[mi][ni][hf * 2] + b0, v1 = acc[mi][ni][hf * 2 + 1] + b1;
        if (act_silu) {
          v0 = silu(v0);
          v1 = silu(v1);
        }
        *reinterpret_cast<__half2*>(tile + r * ldc + cl) = __floats2half2_rn(v0, v1);
      }
    }
  }
}

// Where the epilogue writes: out (NHWC rows of out_ld halves, or NCHW [img][cout][ohw]), the
// residual z (NHWC rows of z_ld halves, or null) and the dual store out2 (NHWC rows of out2_ld
// halves, or null; NHWC only).
struct EpilogueOut {
  const __half* z;
  __half* out;
  int cout;
  int ohw;
  int64_t out_ld;
  bool nchw;
  int64_t z_ld;
  __half* out2 = nullptr;
  int64_t out2_ld = 0;
  // NCHW: channel c of image b at out + b * nchw_batch_ld + c * nchw_ch_ld; 0: packed.
  int64_t nchw_ch_ld = 0, nchw_batch_ld = 0;
  // NHWC: elements between images of out (pixel p of image b at out + b * out_img_ld + p *
  // out_ld: the anchor-major head input, head_rows.h); 0: ohw * out_ld (rows back to back).
  int64_t out_img_ld = 0;
};

// Epilogue 2: the staged BM x BN tile + residual to global memory. pixel(r) is the output pixel
// (n * OH * OW index) of tile row r, or -1 when the row is outside the output. NHWC: 16-byte
// chunks of 8 channels along the rows (cout, out_ld and the pointers multiples of 8 halves).
// The NHWC rows go to out2 too when it is set (packed rows there, whatever out_img_ld). NCHW:
// consecutive threads take consecutive rows of one channel.
template <int BM, int BN, int kThreads, class PixelOf>
__device__ __forceinline__ void store_tile(const __half* tile, int ldc, const PixelOf& pixel,
                                           int n0, const EpilogueOut& o, int tid) {
  if (!o.nchw) {
    constexpr int kChunks = BN / 8;
    for (int i = tid; i < BM * kChunks; i += kThreads) {
      const int r = i / kChunks, cl = (i - r * kChunks) * 8;
      const int m = pixel(r), c = n0 + cl;
      if (m < 0 || c >= o.cout) continue;
      uint4 v = *reinterpret_cast<const uint4*>(tile + r * ldc + cl);
      if (o.z) {
        const uint4 zv =
            *reinterpret_cast<const uint4*>(o.z + static_cast<int64_t>(m) * o.z_ld + c);
        __half2* h = reinterpret_cast<__half2*>(&v);
        const __half2* hz = reinterpret_cast<const __half2*>(&zv);
#pragma unroll
        for (int q = 0; q < 4; ++q) {
          const float2 a = __half22float2(h[q]), b = __half22float2(hz[q]);
          h[q] = __floats2half2_rn(a.x + b.x, a.y + b.y);
        }
      }
      int64_t at = static_cast<int64_t>(m) * o.out_ld + c;
      if (o.out_img_ld) {
        const int img = m / o.ohw;
        at = static_cast<int64_t>(img) * o.out_img_ld +
             static_cast<int64_t>(m - img * o.ohw) * o.out_ld + c;
      }
      *reinterpret_cast<uint4*>(o.out + at) = v;
      if (o.out2) *reinterpret_cast<uint4*>(o.out2 + static_cast<int64_t>(m) * o.out2_ld + c) = v;
    }
  } else {
    const int64_t ch_ld = o.nchw_ch_ld ? o.nchw_ch_ld : o.ohw;
    const int64_t batch_ld = o.nchw_batch_ld ? o.nchw_batch_ld : ch_ld * o.cout;
    for (int i = tid; i < BM * BN; i += kThreads) {
      const int cl = i / BM, r = i - cl * BM;
      const int m = pixel(r), c = n0 + cl;
      if (m < 0 || c >= o.cout) continue;
      float v = __half2float(tile[r * ldc + cl]);
      if (o.z) v += __half2float(o.z[static_cast<int64_t>(m) * o.z_ld + c]);
      const int img = m / o.ohw, pix = m - img * o.ohw;
      o.out[static_cast<int64_t>(img) * batch_ld + static_cast<int64_t>(c) * ch_ld + pix] =
          __float2half_rn(v);
    }
  }
}

}  // namespace fungen::cuda::mma
