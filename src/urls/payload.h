// Function URLs' payload format 2.0: an HTTP request as the event a function receives, and the
// function's result as the HTTP response, as Lambda's function URLs translate them
// ("Lambda function URL request and response payloads"). Pure functions, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "server/request.h"

namespace lambkin::urls {

// What the event says about the request besides the request itself.
struct EventContext {
  std::string url_id;       // requestContext.apiId and domainPrefix
  std::string domain_name;  // <url-id>.lambda-url.<region>.<domain>
  std::string raw_path;     // the path as received, after any /lambda-url/<url-id> prefix
  std::string account_id;   // the caller's account, or "anonymous" (AuthType NONE)
  std::string source_ip;
  std::string request_id;
  int64_t time_ms = 0;
  // requestContext.authorizer.iam for AWS_IAM: accessKey, accountId, callerId, userArn, userId.
  std::optional<nlohmann::json> iam;
};

// The payload format 2.0 event of `request`. Headers are lower-cased, repeated ones joined with
// ","; Cookie headers become `cookies` (split on "; "); repeated query parameters are joined
// with "," in queryStringParameters; a body that is not UTF-8 text is base64-encoded
// (isBase64Encoded true).
std::string RequestEvent(const server::HttpRequest& request, const EventContext& context);

// The HTTP response for a function's result. A JSON object with "statusCode" is the structured
// form (statusCode, headers, cookies → Set-Cookie, body, isBase64Encoded); anything else is the
// body of a 200 with Content-Type application/json. A function error is a 502.
server::HttpResponse ResultResponse(std::string_view payload, bool function_error);

// Whether `text` is valid UTF-8 (a body sent as text in the event).
bool IsUtf8(std::string_view text);

}  // namespace lambkin::urls
