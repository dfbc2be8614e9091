// fungen/video.h — decode videos with FFmpeg, unwarp VR frames, sample frames for detection.
//
//   auto reader = fungen::VideoReader::open("clip.mp4");        // Result<VideoReader>
//   if (!reader) { std::cerr << reader.status().message() << "\n"; return 1; }
//   fungen::VideoFrame f;
//   while (true) {
//     auto more = reader->read(f);                               // BGR at the displayed size
//     if (!more) { std::cerr << more.status().message() << "\n"; break; }
//     if (!more.value()) break;                                  // end of the video
//     use(f.index, f.t_ms, f.image.frame());
//   }
//
//   // A VR video: one eye, unwarped to FunGen's default 640×640 stereographic view.
//   fungen::VrFormat vr = fungen::detect_vr_format("scene_180_LR.mp4", 7680, 3840);
//   fungen::RemapTable t = fungen::make_unwarp_table(vr, {}, 7680, 3840);
//   reader->read(f, t);                                          // 640×640 BGR
//
// Timestamps are each frame's own presentation time (variable frame rate safe), in ms from the
// stream's start. Rotation metadata is honoured: frames come as a player shows them. Sampling
// through a RemapTable reads the decoder's YUV planes directly, so an 8K frame is never
// converted to BGR in full.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fungen/image.h"
#include "fungen/status.h"

namespace fungen {

// ---------------------------------------------------------------------------------------------
// Decoding

enum class DecodeDevice {
  kAuto,  // NVDEC when a CUDA device can take the stream, else the CPU (the reason is logged)
  kCpu,
  kCuda,  // NVDEC; falls back to the CPU with a logged reason when it cannot
};

struct VideoOptions {
  int threads = 0;  // CPU decoder threads, 0: FFmpeg picks (per core)
  DecodeDevice device = DecodeDevice::kAuto;
  int cuda_device = 0;
  // NVDEC: surfaces added to the decoder's own (dpb + 2) for frames held downstream. FFmpeg's
  // NVDEC frames are mapped decoder surfaces, so at most about this many decoded frames may be
  // held at once (the pipeline holds a few and copies those it keeps longer, frame_source.cpp).
  // Capped at 16 (FFmpeg warns above 32 surfaces in all).
  int extra_hw_frames = 6;
};

struct VideoInfo {
  std::string path;
  std::string codec;         // "h264", "hevc", "vp9", "av1", ...
  std::string pixel_format;  // of the decoded frames: "yuv420p", "yuv420p10le", ...
  int bit_depth = 8;
  int width = 0, height = 0;  // as displayed (rotation applied)
  int coded_width = 0, coded_height = 0;
  int rotation = 0;             // clockwise degrees a player rotates by: 0, 90, 180 or 270
  double fps = 0;               // average frame rate, 0 when unknown
  double duration_ms = 0;       // 0 when unknown
  int64_t frame_count = 0;      // declared by the container, 0 when unknown
  std::string decoder = "cpu";  // "cpu" or "cuda"
  std::string fallback_reason;  // why NVDEC was not used when it was asked for (or kAuto)
};

// Parses "auto", "cpu", "cuda" or "cuda:N".
Result<VideoOptions> parse_decode_device(std::string_view text, VideoOptions base = {});

// ---------------------------------------------------------------------------------------------
// VR formats and views

enum class VrLayout { kMono, kSideBySide, kTopBottom };
enum class VrProjection {
  kFlat,          // an ordinary 2D video
  kFisheye,       // equidistant fisheye, fov_deg 190/200/220 (MKX200, ...)
  kHalfEquirect,  // 180° equirectangular
  kEquirect,      // 360° equirectangular
};

struct VrFormat {
  VrLayout layout = VrLayout::kMono;
  VrProjection projection = VrProjection::kFlat;
  double fov_deg = 180;          // of the source lens (fisheye) or 180/360 (equirect)
  bool right_eye_first = false;  // "_RL": the right eye is the left/top half

