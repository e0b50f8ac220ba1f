// The wire error taxonomy of the Lambda API: one table mapping each Status code to the AWS
// exception name, HTTP status, body `Type` and the casing of the message key (botocore copies
// modelled members by exact name, so "message" vs "Message" matters), and one function turning
// a Status into the HTTP response AWS would send.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "server/request.h"

namespace lambkin::lambdaapi {

struct WireError {
  StatusCode code;
  int http_status;
  std::string_view type_name;    // x-amzn-ErrorType and __type
  std::string_view body_type;    // "User", "Service" or empty (no Type member)
  std::string_view message_key;  // "message" or "Message"
};

const WireError& WireErrorFor(StatusCode code);

// Serialises a response body. Messages may quote URI input, which is arbitrary bytes once
// percent-decoded; bytes that are not UTF-8 are written as U+FFFD instead of failing.
std::string DumpJson(const nlohmann::json& body);

// The AWS error response for a non-OK status. A kTooManyRequests status carries the AWS
// `Reason` (ReservedFunctionConcurrentInvocationLimitExceeded, ...) as its message. An empty
// message is written as null, as AWS writes it (a cross-account AccessDeniedException).
// `with_type` false leaves out the body's `Type` where AWS sends none for that error.
server::HttpResponse ErrorResponse(const Status& status, bool with_type = true);

}  // namespace lambkin::lambdaapi
