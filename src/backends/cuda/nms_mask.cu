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
// The walk usually stops long before the end: with random weights (~8,000 candidates above conf
// 0.25 at 8400 anchors) the 300th box is kept around candidate 1,550. So the three steps first
// run on the top candidates only (top_sort_kernel: the keys whose score part is below a radix-
// selected threshold, at most kTopK of them, a prefix of the full order), which decides the
// image exactly when the walk reaches max_det there or they are all the candidates (done = 1);
// the full sort, bitmask and walk then run only for images not decided (each kernel returns at
// once for the others). FUNGEN_GPU_NMS_TOPK=0 skips the top pass (for comparison).
#include <cstdlib>
#include <cstring>

#include "backends/cuda/nms_common.cuh"

namespace fungen::cuda {
namespace {

constexpr int kWalkThreads = 256;
constexpr int kTopK = 2048;  // candidates of the top pass (shared memory: 16 KiB of keys)

// Class-offset box of sorted rank j (as sort_candidates).
__device__ __forceinline__ void shift_box(const DetectParams& p, const Workspace& w, int64_t base,
                                          int j, unsigned long long key, unsigned long long amask) {
  const int a = static_cast<int>(key & amask);
  float4 box = w.boxes[base + a];
  if (!p.agnostic) {
    float off = __fmul_rn(static_cast<float>(w.classes[base + a]), kClassOffset);
    box = make_float4(__fadd_rn(box.x, off), __fadd_rn(box.y, off), __fadd_rn(box.z, off),
                      __fadd_rn(box.w, off));
  }
  w.shifted[base + j] = box;
}

// The top pass's sort: the smallest keys (best scores) of image blockIdx.x, at most
// min(kTopK, max_nms) and always a prefix of the full order: all keys whose 32-bit score part is
// below t, t radix-selected 8 bits at a time as the largest value with at most that many keys
// below it. Sorted into keys_big (the image's slice), boxes class-offset into w.shifted.
// done[b] = 2 when they are all that the full path would take (the walk then decides the image).
__global__ void __launch_bounds__(kNmsThreads)
    top_sort_kernel(int anchors, int abits, DetectParams p, Workspace w) {
  __shared__ unsigned long long keys[kTopK];
  __shared__ unsigned int hist[256];
  __shared__ unsigned int s_prefix;
  __shared__ int s_below, s_n;
  const int b = blockIdx.x;
  const int64_t base = static_cast<int64_t>(b) * anchors;
  const int n_all = w.count[b];
  const int cap = p.max_nms > 0 && n_all > p.max_nms ? p.max_nms : n_all;
  const int limit = cap < kTopK ? cap : kTopK;
  const unsigned long long* in = w.keys_in + base;
  int n = n_all;
  if (n_all <= limit) {
    for (int k = threadIdx.x; k < n_all; k += blockDim.x) keys[k] = in[k];
  } else {
    unsigned int prefix = 0;
    int below = 0;  // keys whose score part is below the prefix's range
    for (int shift = 24; shift >= 0; shift -= 8) {
      for (int k = threadIdx.x; k < 256; k += blockDim.x) hist[k] = 0;
      __syncthreads();
      for (int k = threadIdx.x; k < n_all; k += blockDim.x) {
        const unsigned long long part = in[k] >> abits;
        if ((part >> (shift + 8)) == (static_cast<unsigned long long>(prefix) >> (shift + 8)))
          atomicAdd(&hist[(part >> shift) & 255u], 1u);
      }
      __syncthreads();
      if (threadIdx.x < 32) {
        // The first digit whose keys would pass the limit: warp scan over 8 bins per lane.
        const int lane = threadIdx.x;
        unsigned int local[8], sum = 0;
        for (int j = 0; j < 8; ++j) local[j] = hist[lane * 8 + j], sum += local[j];
        unsigned int incl = sum;
        for (int o = 1; o < 32; o <<= 1) {
          const unsigned int v = __shfl_up_sync(0xFFFFFFFFu, incl, o);
          if (lane >= o) incl += v;
        }
        const unsigned int room = static_cast<unsigned int>(limit - below);
        // Exists: below + (keys in the prefix's range) > limit, by construction.
        const int first = __ffs(__ballot_sync(0xFFFFFFFFu, incl > room)) - 1;
        if (lane == first) {
          unsigned int acc = incl - sum;
          int d = 0;
          while (d < 7 && acc + local[d] <= room) acc += local[d++];
          s_prefix = prefix | (static_cast<unsigned int>(lane * 8 + d) << shift);
          s_below = below + static_cast<int>(acc);
        }
      }
      __syncthreads();
      prefix = s_prefix;
      below = s_below;
    }
    if (threadIdx.x == 0) s_n = 0;
    __syncthreads();
    for (int k = threadIdx.x; k < n_all; k += blockDim.x) {
      const unsigned long long key = in[k];
      if ((key >> abits) < prefix) keys[atomicAdd(&s_n, 1)] = key;
    }
    __syncthreads();
    n = s_n;  // == below
  }
  const int sorted_n = next_pow2_device(n);
  for (int k = n + threadIdx.x; k < sorted_n; k += blockDim.x) keys[k] = ~0ull;
  __syncthreads();
  bitonic_sort(keys, sorted_n);
  unsigned long long* out = w.keys_big + static_cast<int64_t>(b) * next_pow2_device(anchors);
  const unsigned long long amask = (1ull << abits) - 1;
  for (int j = threadIdx.x; j < n; j += blockDim.x) {
    out[j] = keys[j];
    shift_box(p, w, base, j, keys[j], amask);
  }
  if (threadIdx.x == 0) {
    w.n_nms[b] = n;
    w.done[b] = n == cap ? 2 : 0;
  }
}

__global__ void __launch_bounds__(kNmsThreads)
    sort_kernel(int anchors, int abits, int smem_keys, DetectParams p, Workspace w) {
  extern __shared__ unsigned long long smem_sort[];
  const int b = blockIdx.x;
  if (w.done[b] == 1) return;  // the top pass decided this image
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
  if (blockIdx.x < blockIdx.y || w.done[b] == 1) return;
  const int n = w.n_nms[b];
  if (row0 >= n || col0 >= n) return;
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
    walk_kernel(int anchors, int abits, int words_cap, DetectParams p, Workspace w, DetectOutput r,
                bool top) {
  extern __shared__ unsigned long long removed[];  // [words_cap]
  __shared__ unsigned long long s_keep;
  const int b = blockIdx.x;
  if (w.done[b] == 1) return;  // the top pass decided this image
  const int64_t base = static_cast<int64_t>(b) * anchors;
  // Sorted keys: the top pass's in keys_big, the full sort's in keys_in.
  const unsigned long long* sorted =
      top ? w.keys_big + static_cast<int64_t>(b) * next_pow2_device(anchors) : w.keys_in + base;
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
          const int a = static_cast<int>(sorted[g * 64 + l] & amask);
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
  if (threadIdx.x == 0) {
    // The top pass decides when it kept max_det or held every candidate (done 2).
    const bool decided = !top || kept >= p.max_det || w.done[b] == 2;
    if (decided) r.count[b] = kept;
    if (top) w.done[b] = decided ? 1 : 0;
  }
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
  const size_t walk_smem = sizeof(unsigned long long) * words;
  static const bool top_pass = [] {
    const char* v = std::getenv("FUNGEN_GPU_NMS_TOPK");
    return !(v && std::strcmp(v, "0") == 0);
  }();
  if (top_pass) {
    const int top_words = words < kTopK / 64 ? words : kTopK / 64;
    top_sort_kernel<<<batch, kNmsThreads, 0, stream>>>(anchors, abits, p, w);
    if (marks && marks->sorted) {
      cudaError_t e = cudaEventRecord(marks->sorted, stream);
      if (e != cudaSuccess) return e;
    }
    mask_kernel<<<dim3(top_words, top_words, batch), 64, 0, stream>>>(anchors, words, p.iou, w);
    if (marks && marks->masked) {
      cudaError_t e = cudaEventRecord(marks->masked, stream);
      if (e != cudaSuccess) return e;
    }
    walk_kernel<<<batch, kWalkThreads, walk_smem, stream>>>(anchors, abits, words, p, w, r, true);
  } else {
    cudaError_t e = cudaMemsetAsync(w.done, 0, sizeof(int) * batch, stream);
    if (e != cudaSuccess) return e;
  }
  // The full pass, for the images the top pass did not decide.
  sort_kernel<<<batch, kNmsThreads, sort_smem, stream>>>(anchors, abits, smem_keys, p, w);
  if (!top_pass && marks && marks->sorted) {
    cudaError_t e = cudaEventRecord(marks->sorted, stream);
    if (e != cudaSuccess) return e;
  }
  mask_kernel<<<dim3(words, words, batch), 64, 0, stream>>>(anchors, words, p.iou, w);
  if (!top_pass && marks && marks->masked) {
    cudaError_t e = cudaEventRecord(marks->masked, stream);
    if (e != cudaSuccess) return e;
  }
  walk_kernel<<<batch, kWalkThreads, walk_smem, stream>>>(anchors, abits, words, p, w, r, false);
  return cudaGetLastError();
}

}  // namespace fungen::cuda