  bool is_vr() const { return projection != VrProjection::kFlat; }
  // "none", "sbs-fisheye190", "tb-equirect360", "sbs-he180", ... (parse_vr_format's syntax)
  std::string to_string() const;
};

// "none" | "2d" | [sbs|lr|rl|tb|mono]-(he180|180|equirect360|360|fisheye190|fisheye200|
// fisheye220|fisheye<N>), e.g. "sbs-fisheye200", "rl-180", "tb-360". A missing layout means sbs
// for 180/fisheye and mono for 360.
Result<VrFormat> parse_vr_format(std::string_view text);

// FunGen's guess from filename tokens (_2D, _180, _360, _LR, _RL, _TB, _3DH/_3DV, FISHEYE190,
// MKX200, MKX220, ...) then the aspect ratio (about 2:1, or taller than 2160 px, suggests
// side-by-side VR 180).
VrFormat detect_vr_format(std::string_view file_name, int width, int height);

enum class ViewProjection { kStereographic, kRectilinear };
enum class Eye { kLeft, kRight };

// The view cut out of a VR frame (FunGen's defaults).
struct UnwarpOptions {
  ViewProjection projection = ViewProjection::kStereographic;
  double fov_x_deg = 90, fov_y_deg = 90;
  double pitch_deg = -21;  // negative looks down
  double yaw_deg = 0;      // positive looks right
  int width = 640, height = 640;
  Eye eye = Eye::kLeft;
};

// Parses "stereographic" / "rectilinear".
Result<ViewProjection> parse_view_projection(std::string_view text);

// For each output pixel, where to sample the displayed source frame: x, y in source pixels with
// pixel i's centre at i (OpenCV's cv2.remap convention). NaN marks a pixel outside the source
// (filled black).
struct RemapTable {
  int width = 0, height = 0;          // output size
  int src_width = 0, src_height = 0;  // displayed source size it was built for
  std::vector<float> x, y;            // width * height each, row-major
};

// Plain scaling (cv2.resize INTER_LINEAR geometry: half-pixel centres).
RemapTable make_resize_table(int src_width, int src_height, int dst_width, int dst_height);
// One eye of a VR frame as a stereographic or rectilinear view; `format` must be VR.
RemapTable make_unwarp_table(const VrFormat& format, const UnwarpOptions& view, int src_width,
                             int src_height);
// The unit direction (x right, y down, z forward) seen at view pixel (px, py) (centre of pixel i
// at i + 0.5), before pitch/yaw; false when (px, py) is outside the projection's domain.
bool view_pixel_direction(const UnwarpOptions& view, double px, double py, double dir[3]);

// Bilinear remap of BGR pixels (edges clamped, NaN → black); the reference the YUV sampler
// matches.
void remap_bgr(const Frame& src, const RemapTable& table, Image& dst);

// ---------------------------------------------------------------------------------------------
// Reading

struct VideoFrame {
  int64_t index = 0;  // 0-based, in presentation order
  double t_ms = 0;    // presentation time from the stream's start
  Image image;        // BGR
};

class VideoReader {
 public:
  // Opens the file and its best video stream; errors name the file and say why.
  static Result<VideoReader> open(const std::string& path, const VideoOptions& options = {});
  VideoReader(VideoReader&&) noexcept;
  VideoReader& operator=(VideoReader&&) noexcept;
  ~VideoReader();

  const VideoInfo& info() const;
  // The next frame as displayed. Returns false at the end; a damaged or truncated file is an
  // error naming the frame where decoding stopped.
  Result<bool> read(VideoFrame& frame);
  // The next frame sampled through `table` (built for info().width × info().height).
  Result<bool> read(VideoFrame& frame, const RemapTable& table);

  struct Impl;

 private:
  explicit VideoReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// True for the extensions `fungen detect` treats as videos (.mp4 .mkv .mov .avi .webm .m4v .ts
// .wmv .flv, any case).
bool is_video_file_name(const std::string& path);

}  // namespace fungen
