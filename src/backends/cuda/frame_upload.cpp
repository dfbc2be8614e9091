// frame_upload.cpp — see frame_upload.h.
#include "backends/cuda/frame_upload.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace fungen::cuda {

std::vector<RowRun> letterbox_row_runs(int height, const LetterboxParams& params, int input_height,
                                       bool contiguous, int max_runs) {
  const std::vector<RowRun> whole{RowRun{0, 1, height, 1}};  // one 2-D copy
  const int rows = std::min(params.resized_height, input_height - params.top);
  if (height <= 0 || rows <= 0 || params.resized_height <= 0) return whole;
  // As the kernel: scale = src / resized (gpu_preprocess.cpp), source position
  // (dy + 0.5)·scale − 0.5, rows clamped into the frame (no edge rule vertically).
  const double scale = 1.0 / (static_cast<double>(params.resized_height) / height);
  std::vector<uint8_t> need(static_cast<size_t>(height), 0);
  auto mark = [&](long long y) {
    need[static_cast<size_t>(std::clamp<long long>(y, 0, height - 1))] = 1;
  };
  for (int dy = 0; dy < rows; ++dy) {
    const double v = (dy + 0.5) * scale - 0.5;
    const double s = std::floor(v);
    mark(static_cast<long long>(s));
    // The kernel rounds v to float and then the fraction to 1/2048: a fraction this small is
    // weight 0 there (or v rounds onto the row s itself). Anything else: both rows.
    if (v - s >= 1e-6) mark(static_cast<long long>(s) + 1);
  }
  // Blocks of consecutive needed rows (single rows unless contiguous).
  std::vector<std::pair<int, int>> blocks;  // first row, rows
  size_t needed = 0;
  for (int y = 0; y < height; ++y) {
    if (!need[static_cast<size_t>(y)]) continue;
    ++needed;
    if (contiguous && !blocks.empty() && blocks.back().first + blocks.back().second == y) {
      ++blocks.back().second;
    } else {
      blocks.emplace_back(y, 1);
    }
  }
  if (needed * 10 >= static_cast<size_t>(height) * 9) return whole;  // not worth it
  // Greedy arithmetic runs of equal blocks: extend while the gap and the block stay the same.
  std::vector<RowRun> runs;
  size_t i = 0;
  while (i < blocks.size()) {
    // A lone block: step = its rows (a copy's pitch must hold its width).
    RowRun r{blocks[i].first, blocks[i].second, 1, blocks[i].second};
    if (i + 1 < blocks.size() && blocks[i + 1].second == r.rows) {
      r.step = blocks[i + 1].first - blocks[i].first;
      size_t j = i + 1;
      while (j < blocks.size() && blocks[j].second == r.rows &&
             blocks[j].first - blocks[j - 1].first == r.step)
        ++j;
      r.count = static_cast<int>(j - i);
    }
    runs.push_back(r);
    if (static_cast<int>(runs.size()) > max_runs) return whole;
    i += static_cast<size_t>(r.count);
  }
  return runs;
}

cudaError_t upload_frame_rows(const Frame& frame, bool pinned, uint8_t* dev, size_t dev_pitch,
                              const std::vector<RowRun>& runs, uint8_t* stage,
                              cudaStream_t stream) {
  const size_t row = static_cast<size_t>(frame.width) * 3;
  const size_t stride = static_cast<size_t>(frame.stride);
  for (const RowRun& r : runs) {
    if (r.count <= 0 || r.rows <= 0) continue;
    if (r.rows > 1 && stride != dev_pitch) {
      // A block is one piece only when rows are packed alike on both sides: row by row.
      for (int b = 0; b < r.rows; ++b) {
        RowRun one{r.first + b, r.step, r.count, 1};
        cudaError_t e = upload_frame_rows(frame, pinned, dev, dev_pitch, {one}, stage, stream);
        if (e != cudaSuccess) return e;
      }
      continue;
    }
    const size_t step = static_cast<size_t>(r.step);
    const size_t first = static_cast<size_t>(r.first);
    const size_t width = r.rows == 1 ? row : static_cast<size_t>(r.rows) * dev_pitch;
    if (pinned) {
      cudaError_t e = cudaMemcpy2DAsync(
          dev + first * dev_pitch, step * dev_pitch, frame.row(r.first), step * stride, width,
          static_cast<size_t>(r.count), cudaMemcpyHostToDevice, stream);
      if (e != cudaSuccess) return e;
      continue;
    }
    // Pageable: ~1 MiB pieces through the pinned stage (same layout as dev).
    const int piece = std::max(1, static_cast<int>((size_t{1} << 20) / width));
    for (int k0 = 0; k0 < r.count; k0 += piece) {
      const int k1 = std::min(r.count, k0 + piece);
      for (int k = k0; k < k1; ++k) {
        const size_t y = first + static_cast<size_t>(k) * step;
        for (int b = 0; b < r.rows; ++b)
          std::memcpy(stage + (y + b) * dev_pitch, frame.row(static_cast<int>(y) + b), row);
      }
      const size_t y0 = first + static_cast<size_t>(k0) * step;
      cudaError_t e = cudaMemcpy2DAsync(
          dev + y0 * dev_pitch, step * dev_pitch, stage + y0 * dev_pitch, step * dev_pitch, width,
          static_cast<size_t>(k1 - k0), cudaMemcpyHostToDevice, stream);
      if (e != cudaSuccess) return e;
    }
  }
  return cudaSuccess;
}

}  // namespace fungen::cuda
