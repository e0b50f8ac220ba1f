// Function names as the Lambda API accepts them: a bare name (my-function), a partial ARN
// (123456789012:function:my-function) or a full ARN (arn:aws:lambda:us-west-2:123456789012:
// function:my-function), each optionally suffixed with ":<qualifier>".
//
// ResolveFunction() validates the name against the operation's model shape, splits it, checks
// the ARN's region and account against the caller's scope, and reconciles a qualifier in the
// name with the ?Qualifier= of the request, each failure with AWS's error.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "functions/model.h"
#include "lambdaapi/validation.h"

namespace lambkin::lambdaapi {

struct FunctionRef {
  std::string name;
  std::string qualifier;  // empty when neither the name nor the request gave one
};

// The account a full or partial function ARN names (nullopt for a bare name).
std::optional<std::string> AccountOf(std::string_view raw);

// `shape` is shapes::kFunctionName or shapes::kNamespacedFunctionName.
// `query_qualifier` is the decoded ?Qualifier=, validated here when present.
Result<FunctionRef> ResolveFunction(std::string_view raw, const StringShape& shape,
                                    const functions::Scope& scope,
                                    const std::optional<std::string>& query_qualifier);

}  // namespace lambkin::lambdaapi
