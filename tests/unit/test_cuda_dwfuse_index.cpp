// The index math of the igemm kernel's fused depthwise A loader (igemm_dw.h, conv_igemm.cu
// kDw), on the host (no GPU needed): every thread of every CTA of the igemm tiles walks its
// chunks of K as the kernel does (chunk tid % 4 of rows tid / 4 + i * rows_step, K advancing
// 32 per tile, past C_in zero), computes each chunk from the depthwise input through dw_row /
// dw_tap / dw_weight with fmaf from the bias in the taps' order, and the A tiles it fills must
// equal, bit for bit, the depthwise convolution computed directly (3x3, stride 1, pads 1, the
// padding taps skipped, as conv_depthwise.cu and conv_direct.cu do), zero past M and past C_in;
// every (pixel, channel) of A is filled exactly once per K tile.
#include <gtest/gtest.h>

#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backends/cuda/igemm_dw.h"

namespace fungen::test {
namespace {

using cuda::DwRow;

struct Geometry {
  int n, h, w, c;
};

// The depthwise conv's pre-activation output at (pixel m, channel k), computed directly.
float direct(const std::vector<float>& x, const std::vector<float>& wt, const std::vector<float>& b,
             const Geometry& g, int m, int k) {
  const int img = m / (g.h * g.w), y = m / g.w % g.h, xx = m % g.w;
  float acc = b[static_cast<size_t>(k)];
  for (int ky = 0; ky < 3; ++ky) {
    for (int kx = 0; kx < 3; ++kx) {
      const int iy = y + ky - 1, ix = xx + kx - 1;
      if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
      const size_t at = ((static_cast<size_t>(img) * g.h + iy) * g.w + ix) * g.c + k;
      acc = std::fma(x[at], wt[static_cast<size_t>((ky * 3 + kx) * g.c + k)], acc);
    }
  }
  return acc;
}

// tile_m rows, `threads` threads (4 chunks of 8 channels per A row: rows_step = threads / 4).
void check(const Geometry& g, int tile_m, int threads, std::mt19937& rng) {
  const std::string label = std::to_string(g.n) + "x" + std::to_string(g.c) + "@" +
                            std::to_string(g.h) + "x" + std::to_string(g.w) + " tile " +
                            std::to_string(tile_m) + " threads " + std::to_string(threads);
  std::uniform_int_distribution<int> q(-256, 256);  // values exact in fp16
  const int m_total = g.n * g.h * g.w;
  std::vector<float> x(static_cast<size_t>(m_total) * g.c), wt(9 * static_cast<size_t>(g.c)),
      b(static_cast<size_t>(g.c));
  for (float& v : x) v = static_cast<float>(q(rng)) / 64.0f;
  for (float& v : wt) v = static_cast<float>(q(rng)) / 256.0f;
  for (float& v : b) v = static_cast<float>(q(rng)) / 128.0f;
  const int k_tiles = (g.c + 31) / 32, rows_step = threads / 4, a_rows = tile_m * 4 / threads;
  int64_t bad = 0;
  for (int m0 = 0; m0 < m_total; m0 += tile_m) {
    // A tiles of this CTA: [k_tile][row][32], NaN until written; written counts.
    std::vector<float> a(static_cast<size_t>(k_tiles) * tile_m * 32, std::nanf(""));
    std::vector<int> written(a.size(), 0);
    for (int tid = 0; tid < threads; ++tid) {
      const int achunk = tid & 3, arow0 = tid >> 2;
      std::vector<DwRow> rows(static_cast<size_t>(a_rows));
      for (int i = 0; i < a_rows; ++i)
        rows[static_cast<size_t>(i)] =
            cuda::dw_row(m0 + arow0 + i * rows_step, m_total, g.h, g.w, g.c);
      int kc = achunk * 8, kr = 0;
      auto normalize = [&] {  // a 1x1 conv: K = C_in, then kr 1 (past K)
        while (kc >= g.c) {
          kc -= g.c;
          ++kr;
        }
      };
      normalize();
      for (int kt = 0; kt < k_tiles; ++kt) {
        const bool kvalid = kr < 1;
        for (int i = 0; i < a_rows; ++i) {
          const DwRow& r = rows[static_cast<size_t>(i)];
          float acc[8];
          for (int j = 0; j < 8; ++j) acc[j] = kvalid ? b[static_cast<size_t>(kc + j)] : 0.0f;
          for (int ky = 0; kvalid && ky < cuda::kDwK; ++ky) {
            for (int kx = 0; kx < cuda::kDwK; ++kx) {
              const int64_t at = cuda::dw_tap(r, ky, kx, g.h, g.w, g.c, kc);
              if (at < 0) continue;
              const int wk = cuda::dw_weight(ky, kx, g.c, kc);
              for (int j = 0; j < 8; ++j)
                acc[j] = std::fma(x[static_cast<size_t>(at + j)], wt[static_cast<size_t>(wk + j)],
                                  acc[j]);
            }
          }
          const bool row_ok = kvalid && r.y0 != INT_MIN / 2;
          const int row = arow0 + i * rows_step;
          for (int j = 0; j < 8; ++j) {
            const size_t s = (static_cast<size_t>(kt) * tile_m + row) * 32 + achunk * 8 + j;
            a[s] = row_ok ? acc[j] : 0.0f;
            ++written[s];
          }
        }
        kc += 32;
        normalize();
      }
    }
    for (int kt = 0; kt < k_tiles; ++kt) {
      for (int row = 0; row < tile_m; ++row) {
        for (int col = 0; col < 32; ++col) {
          const size_t s = (static_cast<size_t>(kt) * tile_m + row) * 32 + col;
          const int m = m0 + row, k = kt * 32 + col;
          const float want = m < m_total && k < g.c ? direct(x, wt, b, g, m, k) : 0.0f;
          if (written[s] != 1 || std::memcmp(&a[s], &want, sizeof(float)) != 0) {
            if (++bad < 5)
              ADD_FAILURE() << label << ": pixel " << m << " channel " << k << ": " << a[s]
                            << " (written " << written[s] << "x) vs " << want;
          }
        }
      }
    }
  }
  EXPECT_EQ(bad, 0) << label;
}

TEST(CudaDwfuseIndex, LoaderMatchesDirectDepthwise) {
  std::mt19937 rng(11);
  const Geometry shapes[] = {{1, 7, 9, 16}, {3, 7, 9, 24}, {2, 20, 20, 64}, {1, 13, 21, 80},
                             {2, 5, 3, 40}, {1, 1, 1, 8},  {2, 80, 80, 80}};
  // The kernel's (tile_m, threads): 128x80, 128x64, 64x64 (4 warps: 4 and 2 rows a thread),
  // 128x128 (8 warps: 2 rows), 64x128 (8 warps: 1 row).
  const int tiles[][2] = {{128, 128}, {64, 128}, {128, 256}, {64, 256}};
  for (const Geometry& g : shapes) {
    for (const auto& t : tiles) {
      if (g.n * g.h * g.w > 4000 && t[0] != 128) continue;  // the large map: tile_m 128 only
      check(g, t[0], t[1], rng);
    }
  }
}

// A tap's offset and padding at the map's edges and image boundaries, spelled out.
TEST(CudaDwfuseIndex, TapsAtTheEdges) {
  const int h = 4, w = 5, c = 16;
  const DwRow first = cuda::dw_row(0, 2 * h * w, h, w, c);  // image 0, (0, 0)
  EXPECT_EQ(cuda::dw_tap(first, 0, 0, h, w, c, 8), -1);
  EXPECT_EQ(cuda::dw_tap(first, 1, 0, h, w, c, 8), -1);
  EXPECT_EQ(cuda::dw_tap(first, 1, 1, h, w, c, 8), 8);
  EXPECT_EQ(cuda::dw_tap(first, 2, 2, h, w, c, 0), (w + 1) * c);
  const DwRow last = cuda::dw_row(2 * h * w - 1, 2 * h * w, h, w, c);  // image 1, (3, 4)
  EXPECT_EQ(cuda::dw_tap(last, 1, 1, h, w, c, 0), (2 * h * w - 1) * c);
  EXPECT_EQ(cuda::dw_tap(last, 2, 1, h, w, c, 0), -1);  // below the image: not image 2's row
  EXPECT_EQ(cuda::dw_tap(last, 1, 2, h, w, c, 0), -1);
  const DwRow past = cuda::dw_row(2 * h * w, 2 * h * w, h, w, c);
  for (int ky = 0; ky < 3; ++ky)
    for (int kx = 0; kx < 3; ++kx) EXPECT_EQ(cuda::dw_tap(past, ky, kx, h, w, c, 0), -1);
  EXPECT_EQ(cuda::dw_weight(2, 1, c, 8), 7 * c + 8);
}

}  // namespace
}  // namespace fungen::test
