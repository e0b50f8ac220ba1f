#include "iam/caller.h"

#include <array>
#include <optional>

#include <fmt/format.h>

namespace lambkin::iam {

namespace {

// "Credential=AKID/20240101/us-east-1/lambda/aws4_request" -> the region part.
std::optional<std::string> CredentialRegion(std::string_view credential) {
  std::array<std::string_view, 5> parts{};
  for (size_t k = 0; k < parts.size(); ++k) {
    size_t slash = credential.find('/');
    parts[k] = credential.substr(0, slash);
    if (slash == std::string_view::npos) {
      if (k != parts.size() - 1) return std::nullopt;
      break;
    }
    credential.remove_prefix(slash + 1);
  }
  if (parts[2].empty()) return std::nullopt;
  return std::string(parts[2]);
}

}  // namespace

Result<functions::Scope> CallerScope(const server::HttpRequest& request,
                                     const catalog::RegionSet& regions,
                                     const std::string& account) {
  std::optional<std::string> region;
  if (auto auth = request.Header("authorization")) {
    size_t at = auth->find("Credential=");
    if (at != std::string::npos) {
      std::string_view rest = std::string_view(*auth).substr(at + 11);
      rest = rest.substr(0, rest.find_first_of(", "));
      region = CredentialRegion(rest);
    }
    if (!region) {
      return Status(StatusCode::kUnrecognizedClient,
                    "The Authorization header has no valid SigV4 credential scope.");
    }
  } else if (auto cred = request.Query("X-Amz-Credential")) {
    region = CredentialRegion(*cred);
  }
  std::string name = region.value_or(regions.default_region());
  if (regions.Find(name) == nullptr) {
    return Status(StatusCode::kUnrecognizedClient,
                  fmt::format("The region '{}' is not served by this Lambkin deployment.", name));
  }
  return functions::Scope{account, name};
}

}  // namespace lambkin::iam
