#include "video/ffmpeg_util.h"

#include <mutex>

#include "fungen/log.h"

extern "C" {
#include <libavutil/log.h>
}

namespace fungen::video {

std::string av_error_text(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, buf, sizeof buf);
  return buf;
}

void quiet_ffmpeg_logs() {
  static std::once_flag once;
  std::call_once(once, [] {
    av_log_set_level(log_enabled(LogLevel::kDebug) ? AV_LOG_WARNING : AV_LOG_FATAL);
  });
}

}  // namespace fungen::video
