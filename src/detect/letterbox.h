// letterbox.h — Ultralytics' LetterBox on BGR uint8 frames, and OpenCV-exact bilinear resize.
#pragma once

#include <cstdint>

#include "fungen/detector.h"
#include "fungen/image.h"

namespace fungen::detect {

// cv2.resize(src, (dst_width, dst_height), interpolation=cv2.INTER_LINEAR) on BGR uint8:
// half-pixel centres, edges clamped, 11-bit fixed-point weights rounded half to even, the
// horizontal pass kept as int, the vertical pass as OpenCV's SIMD kernel computes it:
// ((S0>>4)*b0 >> 16) + ((S1>>4)*b1 >> 16), then (+2) >> 2. Bit-exact with opencv-python 4.11
// (tests/e2e compares the letterboxed tensors with Ultralytics' LetterBox: equal bit for bit).
void resize_bilinear_bgr(const Frame& src, int dst_width, int dst_height, uint8_t* dst,
                         int dst_stride);

// Letterboxes `frame` into one CHW float32 image of 3×input_height×input_width (RGB, 0..1,
// padding 114/255). `scratch` is reused between calls to hold the resized BGR pixels.
void letterbox_to_chw(const Frame& frame, const LetterboxParams& params, int input_width,
                      int input_height, float* chw, std::vector<uint8_t>& scratch);

// A grey (114) image, for padding a static batch.
void fill_padding_image(int input_width, int input_height, float* chw);

}  // namespace fungen::detect
