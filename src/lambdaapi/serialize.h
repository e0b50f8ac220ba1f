// JSON shapes of Lambda API responses and request bodies.
//
// FunctionConfiguration is written in the member order AWS uses. Its `view` says which moment
// the response describes: a freshly created function reports State Pending, an update reports
// LastUpdateStatus InProgress (as AWS does; Lambkin finishes the work before answering, so the
// next read shows Active / Successful), and list items omit the state members and
// RuntimeVersionConfig, as AWS's do.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "functions/function_service.h"
#include "lambdaapi/api.h"
#include "lambdaapi/body.h"
#include "lambdaapi/errors.h"
#include "server/request.h"

namespace lambkin::lambdaapi {

enum class ConfigView { kCreated, kUpdated, kCurrent, kListItem };

nlohmann::json FunctionConfigurationJson(const ApiContext& ctx, const functions::Scope& scope,
                                         const functions::FunctionVersion& v,
                                         std::string_view arn_qualifier, ConfigView view);
nlohmann::json AliasJson(const functions::Scope& scope, const functions::Alias& a);

server::HttpResponse JsonResponse(int status, const nlohmann::json& body);
// The response for `result`: its value through `render`, or the AWS error.
server::HttpResponse StatusResponse(const Status& status);

// In an operation: answer with the AWS error when `expr` (a Status) fails.
#define RETURN_ERROR_IF(expr)                                     \
  do {                                                            \
    ::lambkin::Status s_ = (expr);                                \
    if (!s_.ok()) return ::lambkin::lambdaapi::ErrorResponse(s_); \
  } while (0)

// NOLINTBEGIN(bugprone-macro-parentheses): `lhs` is a declaration.
// ...or declare `lhs` from a Result, answering with the error when it failed.
#define ASSIGN_OR_ERROR(lhs, expr)                                                     \
  auto LAMBKIN_CONCAT(r_, __LINE__) = (expr);                                          \
  if (!LAMBKIN_CONCAT(r_, __LINE__).ok())                                              \
    return ::lambkin::lambdaapi::ErrorResponse(LAMBKIN_CONCAT(r_, __LINE__).status()); \
  lhs = std::move(LAMBKIN_CONCAT(r_, __LINE__)).value()
// NOLINTEND(bugprone-macro-parentheses)

}  // namespace lambkin::lambdaapi
