#include "lambdaapi/validation.h"

#include <map>
#include <mutex>

#include <fmt/format.h>
#include <boost/regex.hpp>

namespace lambkin::lambdaapi {

namespace shapes {
const StringShape kFunctionName = {
    R"((arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?)",
    1, 140};
const StringShape kNamespacedFunctionName = {
    R"((arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:|(((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?))(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?)",
    1, 256};
const StringShape kQualifier = {R"(\$(LATEST(\.PUBLISHED)?)|[a-zA-Z0-9-_$]+)", 1, 128};
const StringShape kAlias = {R"((?!^[0-9]+$)([a-zA-Z0-9-_]+))", 1, 128};
const StringShape kAliasFunctionVersion = {R"((\$LATEST(\.PUBLISHED)?|[0-9]+))", 1, 1024};
const StringShape kAdditionalVersion = {R"([0-9]+)", 1, 1024};
const StringShape kRuntimeVersionArn = {
    R"(arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}::runtime:.+)",
    26, 2048};
const StringShape kRoleArn = {R"(arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+)", 0,
                              10000};
const StringShape kDestinationArn = {
    R"($|kafka://([^.]([a-zA-Z0-9\-_.]{0,248}))|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1})?:(\d{12})?:(.*))",
    0, 350};
const StringShape kHandler = {R"([^\s]+)", 0, 128};
const StringShape kDescription = {"", 0, 256};
const StringShape kEnvironmentVariableName = {R"([a-zA-Z]([a-zA-Z0-9_])+)", 0, SIZE_MAX};
const StringShape kSubnetId = {R"(subnet-[0-9a-z]*)", 0, 1024};
const StringShape kSecurityGroupId = {R"(sg-[0-9a-zA-Z]*)", 0, 1024};
const StringShape kKmsKeyArn = {R"((arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|())", 0, 10000};
const StringShape kLogGroup = {R"([\.\-_/#A-Za-z0-9]+)", 1, 512};
const StringShape kTaggableResource = {
    R"(arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:(function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|(capacity-provider|network-connector):[a-zA-Z0-9-_]{1,64}))",
    1, 10000};
const StringShape kLayerName = {
    R"((arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+)",
    1, 140};
// The model's pattern without its outer parentheses, as AWS's messages quote it.
const StringShape kLayerVersionArn = {
    R"((arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+))",
    1, 2048};
const StringShape kStatementId = {R"(([a-zA-Z0-9-_]+))", 1, 100};
const StringShape kLayerPrincipal = {R"(\d{12}|\*|arn:(aws[a-zA-Z-]*):iam::\d{12}:root)", 0, 10000};
const StringShape kOrganizationId = {R"(o-[a-z0-9]{10,32})", 0, 34};
const StringShape kLayerAction = {R"(lambda:GetLayerVersion)", 0, 22};
const StringShape kLicenseInfo = {"", 0, 512};
const StringShape kMasterRegion = {R"(ALL|(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1})",
                                   1, 50};
const StringShape kNamespacedStatementId = {R"(([a-zA-Z0-9-_.]+))", 1, 100};
const StringShape kAction = {R"((lambda:[*]|lambda:[a-zA-Z]+|[*]))", 0, 10000};
const StringShape kPrincipal = {R"([^\s]+)", 0, 2048};
const StringShape kSourceArn = {
    R"(arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1})?:(\d{12})?:(.*))",
    0, 10000};
const StringShape kSourceOwner = {R"(\d{12})", 0, 12};
const StringShape kEventSourceToken = {R"([a-zA-Z0-9._\-]+)", 0, 256};
const StringShape kPrincipalOrgId = {R"(o-[a-z0-9]{10,32})", 12, 34};
const StringShape kFunctionUrlFunctionName = {
    R"((arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]{1,64})(:((?!\d+$)[0-9a-zA-Z-_]+))?)",
    1, 140};
const StringShape kFunctionUrlQualifier = {R"(((?!^\d+$)^[0-9a-zA-Z-_]+$))", 1, 128};
}  // namespace shapes

namespace {

// The model's patterns are Java regexes, where a '-' right after a range inside a class
// ([0-9-_]) is a literal; Boost wants it escaped.
std::string ToBoostSyntax(std::string_view java) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < java.size(); ++i) {
    char c = java[i];
    if (c == '\\' && i + 1 < java.size()) {
      out += java.substr(i, 2);
      ++i;
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
    } else if (in_class && c == ']') {
      in_class = false;
    } else if (in_class && c == '-' && i >= 2 && java[i - 2] == '-' && i + 1 < java.size() &&
               java[i + 1] != ']') {
      out += "\\-";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

// Each shape's pattern, compiled once on first use: no table to keep in step with the shapes.
// std::map keeps references stable, and a compiled boost::regex is safe to share for matching.
const boost::regex& Compiled(std::string_view pattern) {
  static std::mutex mu;
  static std::map<std::string, boost::regex, std::less<>> compiled;
  std::lock_guard lock(mu);
  auto it = compiled.find(pattern);
  if (it == compiled.end()) {
    std::string p(pattern);
    it = compiled.emplace(p, boost::regex(ToBoostSyntax(p), boost::regex::perl)).first;
  }
  return it->second;
}

}  // namespace

bool MatchesPattern(const StringShape& shape, std::string_view value) {
  if (shape.pattern.empty()) return true;
  return boost::regex_match(value.begin(), value.end(), Compiled(shape.pattern));
}

void Validator::Fail(std::string_view value_text, std::string_view path,
                     std::string_view constraint) {
  errors_.push_back(fmt::format("Value {} at '{}' failed to satisfy constraint: {}", value_text,
                                path, constraint));
}

void Validator::String(std::string_view path, std::string_view value, const StringShape& shape) {
  std::string quoted = fmt::format("'{}'", value);
  if (value.size() > shape.max_length) {
    Fail(quoted, path,
         fmt::format("Member must have length less than or equal to {}", shape.max_length));
  }
  if (value.size() < shape.min_length) {
    Fail(quoted, path,
         fmt::format("Member must have length greater than or equal to {}", shape.min_length));
  }
  if (!shape.pattern.empty() && !value.empty() && !MatchesPattern(shape, value)) {
    Fail(quoted, path,
         fmt::format("Member must satisfy regular expression pattern: {}", shape.pattern));
  }
}

void Validator::Range(std::string_view path, int64_t value, int64_t min, int64_t max) {
  std::string quoted = fmt::format("'{}'", value);
  if (value < min) {
    Fail(quoted, path, fmt::format("Member must have value greater than or equal to {}", min));
  } else if (value > max) {
    Fail(quoted, path, fmt::format("Member must have value less than or equal to {}", max));
  }
}

void Validator::Enum(std::string_view path, std::string_view value,
                     const std::vector<std::string_view>& allowed) {
  for (auto a : allowed) {
    if (a == value) return;
  }
  Fail(fmt::format("'{}'", value), path,
       fmt::format("Member must satisfy enum value set: [{}]", fmt::join(allowed, ", ")));
}

void Validator::NotNull(std::string_view path) { Fail("null", path, "Member must not be null"); }

Status Validator::ToStatus() const {
  if (errors_.empty()) return Status::Ok();
  std::string head = errors_.size() == 1
                         ? std::string("1 validation error detected: ")
                         : fmt::format("{} validation errors detected: ", errors_.size());
  return {StatusCode::kValidation, head + fmt::format("{}", fmt::join(errors_, "; "))};
}

Status ValidationError(std::string_view value_text, std::string_view path,
                       std::string_view constraint) {
  Validator v;
  v.Fail(value_text, path, constraint);
  return v.ToStatus();
}

}  // namespace lambkin::lambdaapi
