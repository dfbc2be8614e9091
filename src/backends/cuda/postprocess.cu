// postprocess.cu — see postprocess.cuh. Float operations use _rn intrinsics so that boxes and
// IoUs round exactly as detect/postprocess.cpp computes them on the CPU (no FMA contraction).
#include "backends/cuda/nms_common.cuh"
#include "backends/cuda/postprocess.cuh"

namespace fungen::cuda {
namespace {

__device__ __forceinline__ bool allowed(const DetectParams& p, int c) {
  return !p.allowed || (c >= 0 && c < p.num_allowed && p.allowed[c]);
}

// Per anchor: best class (first wins ties), filter, box as x1y1x2y2, and the candidate's sort
// key (ascending key: score descending, then anchor ascending) appended to its image's list.
__global__ void candidates_kernel(const float* out, int channels, int anchors, int abits,
                                  DetectParams p, Workspace w) {
  const int a = blockIdx.x * blockDim.x + threadIdx.x;
  const int b = blockIdx.y;
  if (a >= anchors) return;
  const float* o = out + static_cast<int64_t>(b) * channels * anchors;
  float best = -1.f;
  int cls = 0;
  for (int c = 0; c < channels - 4; ++c) {
    float v = o[static_cast<int64_t>(4 + c) * anchors + a];
    if (v > best) best = v, cls = c;
  }
  const int64_t i = static_cast<int64_t>(b) * anchors + a;
  if (best > p.conf && allowed(p, cls)) {
    float cx = o[a], cy = o[anchors + a];
    float hw = __fdiv_rn(o[2 * static_cast<int64_t>(anchors) + a], 2.f);
    float hh = __fdiv_rn(o[3 * static_cast<int64_t>(anchors) + a], 2.f);
    w.boxes[i] =
        make_float4(__fsub_rn(cx, hw), __fsub_rn(cy, hh), __fadd_rn(cx, hw), __fadd_rn(cy, hh));
    w.scores[i] = best;
    w.classes[i] = cls;
    unsigned long long key =
        (static_cast<unsigned long long>(0xFFFFFFFFu - __float_as_uint(best)) << abits) |
        static_cast<unsigned long long>(a);
    int slot = atomicAdd(&w.count[b], 1);
    w.keys_in[static_cast<int64_t>(b) * anchors + slot] = key;
  }
}

__device__ __forceinline__ float4 shfl4(float4 v, int lane) {
  return make_float4(__shfl_sync(0xFFFFFFFFu, v.x, lane), __shfl_sync(0xFFFFFFFFu, v.y, lane),
                     __shfl_sync(0xFFFFFFFFu, v.z, lane), __shfl_sync(0xFFFFFFFFu, v.w, lane));
}

// Greedy NMS, 32 candidates per pass: warp 0 takes the next 32 unsuppressed candidates, decides
// among them in order (a candidate is kept unless an earlier kept one of the group overlaps it
// above iou; earlier groups already suppressed theirs), then every thread suppresses the later
// candidates that overlap any box kept in the group. Same result as one kept box per pass, with
// one block barrier per 32 candidates instead of one per kept box. Returns the kept count.
__device__ int greedy_grouped(int n, const unsigned long long* keys, unsigned long long amask,
                              int64_t base, unsigned int* suppressed, float* dets,
                              const DetectParams& p, const Workspace& w) {
  __shared__ int s_idx[32];
  __shared__ float4 s_kept[32];
  __shared__ int s_cnt, s_nkept;
  volatile unsigned int* sup = suppressed;
  const int lane = threadIdx.x & 31;
  int kept = 0, i = 0;
  while (true) {
    if (threadIdx.x < 32) {
      if (lane == 0) {
        int cnt = 0;
        for (int k = i; cnt < 32 && k < n;) {
          const int word_base = k & ~31;
          unsigned int free_bits = ~(sup[k >> 5] | ((1u << (k & 31)) - 1u));
          while (free_bits && cnt < 32) {
            const int idx = word_base + __ffs(free_bits) - 1;
            if (idx >= n) break;
            s_idx[cnt++] = idx;
            free_bits &= free_bits - 1;
          }
          k = word_base + 32;
        }
        s_cnt = cnt;
      }
      __syncwarp();
      const int cnt = s_cnt;
      const int mine = lane < cnt ? s_idx[lane] : 0;
      const float4 box = lane < cnt ? w.shifted[base + mine] : make_float4(0.f, 0.f, 0.f, 0.f);
      unsigned int by_earlier = 0;  // earlier group members that overlap this one above iou
      for (int m = 0; m < cnt; ++m) {
        const float4 other = shfl4(box, m);
        if (m < lane && lane < cnt && iou_above(other, box, p.iou)) by_earlier |= 1u << m;
      }
      const int room = p.max_det - kept;
      unsigned int keep = 0;
      for (int l = 0; l < cnt && __popc(keep) < room; ++l) {
        const unsigned int overlaps = __shfl_sync(0xFFFFFFFFu, by_earlier, l);
        if ((overlaps & keep) == 0) keep |= 1u << l;
      }
      if (lane < cnt && ((keep >> lane) & 1u)) {
        const int rank = __popc(keep & ((1u << lane) - 1u));
        const int a = static_cast<int>(keys[mine] & amask);
        const float4 plain = w.boxes[base + a];
        float* d = dets + static_cast<int64_t>(kept + rank) * 6;
        d[0] = plain.x, d[1] = plain.y, d[2] = plain.z, d[3] = plain.w;
        d[4] = w.scores[base + a];
        d[5] = static_cast<float>(w.classes[base + a]);
        s_kept[rank] = box;
      }
      if (lane == 0) s_nkept = __popc(keep);
    }
    __syncthreads();
    const int cnt = s_cnt, nkept = s_nkept;
    kept += nkept;
    // Fewer than 32 found: every candidate left has been decided.
    if (cnt < 32 || kept >= p.max_det) break;
    const int next = s_idx[cnt - 1] + 1;
    for (int j = next + threadIdx.x; j < n; j += blockDim.x) {
      if ((sup[j >> 5] >> (j & 31)) & 1u) continue;
      const float4 bj = w.shifted[base + j];
      for (int k = 0; k < nkept; ++k) {
        if (iou_above(s_kept[k], bj, p.iou)) {
          atomicOr(&suppressed[j >> 5], 1u << (j & 31));
          break;
        }
      }
    }
    __syncthreads();
    i = next;
  }
  return kept;
}

// One block per image: greedy NMS over the sorted candidates with a shared bitmask of the
// suppressed ones. Each kept box is tested against all later ones in parallel.
// Shared memory: the suppressed bitmask (mask_words), then up to smem_keys keys.
__global__ void __launch_bounds__(kNmsThreads)
    nms_kernel(int anchors, int abits, int mask_words, int smem_keys, DetectParams p, Workspace w,
               DetectOutput r) {
  extern __shared__ unsigned long long smem[];
  unsigned int* suppressed = reinterpret_cast<unsigned int*>(smem);
  const int b = blockIdx.x;
  const int64_t base = static_cast<int64_t>(b) * anchors;
  const int sorted_n = next_pow2_device(w.count[b]);
  unsigned long long* keys = sorted_n <= smem_keys
                                 ? smem + (mask_words + 1) / 2
                                 : w.keys_big + static_cast<int64_t>(b) * next_pow2_device(anchors);
  const int n = sort_candidates(keys, anchors, abits, p, w, b);
  const int words = (n + 31) / 32;
  const unsigned long long amask = (1ull << abits) - 1;
  for (int k = threadIdx.x; k < words; k += blockDim.x) suppressed[k] = 0;
  __syncthreads();
  float* dets = r.dets + static_cast<int64_t>(b) * p.max_det * 6;
  if (p.method == NmsMethod::kGrouped) {
    const int kept = greedy_grouped(n, keys, amask, base, suppressed, dets, p, w);
    if (threadIdx.x == 0) r.count[b] = kept;
    return;
  }
  volatile unsigned int* sup = suppressed;
  int kept = 0, i = 0;
  while (kept < p.max_det) {
    // The first candidate at or after i that no kept box suppressed (same for every thread).
    while (i < n) {
      unsigned int word = sup[i >> 5] | ((1u << (i & 31)) - 1u);
      if (word != 0xFFFFFFFFu) {
        i = (i & ~31) + __ffs(~word) - 1;
        break;
      }
      i = (i & ~31) + 32;
    }
    if (i >= n) break;
    if (threadIdx.x == 0) {
      int a = static_cast<int>(keys[i] & amask);
      float4 box = w.boxes[base + a];
      float* d = dets + static_cast<int64_t>(kept) * 6;
      d[0] = box.x, d[1] = box.y, d[2] = box.z, d[3] = box.w;
      d[4] = w.scores[base + a];
      d[5] = static_cast<float>(w.classes[base + a]);
    }
    ++kept;
    const float4 bi = w.shifted[base + i];
    for (int j = i + 1 + threadIdx.x; j < n; j += blockDim.x) {
      if ((sup[j >> 5] >> (j & 31)) & 1u) continue;
      if (iou_above(bi, w.shifted[base + j], p.iou)) atomicOr(&suppressed[j >> 5], 1u << (j & 31));
    }
    __syncthreads();
    ++i;
  }
  if (threadIdx.x == 0) r.count[b] = kept;
}

// One warp per image: rows in order, compacted with ballots so the order is kept.
__global__ void end_to_end_kernel(const float* out, int rows, int cols, DetectParams p,
                                  DetectOutput r) {
  const int b = blockIdx.x;
  const int lane = threadIdx.x;
  const float* o = out + static_cast<int64_t>(b) * rows * cols;
  float* dets = r.dets + static_cast<int64_t>(b) * p.max_det * 6;
  int count = 0;
  for (int start = 0; start < rows && count < p.max_det; start += 32) {
    int row = start + lane;
    bool pass = false;
    const float* v = o + static_cast<int64_t>(row) * cols;
    if (row < rows) pass = v[4] > p.conf && allowed(p, static_cast<int>(v[5]));
    unsigned int ballot = __ballot_sync(0xFFFFFFFFu, pass);
    int pos = count + __popc(ballot & ((1u << lane) - 1u));
    if (pass && pos < p.max_det) {
      float* d = dets + static_cast<int64_t>(pos) * 6;
      for (int k = 0; k < 5; ++k) d[k] = v[k];
      d[5] = static_cast<float>(static_cast<int>(v[5]));
    }
    count += __popc(ballot);
  }
  if (lane == 0) r.count[b] = count < p.max_det ? count : p.max_det;
}

}  // namespace

size_t raw_detect_workspace_bytes(int batch, int anchors) {
  return workspace_bytes_of(batch, anchors);
}

bool mask_nms_fits(int batch, int anchors) {
  // The walk keeps one bit per candidate of its image in (default, 48 KiB) shared memory.
  return mask_bytes(batch, anchors) <= kMaskBudgetBytes && mask_words_of(anchors) * 8 <= 48 * 1024;
}

cudaError_t raw_detect(const float* out, int batch, int channels, int anchors,
                       const DetectParams& p, void* workspace, size_t workspace_bytes,
                       const DetectOutput& result, cudaStream_t stream, const DetectMarks* marks) {
  if (workspace_bytes < raw_detect_workspace_bytes(batch, anchors) || anchors <= 0 ||
      channels <= 4) {
    return cudaErrorInvalidValue;
  }
  Workspace w = carve(workspace, batch, anchors);
  const int abits = anchor_bits(anchors);
  // Shared memory: as many sort keys as the device allows (the rest sort in global memory). The
  // limit is queried and the attributes set on the first (uncaptured) call.
  static int optin = -1;
  if (optin < 0) {
    int device = 0;
    optin = 48 * 1024;
    if (cudaGetDevice(&device) != cudaSuccess ||
        cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) !=
            cudaSuccess) {
      optin = 48 * 1024;
    }
  }
  cudaError_t e = cudaMemsetAsync(w.count, 0, sizeof(int) * batch, stream);
  if (e != cudaSuccess) return e;
  dim3 grid((anchors + 255) / 256, batch);
  candidates_kernel<<<grid, 256, 0, stream>>>(out, channels, anchors, abits, p, w);
  if (marks && marks->candidates) {
    e = cudaEventRecord(marks->candidates, stream);
    if (e != cudaSuccess) return e;
  }
  if (p.method == NmsMethod::kMask && mask_nms_fits(batch, anchors) && w.mask) {
    e = cudaGetLastError();
    if (e != cudaSuccess) return e;
    return launch_mask_nms(batch, anchors, abits, p, w, result, optin, stream, marks);
  }
  const int sup_words = (anchors + 31) / 32;
  const size_t sup_bytes = sizeof(unsigned long long) * ((sup_words + 1) / 2);
  const int dynamic_max = optin - 1024;  // the grouped variant's static shared memory
  int smem_keys = next_pow2(anchors);
  while (smem_keys > 1 &&
         sup_bytes + 8 * static_cast<size_t>(smem_keys) > static_cast<size_t>(dynamic_max))
    smem_keys >>= 1;
  const size_t smem = sup_bytes + 8 * static_cast<size_t>(smem_keys);
  static size_t configured = 48 * 1024;
  if (smem > configured) {
    e = cudaFuncSetAttribute(nms_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             static_cast<int>(smem));
    if (e != cudaSuccess) return e;
    configured = smem;
  }
  nms_kernel<<<batch, kNmsThreads, smem, stream>>>(anchors, abits, sup_words, smem_keys, p, w,
                                                   result);
  return cudaGetLastError();
}

cudaError_t end_to_end_detect(const float* out, int batch, int rows, int cols,
                              const DetectParams& p, const DetectOutput& result,
                              cudaStream_t stream) {
  end_to_end_kernel<<<batch, 32, 0, stream>>>(out, rows, cols, p, result);
  return cudaGetLastError();
}

}  // namespace fungen::cuda
