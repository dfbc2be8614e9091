// image.cpp — PNG/JPEG via Debian's stb_image (header-only, compiled here), test pictures.
#include "fungen/image.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "io/npy.h"

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#endif
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_HDR
#define STBI_NO_LINEAR
#define STBI_FAILURE_USERMSG
#include <stb/stb_image.h>
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb/stb_image_write.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace fungen {

Image::Image(int width, int height, uint8_t fill)
    : width_(width), height_(height), pixels_(static_cast<size_t>(width) * height * 3, fill) {}

Result<Image> read_image(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return not_found(path + ": no such file");
  if (std::filesystem::is_directory(path, ec))
    return invalid_argument(path + ": is a directory, not an image");
  int w = 0, h = 0, channels = 0;
  stbi_uc* rgb = stbi_load(path.c_str(), &w, &h, &channels, 3);
  if (rgb == nullptr) {
    const char* why = stbi_failure_reason();
    return corrupt(path + ": cannot decode the image (" + (why ? why : "unknown reason") +
                   "); fungen reads PNG and JPEG");
  }
  Image img(w, h);
  const size_t n = static_cast<size_t>(w) * h;
  uint8_t* dst = img.data();
  for (size_t i = 0; i < n; ++i) {  // RGB -> BGR
    dst[3 * i + 0] = rgb[3 * i + 2];
    dst[3 * i + 1] = rgb[3 * i + 1];
    dst[3 * i + 2] = rgb[3 * i + 0];
  }
  stbi_image_free(rgb);
  return img;
}

namespace {
void append_bytes(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data),
                                             static_cast<size_t>(size));
}
}  // namespace

Status write_png(const std::string& path, const Frame& frame) {
  if (frame.empty()) return invalid_argument(path + ": cannot write an empty image");
  std::vector<uint8_t> rgb(static_cast<size_t>(frame.width) * frame.height * 3);
  for (int y = 0; y < frame.height; ++y) {
    const uint8_t* s = frame.row(y);
    uint8_t* d = rgb.data() + static_cast<size_t>(y) * frame.width * 3;
    for (int x = 0; x < frame.width; ++x) {
      d[3 * x + 0] = s[3 * x + 2];
      d[3 * x + 1] = s[3 * x + 1];
      d[3 * x + 2] = s[3 * x + 0];
    }
  }
  std::string bytes;
  if (!stbi_write_png_to_func(append_bytes, &bytes, frame.width, frame.height, 3, rgb.data(),
                              frame.width * 3)) {
    return internal_error(path + ": PNG encoding failed");
  }
  return write_file_atomically(path, bytes);
}

bool is_image_file_name(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

namespace {

// A 32-bit xorshift: the same sequence everywhere.
struct Rng {
  uint32_t s;
  uint32_t next() {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    return s;
  }
  int range(int lo, int hi) {
    return lo + static_cast<int>(next() % static_cast<uint32_t>(hi - lo + 1));
  }
};

void put(Image& img, int x, int y, const uint8_t bgr[3]) {
  if (x < 0 || y < 0 || x >= img.width() || y >= img.height()) return;
  std::memcpy(img.pixel(x, y), bgr, 3);
}

}  // namespace

Image make_test_image(int width, int height, uint32_t seed) {
  Image img(std::max(width, 1), std::max(height, 1));
  width = img.width();
  height = img.height();
  // Background: a diagonal gradient.
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t* p = img.pixel(x, y);
      p[0] = static_cast<uint8_t>(40 + 120 * x / width);
      p[1] = static_cast<uint8_t>(60 + 100 * y / height);
      p[2] = static_cast<uint8_t>(90 + 60 * (x + y) / (width + height));
    }
  }
  Rng rng{seed * 2654435761u + 0x9E3779B9u};
  if (rng.s == 0) rng.s = 1;
  static const uint8_t palette[][3] = {{0, 0, 255},   {0, 200, 0},   {255, 0, 0},  {0, 220, 255},
                                       {255, 0, 200}, {255, 255, 0}, {20, 20, 20}, {250, 250, 250},
                                       {0, 128, 255}, {128, 0, 128}};
  const int scale = std::min(width, height);
  const int shapes = 12;
  for (int i = 0; i < shapes; ++i) {
    const uint8_t* c = palette[rng.next() % 10];
    int kind = static_cast<int>(rng.next() % 4);
    int cx = rng.range(0, width - 1), cy = rng.range(0, height - 1);
    int r = rng.range(std::max(scale / 20, 2), std::max(scale / 5, 3));
    if (kind == 0) {  // filled rectangle
      int rw = r, rh = rng.range(r / 2, r * 2);
      for (int y = cy - rh; y <= cy + rh; ++y)
        for (int x = cx - rw; x <= cx + rw; ++x) put(img, x, y, c);
    } else if (kind == 1) {  // disc
      for (int y = cy - r; y <= cy + r; ++y)
        for (int x = cx - r; x <= cx + r; ++x)
          if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r) put(img, x, y, c);
    } else if (kind == 2) {  // triangle pointing up
      for (int y = cy - r; y <= cy + r; ++y) {
        int half = (y - (cy - r)) / 2;
        for (int x = cx - half; x <= cx + half; ++x) put(img, x, y, c);
      }
    } else {  // stripes
      for (int y = cy - r; y <= cy + r; ++y)
        for (int x = cx - r; x <= cx + r; ++x)
          if (((x + y) / std::max(r / 4, 1)) % 2 == 0) put(img, x, y, c);
    }
  }
  return img;
}

}  // namespace fungen
