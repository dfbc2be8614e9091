// hw_decode.cpp — when NVDEC (FFmpeg's CUDA hwaccel) may decode a stream, and its device.
#include <string>

#include "fungen/log.h"
#include "runtime/backend.h"
#include "video/decoder.h"

extern "C" {
#include <libavutil/hwcontext.h>
#include <libavutil/pixdesc.h>
}

namespace fungen::video {
namespace {

bool offers_cuda(const AVCodec* codec) {
  for (int i = 0;; ++i) {
    const AVCodecHWConfig* cfg = avcodec_get_hw_config(codec, i);
    if (!cfg) return false;
    if (cfg->device_type == AV_HWDEVICE_TYPE_CUDA &&
        (cfg->methods & AV_CODEC_HW_CONFIG_METHOD_HW_DEVICE_CTX)) {
      return true;
    }
  }
}

}  // namespace

const AVCodec* find_cuda_decoder(const AVCodecParameters* par) {
  void* it = nullptr;
  while (const AVCodec* c = av_codec_iterate(&it)) {
    if (c->id == par->codec_id && av_codec_is_decoder(c) && offers_cuda(c)) return c;
  }
  return nullptr;
}

std::string cuda_unsupported_reason(const AVCodecParameters* par) {
  std::string codec = avcodec_get_name(par->codec_id);
  if (!find_cuda_decoder(par))
    return "this FFmpeg has no NVDEC (CUDA hwaccel) decoder for " + codec;
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(par->format));
  int depth = desc ? desc->comp[0].depth : 8;
  if (desc && par->codec_id == AV_CODEC_ID_H264 &&
      (desc->log2_chroma_w != 1 || desc->log2_chroma_h != 1)) {
    return "NVDEC decodes only 4:2:0 H.264";
  }
  if (par->codec_id == AV_CODEC_ID_H264) {
    if (depth > 8) return fmt::format("NVDEC does not decode {}-bit H.264", depth);
    if (par->width > 4096 || par->height > 4096) {
      return fmt::format("NVDEC does not decode H.264 larger than 4096 px ({}x{})", par->width,
                         par->height);
    }
  }
  if (depth > 12) return fmt::format("NVDEC does not decode {}-bit video", depth);
  return "";
}

Result<BufferRefPtr> create_cuda_device(int device) {
  AVBufferRef* ref = nullptr;
  std::string name = std::to_string(device);
  // The device's primary context (AV_CUDA_USE_PRIMARY_CONTEXT of libavutil/hwcontext_cuda.h,
  // which needs cuda.h to include): the one the CUDA runtime uses, so decoded frames are valid
  // device pointers for our kernels, and the legacy default stream orders work in both.
  constexpr int kUsePrimaryContext = 1 << 0;
#ifdef FUNGEN_HAVE_CUDA
  // FFmpeg refuses a primary context whose scheduling flags differ from its own (blocking sync),
  // e.g. one the cuda backend already created with the runtime's defaults.
  cuda_share_context_with_nvdec(device);
#endif
  int rc = av_hwdevice_ctx_create(&ref, AV_HWDEVICE_TYPE_CUDA, name.c_str(), nullptr,
                                  kUsePrimaryContext);
  if (rc < 0) {
    return unsupported(
        fmt::format("no usable CUDA device {} for NVDEC ({}): no NVIDIA driver or "
                    "GPU here",
                    device, av_error_text(rc)));
  }
  return BufferRefPtr(ref);
}

Status download_frame(const AVFrame* device_frame, AVFrame* host) {
  int rc = av_hwframe_transfer_data(host, device_frame, 0);
  if (rc < 0) return internal_error("copying a frame from the GPU failed: " + av_error_text(rc));
  rc = av_frame_copy_props(host, device_frame);
  if (rc < 0) return internal_error("copying frame properties failed: " + av_error_text(rc));
  return Status();
}

}  // namespace fungen::video
