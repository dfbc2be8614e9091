// YOLO's Detect head tail in one kernel (detect_head.cuh), two variants (HeadKernel):
//  - kSplit (default): a launch of two kinds of blocks, every load and store a vector along the
//    anchors. Box blocks (the first box_blocks of grid.x) take 32 * VB anchors of one image: warp j
//    loads side j's bins (VB anchors per 4-byte load) and box row j's anchor terms, computes the
//    DFL softmax-expectation (max, then exp-sums, as softmax.cu's expectation kernel) into shared
//    memory, then decodes box row j from the 4 sides there. Class blocks stream the image's nc
//    class rows, which are one contiguous run of nc * A elements in cls_x and in y (rows 4.. of the
//    image): kClassUnroll vectors of kClassVec elements per thread, sigmoid each. No division or
//    modulo on the device: the block kind comes from blockIdx.x, the image from blockIdx.y.
//  - kAnchor (FUNGEN_CUDA_HEAD_KERNEL=old, and bins > 16): threads along anchors, blockIdx.y picks
//    the part of an anchor's work: 0 the 4 sides' DFL and the decode, 1.. a chunk of kClassChunk
//    class scores.
// Both compute every output with the same expressions in the same order.
#include <cfloat>

#include "backends/cuda/common.cuh"
#include "backends/cuda/detect_head.cuh"

