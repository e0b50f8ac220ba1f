#include "iam/policy.h"

#include <algorithm>
#include <array>
#include <cctype>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/ascii.h"

namespace lambkin::iam {

namespace {

using nlohmann::json;

Status Malformed(std::string message) {
  return Status(StatusCode::kMalformedPolicyDocument, std::move(message));
}

// The six components of an ARN (the last one keeps its colons); fewer than six: not an ARN.
bool SplitArn(std::string_view arn, std::array<std::string_view, 6>& parts) {
  for (size_t i = 0; i < 5; ++i) {
    size_t colon = arn.find(':');
    if (colon == std::string_view::npos) return false;
    parts[i] = arn.substr(0, colon);
    arn.remove_prefix(colon + 1);
  }
  parts[5] = arn;
  return true;
}

bool ArnMatch(std::string_view pattern, std::string_view arn) {
  std::array<std::string_view, 6> p;
  std::array<std::string_view, 6> a;
  if (!SplitArn(pattern, p) || !SplitArn(arn, a)) return false;
  for (size_t i = 0; i < 6; ++i) {
    if (!GlobMatch(p[i], a[i])) return false;
  }
  return true;
}

// One request value against one policy value, for a positive operator (the negated ones are
// its complement).
bool ValueMatches(ConditionOp op, const std::string& policy_value, const std::string& value) {
  switch (op) {
    case ConditionOp::kStringEquals:
    case ConditionOp::kStringNotEquals:
      return policy_value == value;
    case ConditionOp::kStringEqualsIgnoreCase:
    case ConditionOp::kStringNotEqualsIgnoreCase:
      return AsciiEqualIgnoreCase(policy_value, value);
    case ConditionOp::kStringLike:
    case ConditionOp::kStringNotLike:
      return GlobMatch(policy_value, value);
    case ConditionOp::kArnLike:
    case ConditionOp::kArnNotLike:
      return ArnMatch(policy_value, value);
    case ConditionOp::kBool:
      return AsciiEqualIgnoreCase(policy_value, value);
    case ConditionOp::kNull:
      return false;  // decided on presence alone
  }
  return false;
}

bool Negated(ConditionOp op) {
  return op == ConditionOp::kStringNotEquals || op == ConditionOp::kStringNotEqualsIgnoreCase ||
         op == ConditionOp::kStringNotLike || op == ConditionOp::kArnNotLike;
}

bool ConditionHolds(const Policy::Condition& c, const RequestContext& request) {
  const std::vector<std::string>* values = request.Find(c.key);
  bool present = values != nullptr && !values->empty();
  if (c.op == ConditionOp::kNull) {
    // "true": the key must be absent; "false": present.
    bool want_absent = AsciiEqualIgnoreCase(c.values.front(), "true");
    return want_absent != present;
  }
  if (!present) {
    if (c.set == Policy::Condition::Set::kForAllValues) return true;
    if (c.if_exists) return true;
    return c.set == Policy::Condition::Set::kSingle && Negated(c.op);
  }
  auto matches_any = [&](const std::string& value) {
    return std::any_of(c.values.begin(), c.values.end(),
                       [&](const std::string& p) { return ValueMatches(c.op, p, value); });
  };
  // For one value: positive operators need a policy value that matches, negated ones none.
  auto holds = [&](const std::string& value) { return matches_any(value) != Negated(c.op); };
  switch (c.set) {
    case Policy::Condition::Set::kForAllValues:
      return std::all_of(values->begin(), values->end(), holds);
    case Policy::Condition::Set::kForAnyValue:
      return std::any_of(values->begin(), values->end(), holds);
    case Policy::Condition::Set::kSingle:
      // A multi-valued key without a qualifier: negated operators hold when no value matches.
      if (Negated(c.op)) return std::none_of(values->begin(), values->end(), matches_any);
      return std::any_of(values->begin(), values->end(), matches_any);
  }
  return false;
}

bool IsAccountId(std::string_view s) {
  return s.size() == 12 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Whether the request's caller is one of a resource-based statement's principals.
bool PrincipalMatches(const Policy::Principals& p, const RequestContext& request) {
  if (p.anyone) return true;
  const std::vector<std::string>* account = request.Find("aws:principalaccount");
  const std::vector<std::string>* arn = request.Find("aws:principalarn");
  auto has = [](const std::vector<std::string>* values, const std::string& want) {
    return values != nullptr && std::find(values->begin(), values->end(), want) != values->end();
  };
  return std::any_of(p.accounts.begin(), p.accounts.end(),
                     [&](const std::string& a) { return has(account, a); }) ||
         std::any_of(p.arns.begin(), p.arns.end(),
                     [&](const std::string& a) { return has(arn, a); });
}

bool Applies(const Policy::Statement& s, const RequestContext& request) {
  if (s.principal && !PrincipalMatches(*s.principal, request)) return false;
  bool action = std::any_of(s.actions.begin(), s.actions.end(), [&](const std::string& p) {
    return GlobMatch(p, request.action, /*ignore_case=*/true);
  });
  if (action == s.not_action) return false;
  bool resource = std::any_of(s.resources.begin(), s.resources.end(),
                              [&](const std::string& p) { return GlobMatch(p, request.resource); });
  if (resource == s.not_resource) return false;
  return std::all_of(s.conditions.begin(), s.conditions.end(),
                     [&](const Policy::Condition& c) { return ConditionHolds(c, request); });
}

// A string or a non-empty array of strings.
Result<std::vector<std::string>> Strings(const json& value, std::string_view where) {
  std::vector<std::string> out;
  if (value.is_string()) {
    out.push_back(value.get<std::string>());
  } else if (value.is_array() && !value.empty()) {
    for (const json& v : value) {
      if (!v.is_string()) return Malformed(fmt::format("{} must be a string or strings", where));
      out.push_back(v.get<std::string>());
    }
  } else {
    return Malformed(fmt::format("{} must be a string or a non-empty array of strings", where));
  }
  return out;
}

struct OperatorName {
  std::string_view name;
  ConditionOp op;
};
constexpr OperatorName kOperators[] = {
    {"StringEquals", ConditionOp::kStringEquals},
    {"StringNotEquals", ConditionOp::kStringNotEquals},
    {"StringEqualsIgnoreCase", ConditionOp::kStringEqualsIgnoreCase},
    {"StringNotEqualsIgnoreCase", ConditionOp::kStringNotEqualsIgnoreCase},
    {"StringLike", ConditionOp::kStringLike},
    {"StringNotLike", ConditionOp::kStringNotLike},
    {"ArnEquals", ConditionOp::kArnLike},
    {"ArnLike", ConditionOp::kArnLike},
    {"ArnNotEquals", ConditionOp::kArnNotLike},
    {"ArnNotLike", ConditionOp::kArnNotLike},
    {"Bool", ConditionOp::kBool},
    {"Null", ConditionOp::kNull},
};

Status ParseCondition(const json& block, std::vector<Policy::Condition>& out) {
  if (!block.is_object() || block.empty()) {
    return Malformed("Condition must be an object of operators");
  }
  for (const auto& [raw_name, keys] : block.items()) {
    Policy::Condition c{};
    std::string_view name = raw_name;
    if (name.starts_with("ForAnyValue:")) {
      c.set = Policy::Condition::Set::kForAnyValue;
      name.remove_prefix(12);
    } else if (name.starts_with("ForAllValues:")) {
      c.set = Policy::Condition::Set::kForAllValues;
      name.remove_prefix(13);
    }
    if (name.ends_with("IfExists")) {
      c.if_exists = true;
      name.remove_suffix(8);
    }
    const auto* found = std::find_if(std::begin(kOperators), std::end(kOperators),
                                     [&](const OperatorName& o) { return o.name == name; });
    if (found == std::end(kOperators) ||
        (found->op == ConditionOp::kNull &&
         (c.if_exists || c.set != Policy::Condition::Set::kSingle))) {
      return Malformed(fmt::format("Invalid Condition type : {}", raw_name));
    }
    c.op = found->op;
    if (!keys.is_object() || keys.empty()) {
      return Malformed(fmt::format("Condition {} must map condition keys to values", raw_name));
    }
    for (const auto& [key, value] : keys.items()) {
      if (key.find(':') == std::string::npos || key.front() == ':') {
        return Malformed(
            fmt::format("Condition key {} must be prefaced by a vendor, e.g. aws:", key));
      }
      Policy::Condition k = c;
      k.key = AsciiLower(key);
      // Bool and Null values may be JSON booleans.
      if (value.is_boolean() && (c.op == ConditionOp::kBool || c.op == ConditionOp::kNull)) {
        k.values = {value.get<bool>() ? "true" : "false"};
      } else {
        LAMBKIN_ASSIGN_OR_RETURN(k.values,
                                 Strings(value, fmt::format("Condition {} {}", raw_name, key)));
      }
      if (c.op == ConditionOp::kNull || c.op == ConditionOp::kBool) {
        for (const std::string& v : k.values) {
          if (!AsciiEqualIgnoreCase(v, "true") && !AsciiEqualIgnoreCase(v, "false")) {
            return Malformed(
                fmt::format("Condition {} {} takes true or false, not \"{}\"", raw_name, key, v));
          }
        }
      }
      out.push_back(std::move(k));
    }
  }
  return Status::Ok();
}

Result<Policy::Principals> ParsePrincipal(const json& value) {
  Policy::Principals out;
  if (value == "*") {
    out.anyone = true;
    return out;
  }
  if (!value.is_object() || value.empty()) {
    return Malformed("Principal must be \"*\" or an object of AWS and Service principals");
  }
  for (const auto& [kind, names] : value.items()) {
    LAMBKIN_ASSIGN_OR_RETURN(std::vector<std::string> list,
                             Strings(names, fmt::format("Principal {}", kind)));
    for (std::string& name : list) {
      if (kind == "Service") {
        out.services.push_back(std::move(name));
      } else if (kind != "AWS") {
        return Malformed(fmt::format("Invalid principal type: {}", kind));
      } else if (name == "*") {
        out.anyone = true;
      } else if (IsAccountId(name)) {
        out.accounts.push_back(std::move(name));
      } else if (name.starts_with("arn:aws:iam::") && name.ends_with(":root") &&
                 IsAccountId(std::string_view(name).substr(13, 12)) && name.size() == 30) {
        out.accounts.push_back(name.substr(13, 12));
      } else if (name.starts_with("arn:")) {
        out.arns.push_back(std::move(name));
      } else {
        return Malformed(fmt::format("Invalid principal in policy: {}", name));
      }
    }
  }
  return out;
}

Result<Policy::Statement> ParseStatement(const json& s, size_t index, bool resource_based) {
  std::string where = fmt::format("Statement {}", index + 1);
  if (!s.is_object()) return Malformed(fmt::format("{} must be an object", where));
  Policy::Statement out;
  bool has_action = false;
  bool has_resource = false;
  for (const auto& [name, value] : s.items()) {
    if (name == "Sid") {
      if (!value.is_string()) return Malformed(fmt::format("{}: Sid must be a string", where));
      const std::string sid = value.get<std::string>();
      // Lambda's statement ids (AddPermission) may also hold '-' and '_'.
      if (!resource_based && !std::all_of(sid.begin(), sid.end(),
                                          [](unsigned char c) { return std::isalnum(c) != 0; })) {
        return Malformed(fmt::format("Statement IDs (SID) must be alpha-numeric: {}", sid));
      }
    } else if (name == "Effect") {
      if (value == "Allow") {
        out.deny = false;
      } else if (value == "Deny") {
        out.deny = true;
      } else {
        return Malformed(
            fmt::format("{}: Effect must be Allow or Deny, not {}", where, value.dump()));
      }
    } else if (name == "Action" || name == "NotAction") {
      if (has_action) {
        return Malformed(fmt::format("{} has both Action and NotAction", where));
      }
      has_action = true;
      out.not_action = name == "NotAction";
      LAMBKIN_ASSIGN_OR_RETURN(std::vector<std::string> actions,
                               Strings(value, fmt::format("{}: {}", where, name)));
      for (const std::string& a : actions) {
        size_t colon = a.find(':');
        if (a != "*" && (colon == std::string::npos || colon == 0 || colon + 1 == a.size())) {
          return Malformed(fmt::format(
              "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.: {}", a));
        }
        out.actions.push_back(AsciiLower(a));
      }
    } else if (name == "Resource" || name == "NotResource") {
      if (has_resource) {
        return Malformed(fmt::format("{} has both Resource and NotResource", where));
      }
      has_resource = true;
      out.not_resource = name == "NotResource";
      LAMBKIN_ASSIGN_OR_RETURN(out.resources, Strings(value, fmt::format("{}: {}", where, name)));
      for (const std::string& r : out.resources) {
        if (r != "*" && !r.starts_with("arn:")) {
          return Malformed(fmt::format("Resource {} must be in ARN format or \"*\".", r));
        }
      }
    } else if (name == "Condition") {
      LAMBKIN_RETURN_IF_ERROR(ParseCondition(value, out.conditions));
    } else if (name == "Principal" && resource_based) {
      LAMBKIN_ASSIGN_OR_RETURN(out.principal, ParsePrincipal(value));
    } else if (name == "Principal" || name == "NotPrincipal") {
      return Malformed("Policy document should not specify a principal.");
    } else {
      return Malformed(fmt::format("{} has an unknown field {}", where, name));
    }
  }
  if (!s.contains("Effect"))
    return Malformed(fmt::format("Missing required field Effect ({})", where));
  if (!has_action) return Malformed(fmt::format("Missing required field Action ({})", where));
  if (!has_resource) return Malformed(fmt::format("Missing required field Resource ({})", where));
  if (resource_based && !out.principal) {
    return Malformed(fmt::format("Missing required field Principal ({})", where));
  }
  return out;
}

}  // namespace

void RequestContext::Set(std::string_view key, std::vector<std::string> values) {
  std::string lower = AsciiLower(key);
  for (auto& [k, v] : keys) {
    if (k == lower) {
      v = std::move(values);
      return;
    }
  }
  keys.emplace_back(std::move(lower), std::move(values));
}

const std::vector<std::string>* RequestContext::Find(std::string_view lower_key) const {
  auto find = [lower_key](const Keys& in) -> const std::vector<std::string>* {
    for (const auto& [k, v] : in) {
      if (k == lower_key) return &v;
    }
    return nullptr;
  };
  if (const auto* v = find(keys)) return v;
  constexpr std::string_view kResourceTag = "aws:resourcetag/";
  if (!resource_tags || !lower_key.starts_with(kResourceTag)) return nullptr;
  if (!loaded_tags_) {
    loaded_tags_.emplace();
    for (const auto& [k, v] : resource_tags()) {
      loaded_tags_->emplace_back(AsciiLower(std::string(kResourceTag) + k),
                                 std::vector<std::string>{v});
    }
  }
  return find(*loaded_tags_);
}

bool GlobMatch(std::string_view pattern, std::string_view text, bool ignore_case) {
  if (pattern == "*") return true;  // the commonest pattern of all
  auto same = [ignore_case](char p, char t) {
    if (p == t) return true;
    return ignore_case && AsciiLower(p) == AsciiLower(t);
  };
  // Greedy with one backtrack point: linear in practice, never exponential.
  size_t p = 0;
  size_t t = 0;
  size_t star = std::string_view::npos;
  size_t resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && (pattern[p] == '?' || same(pattern[p], text[t]))) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

Result<Policy> Policy::Parse(std::string_view document, size_t max_chars) {
  return ParseDocument(document, max_chars, /*resource_based=*/false);
}

Result<Policy> Policy::ParseResourcePolicy(std::string_view document, size_t max_chars) {
  return ParseDocument(document, max_chars, /*resource_based=*/true);
}

Result<Policy> Policy::ParseDocument(std::string_view document, size_t max_chars,
                                     bool resource_based) {
  size_t chars = std::count_if(document.begin(), document.end(),
                               [](unsigned char c) { return std::isspace(c) == 0; });
  if (chars > max_chars) {
    return Status(StatusCode::kLimitExceeded,
                  fmt::format("Cannot exceed quota for PolicySize: {}", max_chars));
  }
  json doc = json::parse(document, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Malformed("Syntax errors in policy.");
  if (!doc.is_object()) return Malformed("The policy document must be a JSON object.");
  Policy policy;
  for (const auto& [name, value] : doc.items()) {
    if (name == "Version") {
      if (value != "2012-10-17" && value != "2008-10-17") {
        return Malformed(
            fmt::format("The policy version {} is not supported: use 2012-10-17.", value.dump()));
      }
    } else if (name == "Id") {
      if (!value.is_string()) return Malformed("Id must be a string");
    } else if (name != "Statement") {
      return Malformed(fmt::format("The policy has an unknown field {}", name));
    }
  }
  auto statements = doc.find("Statement");
  if (statements == doc.end()) return Malformed("Missing required field Statement");
  if (statements->is_object()) {
    LAMBKIN_ASSIGN_OR_RETURN(Statement s, ParseStatement(*statements, 0, resource_based));
    policy.statements_.push_back(std::move(s));
  } else if (statements->is_array() && !statements->empty()) {
    for (size_t i = 0; i < statements->size(); ++i) {
      LAMBKIN_ASSIGN_OR_RETURN(Statement s, ParseStatement((*statements)[i], i, resource_based));
      policy.statements_.push_back(std::move(s));
    }
  } else {
    return Malformed("Statement must be an object or a non-empty array of objects");
  }
  return policy;
}

Decision Policy::Evaluate(const RequestContext& request) const {
  Decision decision = Decision::kNotApplicable;
  for (const Statement& s : statements_) {
    if (!Applies(s, request)) continue;
    if (s.deny) return Decision::kDeny;
    decision = Decision::kAllow;
  }
  return decision;
}

}  // namespace lambkin::iam
