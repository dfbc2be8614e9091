// nms_mask.cu — the kMask greedy NMS (postprocess.cuh): the O(n²) IoU tests spread over the
// whole GPU instead of one block per image, then a short sequential walk.
//  1. sort_kernel (a block per image): candidate keys sorted, the first n = min(count, max_nms)
//     written back in rank order, boxes class-offset by rank (as the per-box kernel);
//  2. mask_kernel (a block per 64×64 tile of candidate pairs, upper triangle): bit j of word
//     mask[i][j/64] is set when j > i and IoU(i, j) > iou, the CPU's test bit for bit;
//  3. walk_kernel (a block per image): 64 candidates per step. Warp 0 takes the step's word of
//     `removed` (bits set by the rows of boxes kept in earlier steps), keeps its lowest clear bit,
//     clears-by-setting the bits that box's row marks inside the step, and repeats: exactly the
//     CPU's in-order greedy. Then every thread ORs the rows of the step's kept boxes into the
//     later words of `removed`. Two block barriers per 64 candidates; stops at max_det.
#include "backends/cuda/nms_common.cuh"

namespace fungen::cuda {
namespace {

constexpr int kWalkThreads = 256;

__global__ void __launch_bounds__(kNmsThreads)
    sort_kernel(int anchors, int abits, int smem_keys, DetectParams p, Workspace w) {
  extern __shared__ unsigned long long smem_sort[];
  const int b = blockIdx.x;
  const int64_t base = static_cast<int64_t>(b) * anchors;
  const int sorted_n = next_pow2_device(w.count[b]);
  unsigned long long* keys = sorted_n <= smem_keys
                                 ? smem_sort
                                 : w.keys_big + static_cast<int64_t>(b) * next_pow2_device(anchors);
  const int n = sort_candidates(keys, anchors, abits, p, w, b);
  // keys_in was read into `keys` before the sort's first barrier: safe to overwrite.
  for (int k = threadIdx.x; k < n; k += blockDim.x) w.keys_in[base + k] = keys[k];
  if (threadIdx.x == 0) w.n_nms[b] = n;
}

// Tile (blockIdx.y, blockIdx.x) of image blockIdx.z: rows i = 64·y + t, columns 64·x + c.
__global__ void __launch_bounds__(64) mask_kernel(int anchors, int words, float thr, Workspace w) {
  const int b = blockIdx.z;
  const int row0 = blockIdx.y * 64, col0 = blockIdx.x * 64;
  const int n = w.n_nms[b];
  if (blockIdx.x < blockIdx.y || row0 >= n || col0 >= n) return;
  const int64_t base = static_cast<int64_t>(b) * anchors;
  __shared__ float4 cols[64];
  const int t = threadIdx.x;
  if (col0 + t < n) cols[t] = w.shifted[base + col0 + t];
  __syncthreads();
  const int i = row0 + t;
  if (i >= n) return;
  const float4 box = w.shifted[base + i];
  const int end = min(64, n - col0);
  unsigned long long bits = 0;
  for (int c = 0; c < end; ++c) {
    if (col0 + c > i && iou_above(box, cols[c], thr)) bits |= 1ull << c;
  }
  w.mask[(base + i) * words + blockIdx.x] = bits;
}

__global__ void __launch_bounds__(kWalkThreads)
    walk_kernel(int anchors, int abits, int words_cap, DetectParams p, Workspace w,
                DetectOutput r) {
  extern __shared__ unsigned long long removed[];  // [words_cap]
  __shared__ unsigned long long s_keep;
  const int b = blockIdx.x;
  const int64_t base = static_cast<int64_t>(b) * anchors;
  const int n = w.n_nms[b];
  const int words = (n + 63) / 64;
  const unsigned long long* mask = w.mask + base * words_cap;  // row i: mask + i·words_cap
  const unsigned long long amask = (1ull << abits) - 1;
  float* dets = r.dets + static_cast<int64_t>(b) * p.max_det * 6;
  for (int k = threadIdx.x; k < words; k += blockDim.x) removed[k] = 0;
  const bool warp0 = threadIdx.x < 32;
  const int lane = threadIdx.x & 31;
  // Warp 0 holds the diagonal words of the current step: lane l has rows 64g + l and 64g + 32 + l.
  unsigned long long d0 = 0, d1 = 0;
  auto load_diag = [&](int g) {
    const int i0 = g * 64 + lane, i1 = i0 + 32;
    d0 = i0 < n ? mask[static_cast<int64_t>(i0) * words_cap + g] : 0ull;
    d1 = i1 < n ? mask[static_cast<int64_t>(i1) * words_cap + g] : 0ull;
  };
  if (warp0 && words > 0) load_diag(0);
  __syncthreads();
  int kept = 0;
  for (int g = 0; g < words && kept < p.max_det; ++g) {
    if (warp0) {
      const int left = n - g * 64;
      const unsigned long long valid = left >= 64 ? ~0ull : (1ull << left) - 1ull;
      unsigned long long undecided = ~removed[g] & valid, keep = 0;
      int room = p.max_det - kept;
      while (undecided != 0ull && room > 0) {  // uniform across the warp
        const int l = __ffsll(static_cast<long long>(undecided)) - 1;
        const unsigned long long dl = __shfl_sync(0xFFFFFFFFu, l < 32 ? d0 : d1, l & 31);
        keep |= 1ull << l;
        undecided &= ~(dl | (1ull << l));
        --room;
      }
      for (int l = lane; l < 64; l += 32) {
        if ((keep >> l) & 1ull) {
          const int rank = kept + __popcll(keep & ((1ull << l) - 1ull));
          const int a = static_cast<int>(w.keys_in[base + g * 64 + l] & amask);
          const float4 box = w.boxes[base + a];
          float* d = dets + static_cast<int64_t>(rank) * 6;
          d[0] = box.x, d[1] = box.y, d[2] = box.z, d[3] = box.w;
          d[4] = w.scores[base + a];
          d[5] = static_cast<float>(w.classes[base + a]);
        }
      }
      if (lane == 0) s_keep = keep;
      if (g + 1 < words) load_diag(g + 1);  // used after the barriers below
    }
    __syncthreads();
    const unsigned long long keep = s_keep;
    kept += __popcll(keep);
    if (keep != 0ull && kept < p.max_det) {
      for (int wd = g + 1 + threadIdx.x; wd < words; wd += blockDim.x) {
        unsigned long long acc = 0;
        for (unsigned long long k = keep; k != 0ull; k &= k - 1ull) {
          const int l = __ffsll(static_cast<long long>(k)) - 1;
          acc |= mask[static_cast<int64_t>(g * 64 + l) * words_cap + wd];
        }
        removed[wd] |= acc;
      }
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) r.count[b] = kept;
}

}  // namespace

cudaError_t launch_mask_nms(int batch, int anchors, int abits, const DetectParams& p,
                            const Workspace& w, const DetectOutput& r, int optin_smem,
                            cudaStream_t stream, const DetectMarks* marks) {
  int smem_keys = next_pow2(anchors);
  while (smem_keys > 1 && 8 * static_cast<size_t>(smem_keys) > static_cast<size_t>(optin_smem))
    smem_keys >>= 1;
  const size_t sort_smem = 8 * static_cast<size_t>(smem_keys);
  static size_t configured = 48 * 1024;  // set on the first (uncaptured) call
  if (sort_smem > configured) {
    cudaError_t e = cudaFuncSetAttribute(sort_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         static_cast<int>(sort_smem));
    if (e != cudaSuccess) return e;
    configured = sort_smem;
  }
  const int words = mask_words_of(anchors);
  sort_kernel<<<batch, kNmsThreads, sort_smem, stream>>>(anchors, abits, smem_keys, p, w);
  if (marks && marks->sorted) {
    cudaError_t e = cudaEventRecord(marks->sorted, stream);
    if (e != cudaSuccess) return e;
  }
  mask_kernel<<<dim3(words, words, batch), 64, 0, stream>>>(anchors, words, p.iou, w);
  if (marks && marks->masked) {
    cudaError_t e = cudaEventRecord(marks->masked, stream);
    if (e != cudaSuccess) return e;
  }
  walk_kernel<<<batch, kWalkThreads, sizeof(unsigned long long) * words, stream>>>(anchors, abits,
                                                                                   words, p, w, r);
  return cudaGetLastError();
}

}  // namespace fungen::cuda
