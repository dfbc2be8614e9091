// fungen/status.h — the error model at every boundary (file, model, video, config, device).
//
//   fungen::Result<Engine> r = fungen::Engine::load("yolo11n.onnx");
//   if (!r) { std::cerr << r.status().message() << "\n"; return 1; }
//   fungen::Engine engine = std::move(r).value();
//
// A Status carries a code and one human line that says what failed, where (file, node, op,
// frame) and what to do. Internal invariants use FUNGEN_ASSERT instead (see src/util/assert.h).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace fungen {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // a bad value from the caller: flag, config field, input shape/dtype
  kNotFound,         // a file or name that does not exist
  kUnsupported,      // a valid thing fungen does not do (op, attribute, external data)
  kCorrupt,          // a file that is not what it claims to be (truncated/garbled model, npy)
  kIoError,          // the OS refused: permissions, full disk
  kOutOfMemory,
  kInternal,
};

const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok_status() { return Status(); }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Prefixes context: Status(...).with_context("model.onnx") -> "model.onnx: <message>".
  Status with_context(const std::string& context) const {
    if (ok()) return *this;
    return Status(code_, context + ": " + message_);
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status invalid_argument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status not_found(std::string m) {
  return {StatusCode::kNotFound, std::move(m)};
}
inline Status unsupported(std::string m) {
  return {StatusCode::kUnsupported, std::move(m)};
}
inline Status corrupt(std::string m) {
  return {StatusCode::kCorrupt, std::move(m)};
}
inline Status io_error(std::string m) {
  return {StatusCode::kIoError, std::move(m)};
}
inline Status out_of_memory(std::string m) {
  return {StatusCode::kOutOfMemory, std::move(m)};
}
inline Status internal_error(std::string m) {
  return {StatusCode::kInternal, std::move(m)};
}

// A value or the Status that explains why there is none (std::expected arrives in C++23).
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT(google-explicit-constructor)
  Result(Status status) : status_(std::move(status)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Status& status() const { return status_; }

  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace fungen

// Returns early from a function that returns Status or Result<T> when `expr` is not ok.
#define FUNGEN_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::fungen::Status fungen_status_ = (expr);        \
    if (!fungen_status_.ok()) return fungen_status_; \
  } while (0)

#define FUNGEN_CONCAT_INNER(a, b) a##b
#define FUNGEN_CONCAT(a, b) FUNGEN_CONCAT_INNER(a, b)
// FUNGEN_ASSIGN_OR_RETURN(auto x, make_x()); — x is the value, or the caller returns the Status.
#define FUNGEN_ASSIGN_OR_RETURN(lhs, rexpr) \
  FUNGEN_ASSIGN_OR_RETURN_IMPL(FUNGEN_CONCAT(fungen_result_, __LINE__), lhs, rexpr)
#define FUNGEN_ASSIGN_OR_RETURN_IMPL(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                 \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()
