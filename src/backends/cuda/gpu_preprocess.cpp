// gpu_preprocess.cpp — the entry points of detect/gpu_preprocess.h (host code, C++20) over the
// kernels of preprocess.cu.
#include "detect/gpu_preprocess.h"

#include <string>
#include <vector>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cuda_run.h"
#include "backends/cuda/preprocess.cuh"

namespace fungen::cuda {
namespace {

// video/frame_sampler.cpp color_coeffs() for 8-bit samples (both through util/yuv_coeffs.h).
YuvCoeffs yuv_coeffs(gpu::YuvMatrix m, bool full_range) {
  float kr = 0.299f, kb = 0.114f;
  if (m == gpu::YuvMatrix::kBt709) {
    kr = 0.2126f, kb = 0.0722f;
  } else if (m == gpu::YuvMatrix::kBt2020) {
    kr = 0.2627f, kb = 0.0593f;
  }
  return fungen::yuv_coeffs(kr, kb, full_range, 1.f);
}

}  // namespace
}  // namespace fungen::cuda

namespace fungen::gpu {

Status letterbox_on_device(const DeviceFrame& f, const DeviceRemap* remap, const LetterboxParams& p,
                           void* dst, InputType type, int input_width, int input_height,
                           void* stream) {
  if (f.width <= 0 || f.height <= 0 || !f.data[0] || !dst) {
    return invalid_argument("gpu letterbox: empty frame or destination");
  }
  const bool nv12 = f.format == PixelFormat::kNv12;
  if (f.pitch[0] < (nv12 ? f.width : 3 * f.width) ||
      (nv12 && (!f.data[1] || f.pitch[1] < 2 * ((f.width + 1) / 2)))) {
    return invalid_argument("gpu letterbox: frame pitch below its row size (" +
                            std::to_string(f.pitch[0]) + " for width " + std::to_string(f.width) +
                            ")");
  }
  cuda::LetterboxDesc d;
  d.nv12 = nv12;
  d.rgb = f.format == PixelFormat::kRgb24;
  d.plane0 = f.data[0];
  d.plane1 = f.data[1];
  d.pitch0 = f.pitch[0];
  d.pitch1 = f.pitch[1];
  d.frame_width = f.width;
  d.frame_height = f.height;
  if (nv12) d.yuv = cuda::yuv_coeffs(f.matrix, f.full_range);
  d.src_width = f.width;
  d.src_height = f.height;
  if (remap) {
    if (!remap->xy || remap->width <= 0 || remap->height <= 0) {
      return invalid_argument("gpu letterbox: empty remap table");
    }
    d.map = reinterpret_cast<const float2*>(remap->xy);
    d.src_width = remap->width;
    d.src_height = remap->height;
  }
  if (p.resized_width <= 0 || p.resized_height <= 0) {
    return invalid_argument("gpu letterbox: letterbox params have an empty resized size");
  }
  d.resized_width = p.resized_width;
  d.resized_height = p.resized_height;
  d.left = p.left;
  d.top = p.top;
  // letterbox.cpp make_taps: scale = 1 / (dst / src), in double.
  d.scale_x = 1.0 / (static_cast<double>(p.resized_width) / d.src_width);
  d.scale_y = 1.0 / (static_cast<double>(p.resized_height) / d.src_height);
  d.dst = dst;
  d.elem = type == InputType::kF16 ? cuda::Elem::kF16 : cuda::Elem::kF32;
  d.in_width = input_width;
  d.in_height = input_height;
  cuda::launch_letterbox(d, static_cast<cudaStream_t>(stream));
  CUDA_CHECK(cudaGetLastError());
  return Status();
}

Status fill_padding_on_device(void* dst, InputType type, int input_width, int input_height,
                              int images, void* stream) {
  if (images <= 0) return Status();
  int64_t n = static_cast<int64_t>(images) * 3 * input_width * input_height;
  cuda::launch_fill_padding(dst, type == InputType::kF16 ? cuda::Elem::kF16 : cuda::Elem::kF32, n,
                            static_cast<cudaStream_t>(stream));
  CUDA_CHECK(cudaGetLastError());
  return Status();
}

Status upload_remap_table(const float* x, const float* y, int width, int height, float* xy) {
  size_t n = static_cast<size_t>(width) * height;
  std::vector<float> packed(2 * n);
  for (size_t i = 0; i < n; ++i) packed[2 * i] = x[i], packed[2 * i + 1] = y[i];
  // Waited for: the pipeline's non-blocking stream would not wait for a plain cudaMemcpy's DMA.
  return cuda::upload_and_wait(xy, packed.data(), packed.size() * sizeof(float), cudaStreamLegacy,
                               "remap table");
}

}  // namespace fungen::gpu
