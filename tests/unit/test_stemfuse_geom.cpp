// The index math of the fused stem kernel (conv_stemfuse_geom.h) replayed on the CPU, no GPU:
// for every tile of a few odd maps, the input copy is filled as copy_input does (whole 16-byte
// vectors of fp16 or fp32 from column in_col0, zero outside the image), the stem is computed on
// the halo from the copy with in_row / in_col (zero where the halo leaves the stem's map), and
// each output pixel's 9 taps are read back from the halo through halo_col / tap_col_offset as
// tile3's ldmatrix addresses do (row py * 2 * HW + px + r * HW + tap_col_offset(s)). Everything
// must equal the stem computed directly from the image with its zero padding, bit for bit (same
// fmaf order), and every read must stay inside the copy and the halo.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "backends/cuda/conv_stemfuse_geom.h"
#include "op_test_util.h"

namespace fungen::test {
namespace {

namespace sf = cuda::stemfuse;

struct Map {
  int h, w;  // input (w a multiple of 8, as the band kernel asks)
};

// Stem output channel c at (ay, ax) from image x [3][h][w] with zero padding, taps (plane, ky,
// kx) in the band kernel's order from the bias.
float stem_direct(const std::vector<float>& x, const Map& m, const std::vector<float>& wt,
                  float bias, int ay, int ax) {
  float acc = bias;
  for (int ci = 0; ci < 3; ++ci)
    for (int ky = 0; ky < 3; ++ky)
      for (int kx = 0; kx < 3; ++kx) {
        const int iy = 2 * ay - 1 + ky, ix = 2 * ax - 1 + kx;
        const bool in = iy >= 0 && iy < m.h && ix >= 0 && ix < m.w;
        const float v = in ? x[(static_cast<size_t>(ci) * m.h + iy) * m.w + ix] : 0.0f;
        acc = std::fma(v, wt[ci * 9 + ky * 3 + kx], acc);
      }
  return acc;
}

template <int TW>
void check_map(const Map& m, std::mt19937& rng, uint32_t seed) {
  using G = sf::Geom<8, TW>;
  const int ah = (m.h - 1) / 2 + 1, aw = m.w / 2;  // stem map
  const int bh = (ah - 1) / 2 + 1, bw = (aw - 1) / 2 + 1;
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(3) * m.h * m.w), wt(27);
  for (float& v : x) v = u(rng);
  for (float& v : wt) v = u(rng);
  const float bias = u(rng);
  const std::string at = "map " + std::to_string(m.h) + "x" + std::to_string(m.w) + " TW " +
                         std::to_string(TW) + " seed " + std::to_string(seed);
  // Halo positions hold distinct columns 0 .. HW-1.
  std::vector<int> seen(G::kHW, 0);
  for (int p = 0; p < G::kHW; ++p) ++seen[static_cast<size_t>(sf::halo_col(p, TW))];
  for (int c : seen) ASSERT_EQ(c, 1) << at;
  for (int oy0 = 0; oy0 < bh; oy0 += 8) {
    for (int ox0 = 0; ox0 < bw; ox0 += TW) {
      // The copy, vector by vector (4: fp32, 8: fp16); a vector is wholly inside or outside.
      std::vector<float> copy(static_cast<size_t>(3) * G::kIH * G::kIW, -99.0f);
      for (int vec : {4, 8}) {
        for (int row = 0; row < 3 * G::kIH; ++row) {
          const int plane = row / G::kIH, iy = sf::in_row0(oy0) + row % G::kIH;
          for (int v = 0; v < G::kIW / vec; ++v) {
            const int ix = sf::in_col0(ox0) + v * vec;
            const bool ok = iy >= 0 && iy < m.h && ix >= 0 && ix < m.w;
            ASSERT_EQ(ok, iy >= 0 && iy < m.h && ix + vec - 1 >= 0 && ix + vec - 1 < m.w) << at;
            for (int k = 0; k < vec; ++k) {
              copy[static_cast<size_t>(row) * G::kIW + v * vec + k] =
                  ok ? x[(static_cast<size_t>(plane) * m.h + iy) * m.w + ix + k] : 0.0f;
            }
          }
        }
      }
      // The stem on the halo from the copy.
      std::vector<float> halo(G::kHaloRows);
      for (int hp = 0; hp < G::kHaloRows; ++hp) {
        const int hr = hp / G::kHW, col = sf::halo_col(hp % G::kHW, TW);
        const int ay = sf::a_row(oy0, hr), ax = sf::a_col(ox0, col);
        float acc = bias;
        for (int s = 0; s < 9; ++s) {
          const int r = sf::in_row(hr, s % 3);
          ASSERT_TRUE(r >= 0 && r < G::kIH) << at;
          for (int kx = 0; kx < 3; ++kx) {
            const int c = sf::in_col(col, kx);
            ASSERT_TRUE(c >= 0 && c < G::kIW) << at;
            const float v = copy[static_cast<size_t>((s / 3) * G::kIH + r) * G::kIW + c];
            acc = std::fma(v, wt[s * 3 + kx], acc);
          }
        }
        halo[static_cast<size_t>(hp)] = ay >= 0 && ay < ah && ax >= 0 && ax < aw ? acc : 0.0f;
      }
      // Each output pixel's taps, as the ldmatrix rows read them.
      for (int py = 0; py < 8; ++py) {
        for (int px = 0; px < TW; ++px) {
          for (int r = 0; r < 3; ++r) {
            for (int s = 0; s < 3; ++s) {
              const int hp = py * 2 * G::kHW + px + r * G::kHW + sf::tap_col_offset(s, TW);
              ASSERT_TRUE(hp >= 0 && hp < G::kHaloRows) << at;
              const int ay = 2 * (oy0 + py) - 1 + r, ax = 2 * (ox0 + px) - 1 + s;
              const bool inside = ay >= 0 && ay < ah && ax >= 0 && ax < aw;
              const float want = inside ? stem_direct(x, m, wt, bias, ay, ax) : 0.0f;
              ASSERT_EQ(halo[static_cast<size_t>(hp)], want)
                  << at << " tile " << oy0 << "," << ox0 << " pixel " << py << "," << px << " tap "
                  << r << "," << s;
            }
          }
        }
      }
    }
  }
}

// The mma variant's gather (conv_stemfuse.cu, stem_mma) on the same copy: per 16-pixel tile of
// the halo, each lane's A registers from the copy (mma_pixel_offset + mma_tap_offset of the K
// index mma_a_k, taps >= 27 zero) and its B registers from the weights (mma_b_k / mma_b_n, the
// packer's order), placed into the 16x16 A and 16x8 B matrices by the PTX m16n8k16 layout
// written here on its own (element e of a lane: A row g + 8 ((e >> 1) & 1), column 2 t + (e & 1)
// + 8 (e >> 2); B row 2 t + (e & 1) + 8 (e >> 1), column g), multiplied in double; each C
// element, read back through mma_c_row / mma_c_col, must be the stem at that halo pixel.
template <int TW>
void check_mma_map(const Map& m, std::mt19937& rng, uint32_t seed) {
  using G = sf::Geom<8, TW>;
  const int ah = (m.h - 1) / 2 + 1, aw = m.w / 2;
  const int bh = (ah - 1) / 2 + 1, bw = (aw - 1) / 2 + 1;
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(3) * m.h * m.w), wt(27 * 8);  // [tap][n] (8 channels)
  for (float& v : x) v = u(rng);
  for (float& v : wt) v = u(rng);
  const std::string at = "mma map " + std::to_string(m.h) + "x" + std::to_string(m.w) + " TW " +
                         std::to_string(TW) + " seed " + std::to_string(seed);
  // B (K 32 x N 8) from the lanes' registers, the same for every tile.
  double bm[32][8] = {};
  int bset[32][8] = {};
  for (int lane = 0; lane < 32; ++lane)
    for (int ks = 0; ks < 2; ++ks)
      for (int e = 0; e < 4; ++e) {
        const int k = sf::mma_b_k(lane, ks, e >> 1, e & 1), n = sf::mma_b_n(lane);
        const int kr = ks * 16 + 2 * (lane & 3) + (e & 1) + 8 * (e >> 1), nc = lane >> 2;
        ASSERT_EQ(k, kr) << at;
        ASSERT_EQ(n, nc) << at;
        bm[kr][nc] = k < sf::kMmaK ? wt[static_cast<size_t>(k) * 8 + n] : 0.0;
        ++bset[kr][nc];
      }
  for (auto& row : bset)
    for (int c : row) ASSERT_EQ(c, 1) << at << ": B element set twice or never";
  for (int oy0 = 0; oy0 < bh; oy0 += 8) {
    for (int ox0 = 0; ox0 < bw; ox0 += TW) {
      std::vector<float> copy(static_cast<size_t>(3) * G::kIH * G::kIW);
      for (int row = 0; row < 3 * G::kIH; ++row) {
        const int plane = row / G::kIH, iy = sf::in_row0(oy0) + row % G::kIH;
        for (int c = 0; c < G::kIW; ++c) {
          const int ix = sf::in_col0(ox0) + c;
          const bool ok = iy >= 0 && iy < m.h && ix >= 0 && ix < m.w;
          copy[static_cast<size_t>(row) * G::kIW + c] =
              ok ? x[(static_cast<size_t>(plane) * m.h + iy) * m.w + ix] : 0.0f;
        }
      }
      for (int mt = 0; mt < (G::kHaloRows + 15) / 16; ++mt) {
        double am[16][32] = {};
        int aset[16][32] = {};
        for (int lane = 0; lane < 32; ++lane)
          for (int ks = 0; ks < 2; ++ks)
            for (int e = 0; e < 8; ++e) {
              const int reg = e >> 1, h = e & 1;
              const int row = sf::mma_a_row(lane, reg), k = sf::mma_a_k(lane, ks, reg, h);
              const int rr = (lane >> 2) + 8 * ((e >> 1) & 1);
              const int kr = ks * 16 + 2 * (lane & 3) + (e & 1) + 8 * (e >> 2);
              ASSERT_EQ(row, rr) << at;
              ASSERT_EQ(k, kr) << at;
              const int hp0 = mt * 16 + row;
              const int hp = hp0 < G::kHaloRows ? hp0 : G::kHaloRows - 1;
              const int hr = hp / G::kHW, col = sf::halo_col(hp % G::kHW, TW);
              const int off = sf::mma_pixel_offset(hr, col, G::kIW) +
                              (k < sf::kMmaK ? sf::mma_tap_offset(k, G::kIH, G::kIW) : 0);
              ASSERT_TRUE(off >= 0 && off < 3 * G::kIH * G::kIW) << at;
              am[rr][kr] = k < sf::kMmaK ? copy[static_cast<size_t>(off)] : 0.0;
              ++aset[rr][kr];
            }
        for (auto& row : aset)
          for (int c : row) ASSERT_EQ(c, 1) << at << ": A element set twice or never";
        for (int lane = 0; lane < 32; ++lane)
          for (int i = 0; i < 4; ++i) {
            const int r = sf::mma_c_row(lane, i), n = sf::mma_c_col(lane, i);
            const int hp = mt * 16 + r;
            if (hp >= G::kHaloRows) continue;
            double c = 0.0;
            for (int k = 0; k < 32; ++k) c += am[r][k] * bm[k][n];
            const int hr = hp / G::kHW, col = sf::halo_col(hp % G::kHW, TW);
            const int ay = sf::a_row(oy0, hr), ax = sf::a_col(ox0, col);
            if (ay < 0 || ay >= ah || ax < 0 || ax >= aw) continue;  // stored as 0 (keep)
            std::vector<float> wn(27);
            for (int k = 0; k < 27; ++k)
              wn[static_cast<size_t>(k)] = wt[static_cast<size_t>(k) * 8 + n];
            const double want = stem_direct(x, m, wn, 0.0f, ay, ax);
            ASSERT_NEAR(c, want, 1e-5)
                << at << " tile " << oy0 << "," << ox0 << " halo pixel " << hp << " channel " << n;
          }
      }
    }
  }
}

TEST(StemFuseGeom, MmaFragmentsMatchDirectStem) {
  const uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  for (const Map m : {Map{97, 136}, Map{33, 40}, Map{20, 16}, Map{3, 8}}) {
    check_mma_map<16>(m, rng, seed);
    check_mma_map<8>(m, rng, seed);
  }
}

TEST(StemFuseGeom, HaloMatchesDirectStem) {
  const uint32_t seed = test_seed();
  std::mt19937 rng(seed);
  for (const Map m : {Map{97, 136}, Map{33, 40}, Map{64, 72}, Map{20, 16}, Map{3, 8}}) {
    check_map<16>(m, rng, seed);
    check_map<8>(m, rng, seed);
  }
}

}  // namespace
}  // namespace fungen::test
