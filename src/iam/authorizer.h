// Authorize: whether a caller may make a request, in AWS's evaluation order
// (../shared/spec/iam-and-auth.md §4): an explicit Deny in any service control policy on the
// account's path or in the caller's identity policies wins; then, unless the account is the
// organisation's management account (or outside any organisation), every level of the path —
// root, each OU, the account — must have an SCP that allows; then an identity policy must
// allow. A refusal is kAccessDenied with AWS's message, naming the policy type that decided.
//
// With the resource's own policy (a Lambda function policy), as AWS combines them: a caller of
// the resource's account is allowed when an identity policy OR the resource policy allows; a
// caller of another account needs both; an explicit Deny in the resource policy denies either.
// The caller's SCPs still bound what a resource policy grants. An anonymous caller (a function
// URL with AuthType NONE) is allowed only by the resource policy, and no SCP applies to it.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "common/status.h"
#include "iam/directory.h"
#include "iam/policy.h"

namespace lambkin::iam {

// The policy attached to the resource a request names.
struct ResourcePolicy {
  std::string account;   // the resource's owner
  std::string resource;  // the ARN the policy is attached to (its statements' Resource)
  // Loaded only when the decision needs it: a same-account caller an identity policy allows
  // never reads it (function policies hold only Allow statements). nullopt: no policy.
  std::function<Result<std::optional<Policy>>()> load;
};

// `request` carries the action, the resource and the condition keys; Authorize adds
// aws:PrincipalArn and aws:PrincipalAccount from `caller`. `resource` (optional): the policy of
// the resource the request names.
Status Authorize(const Snapshot& snapshot, const Caller& caller, RequestContext& request,
                 const ResourcePolicy* resource = nullptr);

// An unauthenticated request: allowed only when the resource policy allows anyone (`*`).
Status AuthorizeAnonymous(RequestContext& request, const ResourcePolicy& resource);

}  // namespace lambkin::iam
