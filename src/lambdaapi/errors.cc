#include "lambdaapi/errors.h"

#include <nlohmann/json.hpp>

namespace lambkin::lambdaapi {

namespace {

constexpr WireError kWireErrors[] = {
    {StatusCode::kValidation, 400, "ValidationException", "", "message"},
    {StatusCode::kInvalidParameterValue, 400, "InvalidParameterValueException", "User", "message"},
    {StatusCode::kBelowAccountMinimum, 400, "InvalidParameterValueException", "", "message"},
    {StatusCode::kServiceValidation, 400, "ValidationException", "", "message"},
    {StatusCode::kInvalidRequestContent, 400, "InvalidRequestContentException", "User", "message"},
    {StatusCode::kResourceNotFound, 404, "ResourceNotFoundException", "User", "Message"},
    {StatusCode::kResourceConflict, 409, "ResourceConflictException", "User", "message"},
    {StatusCode::kPreconditionFailed, 412, "PreconditionFailedException", "User", "message"},
    {StatusCode::kRequestEntityTooLarge, 413, "RequestEntityTooLargeException", "", "message"},
    {StatusCode::kRequestTooLarge, 413, "RequestTooLargeException", "User", "message"},
    {StatusCode::kTooManyRequests, 429, "TooManyRequestsException", "User", "message"},
    {StatusCode::kAccessDenied, 403, "AccessDeniedException", "", "Message"},
    {StatusCode::kMalformedPolicyDocument, 400, "MalformedPolicyDocumentException", "User",
     "message"},
    {StatusCode::kLimitExceeded, 400, "LimitExceededException", "User", "message"},
    {StatusCode::kPolicyLengthExceeded, 400, "PolicyLengthExceededException", "User", "message"},
    {StatusCode::kUnrecognizedClient, 403, "UnrecognizedClientException", "", "message"},
    {StatusCode::kExpiredToken, 403, "ExpiredTokenException", "", "message"},
    {StatusCode::kInvalidSignature, 403, "InvalidSignatureException", "", "message"},
    {StatusCode::kIncompleteSignature, 400, "IncompleteSignature", "", "message"},
    {StatusCode::kMissingAuthenticationToken, 403, "MissingAuthenticationTokenException", "",
     "message"},
    {StatusCode::kUnsupportedMediaType, 415, "UnsupportedMediaTypeException", "User", "message"},
    {StatusCode::kNotImplemented, 404, "UnknownOperationException", "", "message"},
    // The store is unreachable for now (PostgreSQL restarting): retryable.
    {StatusCode::kUnavailable, 503, "ServiceException", "Service", "Message"},
    {StatusCode::kInternal, 500, "ServiceException", "Service", "Message"},
};

}  // namespace

const WireError& WireErrorFor(StatusCode code) {
  for (const auto& e : kWireErrors) {
    if (e.code == code) return e;
  }
  return kWireErrors[std::size(kWireErrors) - 1];
}

std::string DumpJson(const nlohmann::json& body) {
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

server::HttpResponse ErrorResponse(const Status& status, bool with_type) {
  const WireError& e = WireErrorFor(status.code());
  nlohmann::json body = nlohmann::json::object();
  if (with_type && !e.body_type.empty()) body["Type"] = e.body_type;
  if (status.message().empty()) {
    body[std::string(e.message_key)] = nullptr;
  } else {
    body[std::string(e.message_key)] = status.message();
  }
  body["__type"] = e.type_name;
  server::HttpResponse r;
  if (status.code() == StatusCode::kTooManyRequests) {
    // A throttle's Status carries the AWS Reason; the message is always the same.
    body["message"] = "Rate Exceeded.";
    body["Reason"] = status.message();
    r.SetHeader("Retry-After", "1");
  }
  r.status = e.http_status;
  r.SetHeader("Content-Type", "application/json");
  r.SetHeader("x-amzn-ErrorType", std::string(e.type_name));
  r.body = DumpJson(body);
  return r;
}

}  // namespace lambkin::lambdaapi
