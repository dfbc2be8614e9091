// detect_image — the smallest complete use of fungen's public API.
//
//   detect_image MODEL.onnx IMAGE.png [CONF]
//
// Loads an Ultralytics YOLO ONNX export, reads a PNG/JPEG, prints one line per detection.
// Built with the project (build/bin/detect_image) and, after `make install`, as an outside
// project with find_package(fungen) (see examples/CMakeLists.txt).
#include <cstdio>
#include <cstdlib>

#include <fungen/detector.h>
#include <fungen/image.h>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s MODEL.onnx IMAGE [CONF]\n", argv[0]);
    return 2;
  }
  fungen::DetectorOptions options;
  options.threads = 0;  // one per physical core
  auto detector = fungen::Detector::load(argv[1], options);
  if (!detector) {
    std::fprintf(stderr, "error: %s\n", detector.status().message().c_str());
    return 3;
  }
  auto image = fungen::read_image(argv[2]);
  if (!image) {
    std::fprintf(stderr, "error: %s\n", image.status().message().c_str());
    return 3;
  }
  fungen::DetectOptions thresholds;
  thresholds.conf = argc > 3 ? static_cast<float>(std::atof(argv[3])) : 0.25f;
  thresholds.iou = 0.45f;

  fungen::Frame frame = image->frame();
  auto result = detector->detect({&frame, 1}, thresholds);
  if (!result) {
    std::fprintf(stderr, "error: %s\n", result.status().message().c_str());
    return 1;
  }
  const std::vector<fungen::Detection>& detections = result.value()[0];
  std::printf("%s: %dx%d, model input %dx%d, %zu detections\n", argv[2], frame.width, frame.height,
              detector->input_width(), detector->input_height(), detections.size());
  for (const fungen::Detection& d : detections) {
    std::printf("%-14s %.3f  x1=%.1f y1=%.1f x2=%.1f y2=%.1f\n", d.class_name.c_str(), d.confidence,
                d.x1, d.y1, d.x2, d.y2);
  }
  return 0;
}
