// fungen/log.h — the one logging sink. Level from FUNGEN_LOG (error|warn|info|debug, default
// warn); messages go to stderr unless set_log_sink() redirects them.
//
//   fungen::log(fungen::LogLevel::kInfo, "loaded {} nodes", n);   // fmt-style formatting
//   fungen::set_log_sink([](fungen::LogLevel l, std::string_view m) { my_logger(l, m); });
#pragma once

#include <functional>
#include <string_view>

#include <fmt/format.h>

namespace fungen {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

using LogSink = std::function<void(LogLevel, std::string_view)>;
void set_log_sink(LogSink sink);  // nullptr restores stderr
void set_log_level(LogLevel level);
LogLevel log_level();
bool log_enabled(LogLevel level);
void log_message(LogLevel level, std::string_view message);

template <class... Args>
void log(LogLevel level, fmt::format_string<Args...> format, Args&&... args) {
  if (!log_enabled(level)) return;
  log_message(level, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace fungen
