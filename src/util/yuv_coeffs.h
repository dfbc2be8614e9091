// yuv_coeffs.h — YUV → RGB coefficients shared by the CPU frame sampler (video/frame_sampler.cpp)
// and the GPU letterbox (backends/cuda/preprocess.cu), so both compute the same float values:
// y' = Y·y_scale + y_offset, c' = C·c_scale + c_offset, then
// B = y' + b_u·u', G = y' + g_u·u' + g_v·v', R = y' + r_v·v'.
#pragma once

namespace fungen {

struct YuvCoeffs {
  float y_scale, y_offset, c_scale, c_offset;
  float r_v, g_u, g_v, b_u;
};

// kr, kb: the standard's luma weights (BT.601 0.299/0.114, BT.709 0.2126/0.0722, BT.2020
// 0.2627/0.0593); sample_to_8bit scales wider samples down to 8 bits (1 for 8-bit video).
inline YuvCoeffs yuv_coeffs(float kr, float kb, bool full_range, float sample_to_8bit) {
  const float kg = 1.f - kr - kb;
  YuvCoeffs c{};
  if (full_range) {
    c.y_scale = sample_to_8bit, c.y_offset = 0.f;
    c.c_scale = sample_to_8bit, c.c_offset = -128.f;
  } else {
    c.y_scale = sample_to_8bit * 255.f / 219.f, c.y_offset = -16.f * 255.f / 219.f;
    c.c_scale = sample_to_8bit * 255.f / 224.f, c.c_offset = -128.f * 255.f / 224.f;
  }
  c.r_v = 2.f * (1.f - kr);
  c.b_u = 2.f * (1.f - kb);
  c.g_u = -2.f * kb * (1.f - kb) / kg;
  c.g_v = -2.f * kr * (1.f - kr) / kg;
  return c;
}

}  // namespace fungen
