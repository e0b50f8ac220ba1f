// Policy: the IAM policy language subset Lambkin evaluates, for identity policies and service
// control policies (see ../shared/spec/iam-and-auth.md §3).
//
// A document is `{"Version": "2012-10-17", "Statement": [...]}` (Statement one object or an
// array). A statement has Sid?, Effect (Allow|Deny), exactly one of Action/NotAction, exactly
// one of Resource/NotResource and Condition?; no Principal in identity policies and SCPs, and
// exactly one Principal in a resource-based policy (ParseResourcePolicy: `"*"`, or
// `{"AWS": <account id | arn:aws:iam::<account>:root | principal ARN | "*">, "Service": <host>}`,
// each a string or strings). A resource-based statement applies only to the principals it names,
// read from the request's aws:PrincipalArn and aws:PrincipalAccount (an anonymous request has
// neither and matches only `*`); service principals never call Lambkin, so they match nothing.
// Actions match case-insensitively with `*`/`?` anywhere; resources match case-sensitively over the
// whole ARN (`*` may cross
// `:`). Conditions: String{Equals,NotEquals,EqualsIgnoreCase,NotEqualsIgnoreCase,Like,NotLike},
// Arn{Equals,Like,NotEquals,NotLike} (each of the six ARN components matched on its own), Bool,
// Null, each (but Null) with an IfExists suffix and a ForAnyValue:/ForAllValues: qualifier.
// Operators and keys AND, values of one key OR; a missing key is false for positive operators
// and true for negated ones. Parsing refuses anything else with a message that names the place.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace lambkin::iam {

// What a request asks, as policies see it. Condition key names are kept lower-case
// ("aws:principalarn", "aws:resourcetag/team"); a key may carry several values (aws:TagKeys).
struct RequestContext {
  using Keys = std::vector<std::pair<std::string, std::vector<std::string>>>;
  std::string action;          // "lambda:PutRuntimeManagementConfig"
  std::string resource = "*";  // an ARN, or "*" for operations on no resource
  Keys keys;
  // The resource's tags (aws:ResourceTag/<key>), read the first time a condition asks for one:
  // a request whose applicable statements never look at tags never reads them.
  std::function<std::map<std::string, std::string>()> resource_tags;

  // Room for the keys a request usually carries (principal, account, region, function ARN).
  RequestContext() { keys.reserve(8); }

  // Sets a condition key; its name is stored lower-case, as conditions match names.
  void Set(std::string_view key, std::vector<std::string> values);
  // Nullptr when the request has no such key.
  const std::vector<std::string>* Find(std::string_view lower_key) const;

 private:
  mutable std::optional<Keys> loaded_tags_;  // resource_tags(), once asked for
};

enum class Decision { kNotApplicable, kAllow, kDeny };

// True when `text` matches `pattern` with `*` (any run, also empty) and `?` (one character).
bool GlobMatch(std::string_view pattern, std::string_view text, bool ignore_case = false);

class Policy {
 public:
  // kMalformedPolicyDocument with the reason; kLimitExceeded beyond `max_chars` (the policy
  // type's size quota, whitespace not counted as IAM counts it).
  static Result<Policy> Parse(std::string_view document, size_t max_chars);
  // A resource-based policy (a function policy): every statement names its Principal.
  static Result<Policy> ParseResourcePolicy(std::string_view document, size_t max_chars);

  // kDeny when a Deny statement applies, else kAllow when an Allow statement does.
  Decision Evaluate(const RequestContext& request) const;

  struct Condition;
  struct Principals;
  struct Statement;

 private:
  static Result<Policy> ParseDocument(std::string_view document, size_t max_chars,
                                      bool resource_based);
  std::vector<Statement> statements_;
};

enum class ConditionOp {
  kStringEquals,
  kStringNotEquals,
  kStringEqualsIgnoreCase,
  kStringNotEqualsIgnoreCase,
  kStringLike,
  kStringNotLike,
  kArnLike,     // ArnEquals behaves the same
  kArnNotLike,  // ArnNotEquals behaves the same
  kBool,
  kNull,
};

struct Policy::Condition {
  ConditionOp op;
  bool if_exists = false;
  enum class Set { kSingle, kForAnyValue, kForAllValues } set = Set::kSingle;
  std::string key;  // lower case
  std::vector<std::string> values;
};

// Whom a resource-based statement is for.
struct Policy::Principals {
  bool anyone = false;                // "*" or {"AWS": "*"}
  std::vector<std::string> accounts;  // account ids (from an id or an account's :root ARN)
  std::vector<std::string> arns;      // users and roles (a role also matches its sessions)
  std::vector<std::string> services;  // "s3.amazonaws.com": never a caller of Lambkin
};

struct Policy::Statement {
  std::optional<Principals> principal;  // resource-based policies only
  bool deny = false;
  bool not_action = false;
  std::vector<std::string> actions;  // lower case patterns
  bool not_resource = false;
  std::vector<std::string> resources;
  std::vector<Condition> conditions;
};

}  // namespace lambkin::iam
