#include "iam/authorizer.h"

#include <fmt/format.h>

#include <utility>
#include <vector>

namespace lambkin::iam {

namespace {

Status Denied(const Caller& caller, const RequestContext& request, std::string_view because) {
  return Status(StatusCode::kAccessDenied,
                fmt::format("User: {} is not authorized to perform: {} on resource: {} {}",
                            caller.arn, request.action, request.resource, because));
}

}  // namespace

Status Authorize(const Snapshot& snapshot, const Caller& caller, RequestContext& request) {
  request.Set("aws:principalarn", {caller.principal_arn});
  request.Set("aws:principalaccount", {caller.account});
  const Snapshot::Account* account = snapshot.FindAccount(caller.account);
  bool scps_apply = account != nullptr && account->in_organization && !account->management;

  // Each policy is evaluated once, also when attached at several levels (FullAWSAccess is at
  // every level); explicit denies are looked for first, in every policy.
  bool scp_levels_allow = true;
  if (scps_apply) {
    std::vector<std::pair<const Policy*, Decision>> decided;
    decided.reserve(8);
    auto evaluate = [&](const Policy* scp) {
      for (const auto& [p, d] : decided) {
        if (p == scp) return d;
      }
      Decision d = scp->Evaluate(request);
      decided.emplace_back(scp, d);
      return d;
    };
    for (const auto& level : account->scp_levels) {
      bool level_allows = false;
      for (const Policy* scp : level) {
        Decision d = evaluate(scp);
        if (d == Decision::kDeny) {
          return Denied(caller, request, "with an explicit deny in a service control policy");
        }
        level_allows = level_allows || d == Decision::kAllow;
      }
      scp_levels_allow = scp_levels_allow && level_allows;
    }
  }
  bool identity_allows = false;
  if (const std::vector<Policy>* policies = snapshot.IdentityPolicies(caller.principal_arn)) {
    for (const Policy& p : *policies) {
      Decision d = p.Evaluate(request);
      if (d == Decision::kDeny) {
        return Denied(caller, request, "with an explicit deny in an identity-based policy");
      }
      identity_allows = identity_allows || d == Decision::kAllow;
    }
  }
  if (!scp_levels_allow) {
    return Denied(
        caller, request,
        fmt::format("because no service control policy allows the {} action", request.action));
  }
  if (!identity_allows) {
    return Denied(
        caller, request,
        fmt::format("because no identity-based policy allows the {} action", request.action));
  }
  return Status::Ok();
}

}  // namespace lambkin::iam
