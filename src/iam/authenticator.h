// Authenticator: who is calling. Every Lambda, CloudWatch Logs and CloudWatch request must carry
// a valid SigV4 signature by an access key of the directory, made for that service, in a region
// served here, and no more than 15 minutes from the real wall clock (presigned: before it
// expires). The caller's scope is the key's account and the credential's region; what the
// caller may then do is the Identity's to answer (iam::Authorize).
//
// A request with X-Amz-Security-Token (header, signed; or query, presigned) is signed by a role
// session's temporary credentials (Directory::MintRoleSession): the token must be one this
// server sealed, for the credential's access key, not expired by the real wall clock, of a role
// still in the directory; the signature is checked with the secret derived from the token. The
// caller is then arn:aws:sts::<account>:assumed-role/<role>/<session>, aws:PrincipalArn the role.
//
// AuthMode::kNone is for local trials and the baseline of the auth benchmark only: nothing is
// verified, every request is the development user and every action is allowed.
// Thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "catalog/regions.h"
#include "common/clock.h"
#include "common/status.h"
#include "functions/model.h"
#include "iam/authorizer.h"
#include "iam/directory.h"
#include "iam/policy.h"
#include "server/request.h"

namespace lambkin::iam {

// The README's development credentials, an administrator of the configured account.
constexpr char kDevelopmentAccessKey[] = "AKIALAMBKINDEV000001";
constexpr char kDevelopmentSecretKey[] = "lambkin-development-secret-key";
constexpr char kDevelopmentUser[] = "lambkin-developer";

enum class AuthMode { kSigV4, kNone };

// An authenticated request: who, in which account and region, under which directory snapshot.
struct Identity {
  // In `snapshot` (a stored key's), in `session` (a role session's), or the Authenticator's
  // development caller.
  const Caller* caller;
  functions::Scope scope;
  std::shared_ptr<const Snapshot> snapshot;  // null in AuthMode::kNone
  std::shared_ptr<const Caller> session;     // a role session's caller; null otherwise
  std::string session_secret;  // a role session's secret key (presigning as the caller)

  // False in AuthMode::kNone, where Allow allows everything.
  bool authorises() const { return snapshot != nullptr; }
  // OK, or kAccessDenied with AWS's message. Adds aws:RequestedRegion to `request`. With
  // `resource`, the resource's own policy takes part as AWS combines them (authorizer.h).
  Status Allow(RequestContext& request, const ResourcePolicy* resource = nullptr) const;
  Status Allow(std::string action, std::string resource) const;
};

// The declaration of the development user (with its key and an administrator policy) in
// `account`, applied at start in development mode.
nlohmann::json DevelopmentDeclaration(const std::string& account);

class Authenticator {
 public:
  // `wall_clock` is the real time: clients sign with it, also when the server's clock is
  // simulated. `development_account` is the caller of every request in AuthMode::kNone.
  Authenticator(const catalog::RegionSet* regions, const Clock* wall_clock,
                const Directory* directory, AuthMode mode, std::string development_account)
      : regions_(regions),
        clock_(wall_clock),
        directory_(directory),
        mode_(mode),
        development_caller_(DevelopmentCaller(std::move(development_account))) {}

  // kMissingAuthenticationToken without credentials, kUnrecognizedClient for an unknown key or
  // a region not served, kIncompleteSignature / kInvalidSignature for a bad signature. With a
  // session token: kUnrecognizedClient when it is garbled, forged, for another key or of a role
  // no longer in the directory; kExpiredToken once it has expired.
  Result<Identity> Authenticate(const server::HttpRequest& request, std::string_view service) const;

 private:
  static Caller DevelopmentCaller(std::string account);

  const catalog::RegionSet* regions_;
  const Clock* clock_;
  const Directory* directory_;
  AuthMode mode_;
  Caller development_caller_;  // every request's in AuthMode::kNone
};

}  // namespace lambkin::iam
