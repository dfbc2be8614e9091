// fungen/image.h — 8-bit BGR images: a non-owning Frame view, an owning Image, PNG/JPEG IO.
//
//   auto img = fungen::read_image("street.jpg");          // Result<Image>, BGR like OpenCV
//   if (!img) { std::cerr << img.status().message() << "\n"; return 1; }
//   fungen::Frame f = img->frame();                        // view: width, height, stride, bgr
//   fungen::Status s = fungen::write_png("copy.png", f);
//
// Frames are BGR, 3 bytes per pixel, rows `stride` bytes apart (stride >= 3 * width), the layout
// of an OpenCV CV_8UC3 Mat and of a decoded video frame after colour conversion. Decoding uses
// Debian's stb_image: PNG (8/16-bit, grey/alpha dropped like cv2.IMREAD_COLOR) and baseline or
// progressive JPEG. EXIF orientation is NOT applied (cv2.imread applies it), and JPEG decoders
// differ from libjpeg-turbo by a grey level here and there; compare pipelines on PNG.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fungen/status.h"

namespace fungen {

// A view of BGR pixels owned elsewhere; valid while the owner keeps them.
struct Frame {
  int width = 0;
  int height = 0;
  int stride = 0;                // bytes from one row to the next
  const uint8_t* bgr = nullptr;  // first pixel: B, G, R

  const uint8_t* row(int y) const { return bgr + static_cast<ptrdiff_t>(y) * stride; }
  bool empty() const { return width <= 0 || height <= 0 || bgr == nullptr; }
};

// An owning, tightly packed BGR image (stride == 3 * width).
class Image {
 public:
  Image() = default;
  Image(int width, int height, uint8_t fill = 0);

  int width() const { return width_; }
  int height() const { return height_; }
  uint8_t* data() { return pixels_.data(); }
  const uint8_t* data() const { return pixels_.data(); }
  uint8_t* pixel(int x, int y) {
    return pixels_.data() + (static_cast<size_t>(y) * width_ + x) * 3;
  }
  Frame frame() const { return Frame{width_, height_, width_ * 3, pixels_.data()}; }

 private:
  int width_ = 0;
  int height_ = 0;
  std::vector<uint8_t> pixels_;
};

// Reads a PNG or JPEG file (other formats stb_image knows — BMP, TGA, GIF's first frame — work
// too). Errors name the file and say why (missing, not an image, truncated).
Result<Image> read_image(const std::string& path);

// Writes a PNG atomically (temporary file + rename).
Status write_png(const std::string& path, const Frame& frame);

// True for the file extensions `fungen detect` picks up from a directory: .png .jpg .jpeg
// (any case).
bool is_image_file_name(const std::string& path);

// A deterministic synthetic picture (gradient background, filled rectangles, circles, triangles
// and stripes in saturated colours) for demos and tests; the same (width, height, seed) always
// gives the same pixels on every platform.
Image make_test_image(int width, int height, uint32_t seed = 1);

}  // namespace fungen
