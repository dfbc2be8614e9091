// The index math of the kernels that read an upsampled Concat's pieces (igemm_pieces.h), on the
// host (no GPU needed): FastDiv against plain division, and both A loaders' addressing (the
// igemm kernel: pixel m -> row m / W over the batch, column m % W; the persistent 1x1 kernel:
// the same through FastDiv; then piece_for + piece_offset per 16-byte chunk of 8 channels)
// against the definition of the Concat: conv input (image, y, x, channel k) of piece p is source
// element (image, y >> s, x >> s, k - c0) of its NHWC buffer with rows of ld elements.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "backends/cuda/igemm_pieces.h"

namespace fungen::test {
namespace {

using cuda::FastDiv;
using cuda::IgemmPieces;

TEST(CudaUpfuseIndex, FastDivMatchesDivision) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> any(0, UINT32_MAX);
  std::vector<uint32_t> ns;
  for (uint32_t n = 0; n < 5000; ++n) ns.push_back(n);
  for (int i = 0; i < 3000; ++i) ns.push_back(any(rng));
  for (uint32_t n : {0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFEu, 0xFFFFFFFFu}) ns.push_back(n);
  std::vector<uint32_t> ds;
  for (uint32_t d = 1; d <= 1030; ++d) ds.push_back(d);
  for (uint32_t d : {2047u, 2048u, 2049u, 65535u, 65536u, 65537u, 0x7FFFFFFFu, 0x80000000u,
                     0x80000001u, 0xFFFFFFFFu})
    ds.push_back(d);
  int64_t bad = 0;
  for (uint32_t d : ds) {
    const FastDiv f(d);
    for (uint32_t n : ns) {
      // near multiples of d too: the quotient's edges
      for (uint32_t v : {n, n / d * d, n / d * d - 1u}) {
        if (f.div(v) != v / d) {
          if (++bad < 5) ADD_FAILURE() << v << " / " << d << ": " << f.div(v);
        }
      }
    }
  }
  EXPECT_EQ(bad, 0);
}

struct Layout {
  int n, h, w;
  std::vector<int> channels, shift, ld_extra, offset;  // per piece
};

// Every (pixel, 8-channel chunk) of the conv input through both loaders' arithmetic, against
// the Concat's definition; the offsets must also stay inside the piece's buffer and its slice.
void check_layout(const Layout& l) {
  IgemmPieces ps;
  ps.count = static_cast<int>(l.channels.size());
  int cin = 0;
  std::vector<int64_t> size(ps.count);
  for (int i = 0; i < ps.count; ++i) {
    ps.p[i].c0 = cin;
    ps.p[i].shift = l.shift[i];
    ps.p[i].ld = l.offset[i] + l.channels[i] + l.ld_extra[i];
    cin += l.channels[i];
    size[i] = static_cast<int64_t>(l.n) * (l.h >> l.shift[i]) * (l.w >> l.shift[i]) * ps.p[i].ld;
  }
  const FastDiv by_w(static_cast<uint32_t>(l.w));
  const int m_total = l.n * l.h * l.w;
  int64_t bad = 0;
  for (int m = 0; m < m_total; ++m) {
    const int img = m / (l.h * l.w), y = m % (l.h * l.w) / l.w, x = m % l.w;
    const int row = m / l.w;                                                // conv_igemm.cu
    const int prow = static_cast<int>(by_w.div(static_cast<uint32_t>(m)));  // conv_igemm_1x1.cu
    for (int k = 0; k < cin; k += 8) {
      int want_p = 0;
      while (want_p + 1 < ps.count && ps.p[want_p + 1].c0 <= k) ++want_p;
      const int s = l.shift[want_p];
      const int64_t want =
          ((static_cast<int64_t>(img) * (l.h >> s) + (y >> s)) * (l.w >> s) + (x >> s)) *
              ps.p[want_p].ld +
          (k - ps.p[want_p].c0);
      const cuda::IgemmPiece pc = cuda::piece_for(ps, k);
      const int64_t got = cuda::piece_offset(pc, row, m - row * l.w, l.w, k);
      const int64_t got_p = cuda::piece_offset(pc, prow, m - prow * l.w, l.w, k);
      const bool ok = pc.c0 == ps.p[want_p].c0 && got == want && got_p == want &&
                      l.offset[want_p] + got + 8 <= size[want_p] &&
                      k - pc.c0 + 8 <= l.channels[want_p];
      if (!ok && ++bad < 5)
        ADD_FAILURE() << "m " << m << " k " << k << ": offset " << got << " / " << got_p
                      << ", want " << want << " in piece " << want_p;
    }
  }
  EXPECT_EQ(bad, 0);
}

// Per case: images, H, W, then per piece its channels, shift, extra row length and the offset
// of its slice in the row (the base points at the slice).
TEST(CudaUpfuseIndex, LoadersAddressTheConcatPieces) {
  check_layout({1, 4, 4, {8, 8}, {1, 0}, {0, 0}, {0, 0}});
  check_layout({2, 14, 18, {16, 24}, {1, 0}, {0, 8}, {0, 8}});   // 7x9 source, two images
  check_layout({3, 14, 18, {24, 16}, {0, 1}, {16, 0}, {8, 0}});  // reversed order
  check_layout({3, 10, 12, {8, 32, 16}, {0, 1, 1}, {0, 0, 8}, {0, 8, 0}});  // three pieces
  check_layout({2, 16, 16, {128, 128}, {1, 0}, {0, 0}, {0, 0}});  // YOLO's /model.15 shape
  check_layout({1, 6, 2, {8, 8, 8, 8}, {1, 0, 1, 0}, {0, 0, 0, 0}, {0, 0, 0, 0}});  // four
}

TEST(CudaUpfuseIndex, PieceForPicksByChannel) {
  IgemmPieces ps;
  ps.count = 3;
  ps.p[0].c0 = 0;
  ps.p[1].c0 = 16;
  ps.p[2].c0 = 40;
  ps.p[3].c0 = 8;  // unused slot: must not be picked
  for (int k = 0; k < 64; k += 8)
    EXPECT_EQ(cuda::piece_for(ps, k).c0, k < 16 ? 0 : k < 40 ? 16 : 40) << k;
}

}  // namespace
}  // namespace fungen::test
