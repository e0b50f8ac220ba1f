#include "iam/authenticator.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "iam/sigv4.h"

namespace lambkin::iam {

Status Identity::Allow(RequestContext& request, const ResourcePolicy* resource) const {
  if (!authorises()) return Status::Ok();
  request.Set("aws:requestedregion", {scope.region});
  return Authorize(*snapshot, *caller, request, resource);
}

Status Identity::Allow(std::string action, std::string resource) const {
  RequestContext request;
  request.action = std::move(action);
  request.resource = std::move(resource);
  return Allow(request);
}

nlohmann::json DevelopmentDeclaration(const std::string& account) {
  nlohmann::json admin = {
      {"Version", "2012-10-17"},
      {"Statement", {{{"Effect", "Allow"}, {"Action", "*"}, {"Resource", "*"}}}}};
  return {{"accounts",
           {{account,
             {{"users",
               {{kDevelopmentUser,
                 {{"policies", {{"AdministratorAccess", admin}}},
                  {"access_keys",
                   {{{"id", kDevelopmentAccessKey}, {"secret", kDevelopmentSecretKey}}}}}}}}}}}}};
}

namespace {

Status InvalidToken() {
  return Status(StatusCode::kUnrecognizedClient,
                "The security token included in the request is invalid.");
}

}  // namespace

Caller Authenticator::DevelopmentCaller(std::string account) {
  std::string arn = PrincipalArn(account, "user", kDevelopmentUser);
  return Caller{std::move(account), arn, arn};
}

Result<Identity> Authenticator::Authenticate(const server::HttpRequest& request,
                                             std::string_view service) const {
  if (mode_ == AuthMode::kNone) {
    std::string region = regions_->default_region();
    if (auto sig = ParseSigV4(request); sig.ok() && *sig) region = (*sig)->credential.region;
    if (regions_->Find(region) == nullptr) region = regions_->default_region();
    return Identity{&development_caller_,
                    functions::Scope{development_caller_.account, std::move(region)}, nullptr};
  }
  LAMBKIN_ASSIGN_OR_RETURN(std::optional<SigV4Request> sig, ParseSigV4(request));
  if (!sig) return Status(StatusCode::kMissingAuthenticationToken, "Missing Authentication Token");
  std::shared_ptr<const Snapshot> snapshot = directory_->snapshot();
  int64_t now_ms = clock_->NowMillis();
  const Caller* caller = nullptr;
  std::string_view secret;
  std::shared_ptr<const Caller> session;
  std::optional<OpenedSession> opened;  // holds the session's secret
  if (!sig->security_token) {
    const Snapshot::Key* key = snapshot->FindKey(sig->credential.access_key);
    if (key == nullptr) return InvalidToken();
    caller = &key->caller;
    secret = key->secret;
  } else {
    opened = snapshot->session_tokens().Open(*sig->security_token);
    if (!opened || opened->claims.access_key_id != sig->credential.access_key) {
      return InvalidToken();
    }
    if (now_ms >= opened->claims.expiration_ms) {
      return Status(StatusCode::kExpiredToken,
                    "The security token included in the request is expired");
    }
    const Snapshot::Role* role = snapshot->FindRole(opened->claims.role_arn);
    if (role == nullptr) return InvalidToken();
    session = std::make_shared<const Caller>(Caller{
        role->account, AssumedRoleArn(role->account, role->name, opened->claims.session_name),
        opened->claims.role_arn});
    caller = session.get();
    secret = opened->secret_access_key;
  }
  if (sig->credential.service != service) {
    return Status(StatusCode::kInvalidSignature,
                  fmt::format("Credential should be scoped to correct service: '{}'. ", service));
  }
  LAMBKIN_RETURN_IF_ERROR(VerifySigV4(request, *sig, secret, now_ms));
  if (regions_->Find(sig->credential.region) == nullptr) {
    return Status(StatusCode::kUnrecognizedClient,
                  fmt::format("The region '{}' is not served by this Lambkin deployment.",
                              sig->credential.region));
  }
  // A stored key's caller lives in the snapshot, which the identity keeps.
  return Identity{caller, functions::Scope{caller->account, std::move(sig->credential.region)},
                  std::move(snapshot), std::move(session),
                  opened ? std::move(opened->secret_access_key) : std::string()};
}

}  // namespace lambkin::iam
