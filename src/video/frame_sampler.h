// frame_sampler.h — turn a decoded AVFrame into BGR pixels through a RemapTable, reading the
// YUV planes directly (8- to 16-bit, planar or semi-planar such as NV12/P010, any chroma
// subsampling) with bilinear interpolation, rotation folded into the table. Other pixel formats
// go through swscale to BGR first.
#pragma once

#include <cstdint>
#include <vector>

#include "fungen/image.h"
#include "fungen/video.h"
#include "video/ffmpeg_util.h"

struct SwsContext;

namespace fungen::video {

// Where one output pixel samples one plane: element offset of the top-left neighbour and 7-bit
// weights (0..128) toward the right and lower neighbours; offset -1: outside (black).
struct PlaneTaps {
  std::vector<int32_t> offset;
  std::vector<uint8_t> wx, wy;
  int32_t step_x = 1;  // elements to the right neighbour (0 for a 1-pixel-wide plane)
  int32_t step_y = 0;  // elements to the lower neighbour
};

class FrameSampler {
 public:
  FrameSampler();
  ~FrameSampler();
  FrameSampler(const FrameSampler&) = delete;
  FrameSampler& operator=(const FrameSampler&) = delete;

  // Samples `frame` (CPU memory, coded size) through `table` (built for the displayed size,
  // `rotation` degrees clockwise from the coded picture) into `out` (table.width × table.height).
  Status sample(const AVFrame* frame, int rotation, const RemapTable& table, Image& out);

 private:
  struct Layout;
  Status compile(const AVFrame* frame, int rotation, const RemapTable& table);

  // What the compiled taps were built for.
  const RemapTable* table_ = nullptr;
  const void* table_data_ = nullptr;
  int format_ = -1, width_ = 0, height_ = 0, rotation_ = 0;
  int linesize_[3] = {0, 0, 0};
  bool via_bgr_ = false;
  PlaneTaps luma_, chroma_;
  // swscale fallback for pixel formats sampled as BGR
  SwsContext* sws_ = nullptr;
  std::vector<uint8_t> bgr_;
};

// Tests and benchmarks: use (true, the default) or bypass the AVX2 kernel of 8-bit YUV.
void set_sampler_simd(bool enabled);

// Builds taps over a plane of plane_w × plane_h elements (linesize in elements) for the given
// source coordinates in plane pixels (pixel i's centre at i).
void build_taps(const std::vector<float>& xs, const std::vector<float>& ys, int plane_w,
                int plane_h, int linesize, int elems_per_pixel, PlaneTaps& taps);

// Samples packed BGR pixels (3 bytes per pixel, `stride` bytes per row) through taps built with
// elems_per_pixel = 3.
void sample_packed_bgr(const uint8_t* src, const PlaneTaps& taps, int width, int height,
                       uint8_t* dst, int dst_stride);

}  // namespace fungen::video
