// lynx::Status: the result of every fallible call in lynx-dtm, public SDK and server alike (no
// exceptions for expected failures).
// Codes map one to one to DTM's results: kOk = SUCCESS (HTTP 200), kFailure = FAILURE (409),
// kOngoing = ONGOING (425); every other code is an error (HTTP 500). Storage codes kNotFound and
// kUniqueConflict mirror DTM's storage.ErrNotFound / ErrUniqueConflict. Value type,
// thread-compatible.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace lynx {

enum class StatusCode {
  kOk = 0,
  kFailure,          // DTM FAILURE: the transaction/branch is refused or rolled back
  kOngoing,          // DTM ONGOING: not final yet, ask again later
  kNotFound,         // storage: record or expected status not found
  kUniqueConflict,   // storage: a record with that key exists
  kInvalidArgument,  // malformed request
  kUnavailable,      // transport error, timeout, server not reachable
  kInternal,         // anything else
};

class Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status Failure(std::string m) { return {StatusCode::kFailure, std::move(m)}; }
  static Status Ongoing(std::string m) { return {StatusCode::kOngoing, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status UniqueConflict(std::string m) {
    return {StatusCode::kUniqueConflict, std::move(m)};
  }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  bool IsFailure() const { return code_ == StatusCode::kFailure; }
  bool IsOngoing() const { return code_ == StatusCode::kOngoing; }
  bool IsNotFound() const { return code_ == StatusCode::kNotFound; }
  bool IsUniqueConflict() const { return code_ == StatusCode::kUniqueConflict; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Value-or-status. `value()` on an error is a programming error (asserts in debug builds).
template <class T>
class StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design
  StatusOr(Status status) : status_(std::move(status)) {}  // NOLINT
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

// DTM's ErrorMessage2Error: the message ends in " FAILURE" / " ONGOING" exactly once.
std::string WithDtmSuffix(const std::string& message, StatusCode code);

}  // namespace lynx
