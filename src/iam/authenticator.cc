#include "iam/authenticator.h"

#include <fmt/format.h>

#include "iam/sigv4.h"

namespace lambkin::iam {

void Authenticator::AddKey(AccessKey key) {
  std::string id = key.id;
  keys_[id] = std::move(key);
}

Result<functions::Scope> Authenticator::Authenticate(const server::HttpRequest& request,
                                                     std::string_view service) const {
  LAMBKIN_ASSIGN_OR_RETURN(std::optional<SigV4Request> sig, ParseSigV4(request));
  if (!sig) return Status(StatusCode::kMissingAuthenticationToken, "Missing Authentication Token");
  auto key = keys_.find(sig->credential.access_key);
  if (key == keys_.end()) {
    return Status(StatusCode::kUnrecognizedClient,
                  "The security token included in the request is invalid.");
  }
  if (sig->credential.service != service) {
    return Status(StatusCode::kInvalidSignature,
                  fmt::format("Credential should be scoped to correct service: '{}'. ", service));
  }
  LAMBKIN_RETURN_IF_ERROR(VerifySigV4(request, *sig, key->second.secret, clock_->NowMillis()));
  if (regions_->Find(sig->credential.region) == nullptr) {
    return Status(StatusCode::kUnrecognizedClient,
                  fmt::format("The region '{}' is not served by this Lambkin deployment.",
                              sig->credential.region));
  }
  return functions::Scope{key->second.account, sig->credential.region};
}

}  // namespace lambkin::iam
