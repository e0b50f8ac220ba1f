// Authorize: whether a caller may make a request, in AWS's evaluation order
// (../shared/spec/iam-and-auth.md §4): an explicit Deny in any service control policy on the
// account's path or in the caller's identity policies wins; then, unless the account is the
// organisation's management account (or outside any organisation), every level of the path —
// root, each OU, the account — must have an SCP that allows; then an identity policy must
// allow. A refusal is kAccessDenied with AWS's message, naming the policy type that decided.
#pragma once

#include "common/status.h"
#include "iam/directory.h"
#include "iam/policy.h"

namespace lambkin::iam {

// `request` carries the action, the resource and the condition keys; Authorize adds
// aws:PrincipalArn and aws:PrincipalAccount from `caller`.
Status Authorize(const Snapshot& snapshot, const Caller& caller, RequestContext& request);

}  // namespace lambkin::iam
