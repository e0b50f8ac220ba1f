// Status and Result<T>: how every expected failure travels through Lambkin.
//
// A Status is either OK or carries one code from a closed set plus a human-readable message.
// The code says what kind of failure happened in the words of the AWS wire protocol (the
// lambdaapi error table maps each code to an HTTP status, an exception name and a body), so
// the domain can fail precisely without knowing anything about HTTP.
//
// Exceptions never cross a subsystem boundary: adapters around throwing libraries catch them
// and return a Status. Status and Result are plain values; they are thread-compatible.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace lambkin {

enum class StatusCode {
  kOk,
  kValidation,                  // a member failed a model constraint (pattern, length, enum, range)
  kInvalidParameterValue,       // semantically invalid input
  kBelowAccountMinimum,         // would leave an account quota below its floor (unreserved
                                // concurrency): AWS's InvalidParameterValue without a Type
  kServiceValidation,           // a service's own ValidationException, not a model constraint
                                // (CloudWatch Logs: members that exclude each other)
  kInvalidRequestContent,       // body is not valid JSON / wrong types
  kResourceNotFound,            // the named resource does not exist
  kResourceConflict,            // the resource exists or is in a conflicting state
  kPreconditionFailed,          // RevisionId mismatch
  kRequestEntityTooLarge,       // request or package over a size limit
  kRequestTooLarge,             // an Invoke payload over its limit
  kAccessDenied,                // caller may not act on the resource
  kMalformedPolicyDocument,     // an IAM policy or SCP that does not parse or validate
  kUnrecognizedClient,          // unknown credentials or region, an invalid session token
  kExpiredToken,                // a role session's token past its expiry
  kInvalidSignature,            // SigV4 signature mismatch, or signed too long ago
  kIncompleteSignature,         // a malformed SigV4 Authorization header or presigned query
  kMissingAuthenticationToken,  // a request without SigV4 credentials
  kUnsupportedMediaType,
  kTooManyRequests,       // throttled; the message is the AWS Reason
  kLimitExceeded,         // a quota (number of resources) would be exceeded
  kPolicyLengthExceeded,  // a resource-based policy would grow past its size limit
  kNotImplemented,        // the operation exists in AWS but not (yet) in Lambkin
  kUnavailable,           // the store cannot be reached now (retryable: 503)
  kInternal,              // a bug or an I/O failure on our side
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidParameter(std::string message) {
  return {StatusCode::kInvalidParameterValue, std::move(message)};
}
inline Status NotFound(std::string message) {
  return {StatusCode::kResourceNotFound, std::move(message)};
}
inline Status Conflict(std::string message) {
  return {StatusCode::kResourceConflict, std::move(message)};
}
inline Status Internal(std::string message) { return {StatusCode::kInternal, std::move(message)}; }
inline Status Unavailable(std::string message) {
  return {StatusCode::kUnavailable, std::move(message)};
}

// Result<T> holds either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace lambkin

// Returns early from the enclosing function when `expr` (a Status) is not OK.
#define LAMBKIN_RETURN_IF_ERROR(expr)                  \
  do {                                                 \
    ::lambkin::Status lambkin_status_ = (expr);        \
    if (!lambkin_status_.ok()) return lambkin_status_; \
  } while (0)

#define LAMBKIN_CONCAT_INNER(a, b) a##b
#define LAMBKIN_CONCAT(a, b) LAMBKIN_CONCAT_INNER(a, b)
// Declares `lhs` from a Result, returning its Status early on failure.
#define LAMBKIN_ASSIGN_OR_RETURN(lhs, expr) \
  LAMBKIN_ASSIGN_OR_RETURN_IMPL(LAMBKIN_CONCAT(lambkin_result_, __LINE__), lhs, expr)
// NOLINTBEGIN(bugprone-macro-parentheses): `lhs` is a declaration.
#define LAMBKIN_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()
// NOLINTEND(bugprone-macro-parentheses)
