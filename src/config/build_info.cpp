// build_info.cpp — what this binary was compiled with. The top CMakeLists.txt passes
// FUNGEN_BUILD_CUDA/ONEDNN/FFMPEG (0 or 1) and FUNGEN_BUILD_TYPE to this file only.
#include "fungen/config.h"

#ifndef FUNGEN_BUILD_CUDA
#if defined(FUNGEN_HAVE_CUDA)
#define FUNGEN_BUILD_CUDA 1
#else
#define FUNGEN_BUILD_CUDA 0
#endif
#endif
#ifndef FUNGEN_BUILD_ONEDNN
#if defined(FUNGEN_HAVE_ONEDNN)
#define FUNGEN_BUILD_ONEDNN 1
#else
#define FUNGEN_BUILD_ONEDNN 0
#endif
#endif
#ifndef FUNGEN_BUILD_FFMPEG
#if defined(FUNGEN_HAVE_VIDEO)
#define FUNGEN_BUILD_FFMPEG 1
#else
#define FUNGEN_BUILD_FFMPEG 0
#endif
#endif
#ifndef FUNGEN_BUILD_TYPE
#define FUNGEN_BUILD_TYPE "unknown"
#endif

namespace fungen {

BuildInfo build_info() {
  BuildInfo b;
  b.version = FUNGEN_VERSION;
  b.cuda = FUNGEN_BUILD_CUDA != 0;
  b.onednn = FUNGEN_BUILD_ONEDNN != 0;
  b.ffmpeg = FUNGEN_BUILD_FFMPEG != 0;
  b.build_type = FUNGEN_BUILD_TYPE;
#if defined(__clang__)
  b.compiler = "clang " __clang_version__;
#elif defined(__GNUC__)
  b.compiler = "gcc " __VERSION__;
#else
  b.compiler = "unknown";
#endif
  return b;
}

}  // namespace fungen
