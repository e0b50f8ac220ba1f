#include "lambdaapi/names.h"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

namespace lambkin::lambdaapi {

namespace {

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t end = s.find(sep, start);
    out.push_back(s.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

bool IsAccountId(std::string_view s) {
  return s.size() == 12 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Where the grammar puts a function name's region and account: full ARN, account:function:name
// (or account:name), region:account:function:name (or region:account:name); the index of the
// part after them.
struct Located {
  std::optional<std::string_view> region, account;
  size_t next = 0;
};
Located Locate(const std::vector<std::string_view>& parts) {
  Located l;
  if (parts.size() >= 6 && parts[0] == "arn" && parts[2] == "lambda") {
    l = {parts[3], parts[4], 5};
  } else if ((parts.size() >= 3 && parts[1] == "function" && IsAccountId(parts[0])) ||
             (parts.size() == 2 && IsAccountId(parts[0]))) {
    l = {std::nullopt, parts[0], 1};
  } else if ((parts.size() >= 4 && parts[2] == "function" && IsAccountId(parts[1])) ||
             (parts.size() == 3 && IsAccountId(parts[1]) && !IsAccountId(parts[0]))) {
    l = {parts[0], parts[1], 2};
  }
  return l;
}

}  // namespace

std::optional<std::string> AccountOf(std::string_view raw) {
  Located l = Locate(Split(raw, ':'));
  if (!l.account) return std::nullopt;
  return std::string(*l.account);
}

Result<FunctionRef> ResolveFunction(std::string_view raw, const StringShape& shape,
                                    const functions::Scope& scope,
                                    const std::optional<std::string>& query_qualifier) {
  Validator v;
  v.String("functionName", raw, shape);
  if (query_qualifier) v.String("qualifier", *query_qualifier, shapes::kQualifier);
  LAMBKIN_RETURN_IF_ERROR(v.ToStatus());

  // The pattern has matched; find the parts where the grammar puts them. A name may itself
  // look like the start of an ARN ("arn:prod" is function "arn", qualifier "prod").
  std::vector<std::string_view> parts = Split(raw, ':');
  auto [region, account, i] = Locate(parts);
  if (i < parts.size() && parts[i] == "function" && i + 1 < parts.size()) ++i;
  if (i >= parts.size() || parts.size() - i > 2) {
    return ValidationError(
        fmt::format("'{}'", raw), "functionName",
        fmt::format("Member must satisfy regular expression pattern: {}", shape.pattern));
  }
  std::string_view name = parts[i];
  std::string_view qualifier = i + 1 < parts.size() ? parts[i + 1] : std::string_view();

  // Operations that read a function (Get/Delete/Invoke, the namespaced shape) answer a longer
  // name with 404 as AWS does; the others refuse it.
  if (name.size() > 64 && &shape == &shapes::kFunctionName) {
    return InvalidParameter(fmt::format(
        "1 validation error detected: Value '{}' at 'functionName' failed to satisfy constraint: "
        "Member must have length less than or equal to 64",
        raw));
  }
  if (region && *region != scope.region) {
    return NotFound(fmt::format("Functions from '{}' are not reachable in this region ('{}')",
                                *region, scope.region));
  }
  if (account && *account != scope.account) {
    return Status(StatusCode::kAccessDenied, "");
  }
  FunctionRef ref{std::string(name), std::string(qualifier)};
  if (query_qualifier) {
    if (!qualifier.empty() && qualifier != *query_qualifier) {
      return InvalidParameter(
          "The derived qualifier from the function name does not match the specified qualifier.");
    }
    ref.qualifier = *query_qualifier;
  }
  return ref;
}

}  // namespace lambkin::lambdaapi
