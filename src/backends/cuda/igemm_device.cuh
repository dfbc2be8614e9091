// igemm_device.cuh — device helpers of the tensor-core convolution kernels (conv_igemm.cu, the
// persistent 1x1 kernel conv_igemm_1x1.cu): cp.async 16-byte copies, ldmatrix / mma.m16n8k16
// wrappers and the XOR swizzle of the 64-byte shared rows (one 32-wide K tile of fp16 per row).
// Included by .cu files only (inline device functions in an anonymous namespace).
#pragma once

#include <cuda_fp16.h>

#include <cstdint>

namespace fungen::cuda {
namespace {

constexpr int kBK = 32;  // halves of K per shared row: four 16-byte chunks
constexpr int kRowBytes = kBK * 2;

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16 bytes global -> shared, zero-filled when !valid (src is then not read). Activations through
// L1 (.ca: a 3x3 conv reads each input pixel for up to 9 taps of one tile), weights L2 only.
__device__ __forceinline__ void cp_async16_ca(uint32_t dst, const void* src, bool valid) {
  const int bytes = valid ? 16 : 0;
  asm volatile("cp.async.ca.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(bytes)
               : "memory");
}
// L2 only, zero-filled when !valid (streamed activations that no other tap of the CTA re-reads).
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

// Byte offset of chunk `chunk` (0..3) of tile row `row`: rows r..r+7 (r % 8 == 0) at one chunk
// land in the 8 distinct 16-byte bank groups of a 128-byte line pair.
__device__ __forceinline__ uint32_t swz(int row, int chunk) {
  return static_cast<uint32_t>(row * kRowBytes + ((chunk ^ ((row >> 1) & 3)) << 4));
}

__device__ __forceinline__ float silu(float v) {
  return v / (1.0f + __expf(-v));
}

}  // namespace
}  // namespace fungen::cuda
