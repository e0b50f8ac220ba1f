// Authenticator: who is calling. Every Lambda, CloudWatch Logs and CloudWatch request must carry
// a valid SigV4 signature by a known access key, made for that service, in a region served here,
// and no more than 15 minutes from the real wall clock (presigned: before it expires). The
// caller's scope is the key's account and the credential's region. Keys are added at start
// (the development key in development mode). Thread-safe after setup.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "catalog/regions.h"
#include "common/clock.h"
#include "common/status.h"
#include "functions/model.h"
#include "server/request.h"

namespace lambkin::iam {

// The README's development credentials.
constexpr char kDevelopmentAccessKey[] = "AKIALAMBKINDEV000001";
constexpr char kDevelopmentSecretKey[] = "lambkin-development-secret-key";

struct AccessKey {
  std::string id;
  std::string secret;
  std::string account;
  std::string principal_arn;
};

class Authenticator {
 public:
  // `wall_clock` is the real time: clients sign with it, also when the server's clock is
  // simulated.
  Authenticator(const catalog::RegionSet* regions, const Clock* wall_clock)
      : regions_(regions), clock_(wall_clock) {}
  void AddKey(AccessKey key);

  // kMissingAuthenticationToken without credentials, kUnrecognizedClient for an unknown key or
  // a region not served, kIncompleteSignature / kInvalidSignature for a bad signature.
  Result<functions::Scope> Authenticate(const server::HttpRequest& request,
                                        std::string_view service) const;

 private:
  const catalog::RegionSet* regions_;
  const Clock* clock_;
  std::map<std::string, AccessKey, std::less<>> keys_;
};

}  // namespace lambkin::iam
