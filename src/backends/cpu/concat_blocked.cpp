// Channel Concat of one image in nChw16c where a part starts inside a 16-channel block (YOLO12n's
// narrow C3k2/A2C2f blocks: 8-, 24-channel parts), where oneDNN 2.6 offers only its generic
// "simple:any" concat. Each 16-lane group of a part's channel block lands in at most two
// destination blocks, so the copy per pixel is two short contiguous runs; pixels are split over
// the OpenMP threads oneDNN uses. The destination's padding lanes (channels past C) are zeroed,
// as oneDNN's blocked layouts expect.
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "backends/cpu/cpu_run.h"

namespace fungen::cpu {
namespace {

// G: a divisor of every part's size and offset (8 for YOLO12n), so runs move in fixed-size
// pieces the compiler inlines.
template <typename T, int G>
void copy_part(const T* src, T* dst, int64_t channels, int64_t offset, int64_t hw, int64_t p0,
               int64_t p1) {
  for (int64_t sb = 0; sb * 16 < channels; ++sb) {
    const int64_t count = std::min<int64_t>(16, channels - sb * 16);
    const int64_t d = offset + sb * 16, db = d / 16, dl = d % 16;
    const int64_t first = std::min<int64_t>(count, 16 - dl), second = count - first;
    const T* s = src + sb * hw * 16;
    T* d0 = dst + db * hw * 16 + dl;
    T* d1 = dst + (db + 1) * hw * 16;
    for (int64_t p = p0; p < p1; ++p) {
      for (int64_t k = 0; k < first; k += G)
        std::memcpy(d0 + p * 16 + k, s + p * 16 + k, G * sizeof(T));
      for (int64_t k = 0; k < second; k += G)
        std::memcpy(d1 + p * 16 + k, s + p * 16 + first + k, G * sizeof(T));
    }
  }
}

template <typename T, int G>
void concat(const std::byte* const* srcs, const std::vector<int64_t>& channels,
            std::byte* dst_bytes, int64_t total, int64_t hw) {
  T* dst = reinterpret_cast<T*>(dst_bytes);
#pragma omp parallel
  {
    const int64_t n = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t p0 = hw * t / n, p1 = hw * (t + 1) / n;
    int64_t offset = 0;
    for (size_t i = 0; i < channels.size(); ++i) {
      copy_part<T, G>(reinterpret_cast<const T*>(srcs[i]), dst, channels[i], offset, hw, p0, p1);
      offset += channels[i];
    }
    if (total % 16 != 0) {  // padding lanes of the last block
      T* last = dst + (total / 16) * hw * 16;
      const int64_t lane = total % 16;
      for (int64_t p = p0; p < p1; ++p)
        std::memset(last + p * 16 + lane, 0, static_cast<size_t>(16 - lane) * sizeof(T));
    }
  }
}

template <typename T>
void concat_any(int granule, const std::byte* const* srcs, const std::vector<int64_t>& channels,
                std::byte* dst, int64_t total, int64_t hw) {
  switch (granule) {
    case 8:
      return concat<T, 8>(srcs, channels, dst, total, hw);
    case 4:
      return concat<T, 4>(srcs, channels, dst, total, hw);
    case 2:
      return concat<T, 2>(srcs, channels, dst, total, hw);
    default:
      return concat<T, 1>(srcs, channels, dst, total, hw);
  }
}

}  // namespace

Status lower_concat_unaligned(CpuRun& run, const Node& node, memory::data_type t) {
  const int y = node.outputs[0];
  const Shape& ys = run.shape(y);
  if (!run.blocks_are_contiguous(y) || run.layout() != memory::format_tag::nChw16c ||
      (t != memory::data_type::f32 && t != memory::data_type::bf16))
    return unsupported("own concat: one image in nChw16c, f32 or bf16");
  std::vector<int> bufs;
  std::vector<int64_t> channels;
  for (int id : node.inputs) {
    bufs.push_back(run.get(id, run.blocked_desc(run.shape(id), t)));
    channels.push_back(run.shape(id)[1]);
  }
  bufs.push_back(run.define(y, run.blocked_desc(ys, t)));
  const int64_t total = ys[1], hw = ys[2] * ys[3];
  int granule = 8;  // largest of 8, 4, 2, 1 dividing every part's size (hence every offset)
  for (int64_t c : channels) {
    while (c % granule != 0) granule /= 2;
  }
  const bool half = t == memory::data_type::bf16;
  run.add_own(node.name + " (concat, own)", std::move(bufs),
              [channels, total, hw, half, granule](const std::vector<std::byte*>& p) {
                if (half) {
                  concat_any<uint16_t>(granule, p.data(), channels, p.back(), total, hw);
                } else {
                  concat_any<uint32_t>(granule, p.data(), channels, p.back(), total, hw);
                }
              });
  return Status();
}

}  // namespace fungen::cpu