namespace fungen::cuda {
namespace {

constexpr int kHeadThreads = 128;  // both kernels; 4 warps (kSplit: one per side / box row)
constexpr int kClassChunk = 16;    // kAnchor: class scores per part
constexpr int kSplitBins = 16;     // kSplit: bins held in registers (larger: kAnchor)
constexpr int kClassVec = 4;       // kSplit: class elements per load / store
constexpr int kClassUnroll = 4;    // kSplit: class vectors per thread (loads in flight)

// V consecutive elements moved by one load or store instruction (8 or 16 bytes for V = 4).
template <class T, int V>
struct alignas(sizeof(T) * V) Vec {
  T v[V];
};

template <class T, int V>
__device__ __forceinline__ Vec<T, V> load_vec(const T* p) {
  return *reinterpret_cast<const Vec<T, V>*>(p);
}
__device__ __forceinline__ float to_float(float v) {
  return v;
}
__device__ __forceinline__ float to_float(__half v) {
  return __half2float(v);
}
__device__ __forceinline__ void from_float(float& o, float v) {
  o = v;
}
__device__ __forceinline__ void from_float(__half& o, float v) {
  o = __float2half_rn(v);
}

// Row k's coefficients of the 4x4 decode matrix with constant indices (a kernel parameter
// indexed by a register may be copied to local memory).
__device__ __forceinline__ float m0_at(const HeadKernelDesc& d, int k, int j) {
  return k == 0 ? d.m0[j] : k == 1 ? d.m0[4 + j] : k == 2 ? d.m0[8 + j] : d.m0[12 + j];
}

// kSplit box block: 32 * VB anchors from a (a multiple of VB; A too when VB > 1) of image b.
template <class TIn, class TOut, int VB>
__device__ __forceinline__ void split_box(const TIn* __restrict__ box_x,
                                          const float* __restrict__ table, TOut* __restrict__ y,
                                          const HeadKernelDesc& d, int64_t b, int a,
                                          float (*dist)[32 * VB]) {
  const int A = d.anchors, side = static_cast<int>(threadIdx.x) >> 5;
  const int lane = static_cast<int>(threadIdx.x) & 31;
  a += lane * VB;
  const bool active = a < A;
  Vec<float, VB> s, c;  // row side's anchor terms, loaded with the bins (one wait at batch 1)
  if (active) {
    const TIn* xj = box_x + b * 4 * d.bins * A + side * d.bins * A + a;
    Vec<TIn, VB> raw[kSplitBins];
#pragma unroll
    for (int i = 0; i < kSplitBins; ++i) {
      if (i < d.bins) raw[i] = load_vec<TIn, VB>(xj + i * A);
    }
    s = load_vec<float, VB>(table + a);
    c = load_vec<float, VB>(table + (1 + side) * A + a);
    Vec<float, VB> out;
#pragma unroll
    for (int q = 0; q < VB; ++q) {
      float m = -FLT_MAX;
#pragma unroll
      for (int i = 0; i < kSplitBins; ++i) {
        if (i < d.bins) m = fmaxf(m, to_float(raw[i].v[q]));
      }
      float sum = 0.0f, acc = 0.0f;
#pragma unroll
      for (int i = 0; i < kSplitBins; ++i) {
        if (i < d.bins) {
          const float e = __expf(to_float(raw[i].v[q]) - m);
          sum += e;
          acc += e * d.w[i];
        }
      }
      out.v[q] = acc / sum + d.bias;
    }
    *reinterpret_cast<Vec<float, VB>*>(&dist[side][lane * VB]) = out;
  }
  __syncthreads();
  if (active) {
    const int k = side;  // warp k writes box row k
    const float m[4] = {m0_at(d, k, 0), m0_at(d, k, 1), m0_at(d, k, 2), m0_at(d, k, 3)};
    Vec<float, VB> dj[4];
#pragma unroll
    for (int j = 0; j < 4; ++j)
      dj[j] = *reinterpret_cast<const Vec<float, VB>*>(&dist[j][lane * VB]);
    Vec<TOut, VB> o;
#pragma unroll
    for (int q = 0; q < VB; ++q) {
      const float v = m[0] * dj[0].v[q] + m[1] * dj[1].v[q] + m[2] * dj[2].v[q] + m[3] * dj[3].v[q];
      from_float(o.v[q], s.v[q] * v + c.v[q]);
    }
    *reinterpret_cast<Vec<TOut, VB>*>(y + (b * (4 + d.classes) + k) * A + a) = o;
  }
}

// kSplit class block: vectors [v0, v0 + kHeadThreads * kClassUnroll) of image b's nc * A / V.
template <class TIn, class TOut, int V>
__device__ __forceinline__ void split_classes(const TIn* __restrict__ cls_x, TOut* __restrict__ y,
                                              const HeadKernelDesc& d, int64_t b, int v0) {
  const int A = d.anchors, n = d.classes * A / V;
  const TIn* xb = cls_x + b * d.classes * A;
  TOut* yb = y + (b * (4 + d.classes) + 4) * A;
  const int i0 = v0 + static_cast<int>(threadIdx.x);
  Vec<TIn, V> raw[kClassUnroll];
#pragma unroll
  for (int u = 0; u < kClassUnroll; ++u) {
    const int i = i0 + u * kHeadThreads;
    if (i < n) raw[u] = load_vec<TIn, V>(xb + i * V);
  }
#pragma unroll
  for (int u = 0; u < kClassUnroll; ++u) {
    const int i = i0 + u * kHeadThreads;
    if (i < n) {
      Vec<TOut, V> o;
#pragma unroll
      for (int q = 0; q < V; ++q)
        from_float(o.v[q], 1.0f / (1.0f + __expf(-to_float(raw[u].v[q]))));
      *reinterpret_cast<Vec<TOut, V>*>(yb + i * V) = o;
    }
  }
}

// VB: anchors per box thread (4 bytes of TIn, or 1); V: class elements per vector (kClassVec or
// 1). One image per blockIdx.y (batch <= 65535). At most 64 registers, 8 blocks of 128 threads
// per SM (ptxas, sm_90: 60-64 registers, no spills; with 8-byte box loads fp16 needed 75, and
// a loop over images in the kernel 108: the compiler kept the parameters in registers).
template <class TIn, class TOut, int VB, int V>
__global__ void __launch_bounds__(kHeadThreads, 8)
    detect_head_split_kernel(const TIn* __restrict__ box_x, const TIn* __restrict__ cls_x,
                             const float* __restrict__ table, TOut* __restrict__ y,
                             HeadKernelDesc d, int box_blocks) {
  __shared__ __align__(16) float dist[4][32 * VB];
  const int blk = static_cast<int>(blockIdx.x);
  const int64_t b = blockIdx.y;
  if (blk < box_blocks)
    split_box<TIn, TOut, VB>(box_x, table, y, d, b, blk * 32 * VB, dist);
  else
    split_classes<TIn, TOut, V>(cls_x, y, d, b, (blk - box_blocks) * kHeadThreads * kClassUnroll);
}

// kAnchor. KB: bins held in registers (>= d.bins): every load of a side (and of a class chunk) is
// issued before the arithmetic that needs it, so at batch 1, where few threads run, a thread waits
// for memory once per side (4) or class chunk (1) rather than once per element. At most 80
// registers (6 blocks of 128 per SM; ptxas, sm_90: no spills in fp32, 12 bytes in fp16 at KB 16):
// the kernel streams memory, resident warps matter more than a few spilled values.
template <class TIn, class TOut, int KB>
__global__ void __launch_bounds__(kHeadThreads, 6)
    detect_head_anchor_kernel(const TIn* __restrict__ box_x, const TIn* __restrict__ cls_x,
                              const float* __restrict__ table, TOut* __restrict__ y,
                              HeadKernelDesc d) {
  const int a = static_cast<int>(blockIdx.x) * kHeadThreads + static_cast<int>(threadIdx.x);
  if (a >= d.anchors) return;
  const int64_t A = d.anchors;
  const int part = static_cast<int>(blockIdx.y);
  for (int64_t b = blockIdx.z; b < d.batch; b += gridDim.z) {
    TOut* yb = y + b * (4 + d.classes) * A + a;
    if (part == 0) {
      const TIn* xb = box_x + b * 4 * d.bins * A + a;
      float dist[4];
#pragma unroll 1
      for (int j = 0; j < 4; ++j) {  // one side at a time: few registers, more warps resident
        const TIn* xj = xb + static_cast<int64_t>(j) * d.bins * A;
        float v[KB];
        float m = -FLT_MAX;
#pragma unroll
        for (int i = 0; i < KB; ++i) {
          if (i < d.bins) {
            v[i] = load(xj, static_cast<int64_t>(i) * A);
            m = fmaxf(m, v[i]);
          }
        }
        float sum = 0.0f, acc = 0.0f;
#pragma unroll
        for (int i = 0; i < KB; ++i) {
          if (i < d.bins) {
            const float e = __expf(v[i] - m);
            sum += e;
            acc += e * d.w[i];
          }
        }
        dist[j] = acc / sum + d.bias;
      }
      const float s = table[a];
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        const float v = d.m0[4 * k] * dist[0] + d.m0[4 * k + 1] * dist[1] +
                        d.m0[4 * k + 2] * dist[2] + d.m0[4 * k + 3] * dist[3];
        store(yb, k * A, s * v + table[(1 + k) * A + a]);
      }
    } else {
      const int c0 = (part - 1) * kClassChunk;
      const TIn* cb = cls_x + b * d.classes * A + a;
      float v[kClassChunk];
#pragma unroll
      for (int q = 0; q < kClassChunk; ++q) {
        if (c0 + q < d.classes) v[q] = load(cb, static_cast<int64_t>(c0 + q) * A);
      }
#pragma unroll
      for (int q = 0; q < kClassChunk; ++q) {
        if (c0 + q < d.classes)
          store(yb, static_cast<int64_t>(4 + c0 + q) * A, 1.0f / (1.0f + __expf(-v[q])));
      }
    }
  }
}

template <class TIn, class TOut>
void launch_anchor(const void* box_x, const void* cls_x, const float* table, void* y,
                   const HeadKernelDesc& d, cudaStream_t s) {
  const unsigned parts = 1 + static_cast<unsigned>((d.classes + kClassChunk - 1) / kClassChunk);
  const dim3 grid(static_cast<unsigned>((d.anchors + kHeadThreads - 1) / kHeadThreads), parts,
                  static_cast<unsigned>(d.batch < 65535 ? d.batch : 65535));
  auto* bx = static_cast<const TIn*>(box_x);
  auto* cx = static_cast<const TIn*>(cls_x);
  auto* out = static_cast<TOut*>(y);
  if (d.bins <= 16)
    detect_head_anchor_kernel<TIn, TOut, 16><<<grid, kHeadThreads, 0, s>>>(bx, cx, table, out, d);
  else
    detect_head_anchor_kernel<TIn, TOut, kHeadMaxBins>
        <<<grid, kHeadThreads, 0, s>>>(bx, cx, table, out, d);
}

bool aligned(const void* p, size_t bytes) {
  return reinterpret_cast<uintptr_t>(p) % bytes == 0;
}

template <class TIn, class TOut, int VB, int V>
void launch_split_with(const void* box_x, const void* cls_x, const float* table, void* y,
                       const HeadKernelDesc& d, cudaStream_t s) {
  const int box_blocks = (d.anchors + 32 * VB - 1) / (32 * VB);
  const int n = d.classes * d.anchors / V;
  const int class_blocks = (n + kHeadThreads * kClassUnroll - 1) / (kHeadThreads * kClassUnroll);
  const dim3 grid(static_cast<unsigned>(box_blocks + class_blocks),
                  static_cast<unsigned>(d.batch < 65535 ? d.batch : 65535));
  detect_head_split_kernel<TIn, TOut, VB, V>
      <<<grid, kHeadThreads, 0, s>>>(static_cast<const TIn*>(box_x), static_cast<const TIn*>(cls_x),
                                     table, static_cast<TOut*>(y), d, box_blocks);
}

// Vectors where the sizes and pointers allow: box rows need A % VB == 0, the class run
// nc * A % kClassVec == 0 (then every image's run in y starts aligned too: its offset
// (b * (4 + nc) + 4) * A = b * nc * A + 4 * A * (b + 1)).
template <class TIn, class TOut>
void launch_split(const void* box_x, const void* cls_x, const float* table, void* y,
                  const HeadKernelDesc& d, cudaStream_t s) {
  constexpr int kBoxVec = 4 / static_cast<int>(sizeof(TIn));
  const bool box_vec = d.anchors % kBoxVec == 0 && aligned(box_x, kBoxVec * sizeof(TIn)) &&
                       aligned(table, kBoxVec * sizeof(float)) &&
                       aligned(y, kBoxVec * sizeof(TOut));
  const bool cls_vec = static_cast<int64_t>(d.classes) * d.anchors % kClassVec == 0 &&
                       aligned(cls_x, kClassVec * sizeof(TIn)) &&
                       aligned(y, kClassVec * sizeof(TOut));
  if (box_vec && cls_vec)
    launch_split_with<TIn, TOut, kBoxVec, kClassVec>(box_x, cls_x, table, y, d, s);
  else if (box_vec)
    launch_split_with<TIn, TOut, kBoxVec, 1>(box_x, cls_x, table, y, d, s);
  else if (cls_vec)
    launch_split_with<TIn, TOut, 1, kClassVec>(box_x, cls_x, table, y, d, s);
  else
    launch_split_with<TIn, TOut, 1, 1>(box_x, cls_x, table, y, d, s);
}

template <class TIn, class TOut>
void launch(const void* box_x, const void* cls_x, const float* table, void* y,
            const HeadKernelDesc& d, cudaStream_t s) {
  if (d.kernel == HeadKernel::kSplit && d.bins <= kSplitBins && d.batch <= 65535)
    launch_split<TIn, TOut>(box_x, cls_x, table, y, d, s);
  else
    launch_anchor<TIn, TOut>(box_x, cls_x, table, y, d, s);
}

}  // namespace

cudaError_t launch_detect_head(Elem e, bool out_f32, const void* box_x, const void* cls_x,
                               const float* table, void* y, const HeadKernelDesc& d,
                               cudaStream_t stream) {
  if (d.batch <= 0 || d.anchors <= 0 || d.classes <= 0 || d.bins <= 0 || d.bins > kHeadMaxBins ||
      static_cast<int64_t>(4 + d.classes) * d.anchors > INT32_MAX ||
      static_cast<int64_t>(4 * d.bins) * d.anchors > INT32_MAX) {
    return cudaErrorInvalidValue;
  }
  if (e == Elem::kF16) {
    if (out_f32)
      launch<__half, float>(box_x, cls_x, table, y, d, stream);
    else
      launch<__half, __half>(box_x, cls_x, table, y, d, stream);
  } else {
    launch<float, float>(box_x, cls_x, table, y, d, stream);
  }
  return cudaGetLastError();
}

}  // namespace fungen::cuda
