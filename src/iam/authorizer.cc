#include "iam/authorizer.h"

#include <fmt/format.h>

#include <utility>
#include <vector>

namespace lambkin::iam {

namespace {

Status Denied(std::string_view who, const RequestContext& request, std::string_view because) {
  return Status(StatusCode::kAccessDenied,
                fmt::format("User: {} is not authorized to perform: {} on resource: {} {}", who,
                            request.action, request.resource, because));
}

Status NoPolicyAllows(std::string_view who, const RequestContext& request,
                      std::string_view policy_type) {
  return Denied(
      who, request,
      fmt::format("because no {} policy allows the {} action", policy_type, request.action));
}

// The resource policy's decision, its statements matched against the ARN it is attached to.
Result<Decision> EvaluateResourcePolicy(const ResourcePolicy& resource, RequestContext& request) {
  LAMBKIN_ASSIGN_OR_RETURN(std::optional<Policy> policy, resource.load());
  if (!policy) return Decision::kNotApplicable;
  std::string asked = std::exchange(request.resource, resource.resource);
  Decision d = policy->Evaluate(request);
  request.resource = std::move(asked);
  return d;
}

}  // namespace

Status Authorize(const Snapshot& snapshot, const Caller& caller, RequestContext& request,
                 const ResourcePolicy* resource) {
  request.Set("aws:principalarn", {caller.principal_arn});
  request.Set("aws:principalaccount", {caller.account});
  const Snapshot::Account* account = snapshot.FindAccount(caller.account);
  if (account != nullptr && !account->organization_id.empty()) {
    request.Set("aws:principalorgid", {account->organization_id});
  }
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
          return Denied(caller.arn, request, "with an explicit deny in a service control policy");
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
        return Denied(caller.arn, request, "with an explicit deny in an identity-based policy");
      }
      identity_allows = identity_allows || d == Decision::kAllow;
    }
  }
  if (!scp_levels_allow) return NoPolicyAllows(caller.arn, request, "service control");
  if (resource == nullptr) {
    if (!identity_allows) return NoPolicyAllows(caller.arn, request, "identity-based");
    return Status::Ok();
  }
  bool cross_account = resource->account != caller.account;
  if (!cross_account && identity_allows) return Status::Ok();
  if (cross_account && !identity_allows) {
    return NoPolicyAllows(caller.arn, request, "identity-based");
  }
  LAMBKIN_ASSIGN_OR_RETURN(Decision d, EvaluateResourcePolicy(*resource, request));
  if (d == Decision::kDeny) {
    return Denied(caller.arn, request, "with an explicit deny in a resource-based policy");
  }
  if (d == Decision::kAllow) return Status::Ok();
  return NoPolicyAllows(caller.arn, request, cross_account ? "resource-based" : "identity-based");
}

Status AuthorizeAnonymous(RequestContext& request, const ResourcePolicy& resource) {
  LAMBKIN_ASSIGN_OR_RETURN(Decision d, EvaluateResourcePolicy(resource, request));
  if (d == Decision::kAllow) return Status::Ok();
  return Denied("anonymous", request,
                d == Decision::kDeny ? "with an explicit deny in a resource-based policy"
                                     : "because no resource-based policy allows the action");
}

}  // namespace lambkin::iam
