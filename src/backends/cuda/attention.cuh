// attention.cuh — softmax(scale * Q Kᵀ) V per problem in one kernel, the attention matrix never
// written (an online softmax over key tiles, flash-attention style): YOLO12's area attention and
// YOLO11's C2PSA (lower_attention.cpp, attn_match.h).
//
// Problem z (the flattened batch, area and head axes) has n_q queries and n_k keys; Q and K rows
// have d_qk elements, V rows and the output d_v. Each operand is addressed by strides (elements):
// element (z, token, dim) at ptr + z * z_stride + token * tok_stride + dim * dim_stride, so the
// exports' dim-major tensors [.., d, N] (tok_stride 1) and token-major ones [.., N, d] (dim_stride
// 1) are read as they lie. fp16: tensor cores (mma.sync m16n8k16, fp32 accumulation, P rounded to
// fp16 for P·V); fp32 (or `simt`): fp32 FMAs. d_qk and d_v each 16, 32 or 64
// (attention_dims_supported, attn_match.h).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "backends/cuda/elem.h"

namespace fungen::cuda {

// Problem z starts at (z / z_inner) * z_stride + (z % z_inner) * inner_stride: z_inner 1 for a
// tensor whose problems are back to back, the heads for an output written [B', N, heads, d].
struct AttnOperand {
  int64_t z_stride = 0, tok_stride = 0, dim_stride = 0;
  int64_t z_inner = 1, inner_stride = 0;
  // Set by launch_attention: tokens contiguous, every 8-token chunk 16-byte aligned and n a
  // multiple of 8 (fp16): the tensor-core kernel loads the operand in 16-byte chunks.
  bool vec8 = false;
};

struct AttnDesc {
  int64_t z = 0;  // problems
  int n_q = 0, n_k = 0, d_qk = 0, d_v = 0;
  float scale = 1.0f;  // applied to Q·Kᵀ in fp32
  AttnOperand q, k, v, o;
};

// Query rows one CTA of each kernel takes (grid: z x ceil(n_q / rows)).
inline constexpr int kAttnMmaRows = 64;
inline constexpr int kAttnSimtRows = 128;

// simt: the fp32-FMA kernel also for fp16 storage (tests compare the two). False when the shape
// cannot be launched (dims other than 16/32/64, z or the query tiles past the grid's limits).
bool launch_attention(Elem e, const AttnDesc& d, const void* q, const void* k, const void* v,
                      void* o, bool simt, cudaStream_t stream);

}  // namespace fungen::cuda
