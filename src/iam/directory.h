// Directory: who exists and what they may do — the organisation (root, OUs, accounts, service
// control policies), the users and roles of each account with their identity policies, and
// the access keys that sign requests. Kept in the store; requests read an immutable Snapshot
// that is rebuilt after every change, so authorising a request takes no lock and no query.
//
// Changes arrive as declarations (the declarative file loaded at start, `lambkin iam apply`),
// each applied in one store transaction: what a declaration names is created or replaced, a
// name declared `null` is removed, and what it does not mention stays as it is. Anything
// refused (a malformed policy among them) rolls the whole declaration back. See docs/iam.md.
//
// The directory also mints role sessions (role_sessions.h): temporary credentials of a role for
// a function's execution environment, sealed under a server secret the directory creates once
// in the store. Minting writes nothing.
#pragma once

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/status.h"
#include "iam/policy.h"
#include "iam/role_sessions.h"
#include "store/database.h"

namespace lambkin::iam {

// Its tables, as numbered migrations (store/database.h).
const store::Migrations& Schema();

// The size quotas IAM and Organizations apply (characters, whitespace not counted).
constexpr size_t kMaxUserPolicyChars = 2048;
constexpr size_t kMaxRolePolicyChars = 10240;
constexpr size_t kMaxScpChars = 5120;

// An authenticated principal.
struct Caller {
  std::string account;
  std::string arn;            // as messages name it: a user, or an assumed-role session
  std::string principal_arn;  // aws:PrincipalArn: the user or the role
};

class Snapshot {
 public:
  struct Key {
    std::string secret;
    Caller caller;
  };
  struct Role {
    std::string account;
    std::string name;
  };
  struct Account {
    bool management = false;
    bool in_organization = false;
    std::string organization_id;  // o-…, empty outside an organization (aws:PrincipalOrgID)
    // The SCPs attached at each level of the account's path: root, each OU, the account.
    std::vector<std::vector<const Policy*>> scp_levels;
  };

  const Key* FindKey(std::string_view id) const;
  // A role by its ARN, "arn:aws:iam::<account>:role/<name>" (nullptr: no such role).
  const Role* FindRole(std::string_view arn) const;
  const Account* FindAccount(std::string_view id) const;
  // The identity policies of a user or role (nullptr: none).
  const std::vector<Policy>* IdentityPolicies(std::string_view principal_arn) const;
  // Opens the role session tokens this server sealed.
  const SessionTokens& session_tokens() const { return *session_tokens_; }

 private:
  friend class Directory;
  std::map<std::string, Key, std::less<>> keys_;
  std::map<std::string, Role, std::less<>> roles_;
  std::map<std::string, Account, std::less<>> accounts_;
  std::map<std::string, std::vector<Policy>, std::less<>> identity_;
  std::deque<Policy> scps_;                              // stable addresses for scp_levels
  std::shared_ptr<const SessionTokens> session_tokens_;  // the same in every snapshot
};

// A new access key (the only time its secret is shown).
struct NewAccessKey {
  std::string id;
  std::string secret;
  Caller caller;
};

class Directory {
 public:
  explicit Directory(store::Database* db) : db_(db) {}

  // Reads the store into a new snapshot (at start, and after every change). The first load
  // also reads the server's role-session secret, creating it if the store has none.
  Status Load();
  std::shared_ptr<const Snapshot> snapshot() const;

  // Applies a declaration (format in docs/iam.md) in one transaction. kMalformedPolicyDocument,
  // kLimitExceeded or kInvalidParameterValue (naming the place) change nothing.
  Status Apply(const nlohmann::json& declaration);
  // Everything the directory holds, secrets left out, in the declaration's shape.
  Result<nlohmann::json> Describe() const;
  // A new random key for a user (`session` empty) or a session of a role.
  Result<NewAccessKey> CreateAccessKey(const std::string& account, const std::string& kind,
                                       const std::string& name, const std::string& session);
  Status DeleteAccessKey(const std::string& id);

  // Credentials of a session `session_name` of `role_arn` ("arn:aws:iam::<acct>:role/<name>"),
  // valid from `now_ms` (the real wall clock, which verification uses) for `duration_ms`
  // (kMinRoleSessionMs to kMaxRoleSessionMs; kDefaultRoleSessionMs for an execution
  // environment). Signing as them is the caller arn:aws:sts::<acct>:assumed-role/<name>/<session>
  // with the role's policies, until they expire or the role leaves the directory.
  // kResourceNotFound when the role is not in the directory, kInvalidParameterValue for a
  // session name that is not 1-64 characters of letters, digits and +=,.@_- or a duration out
  // of range. Thread-safe; writes nothing (a few microseconds). REQUIRES: Load() succeeded.
  Result<RoleCredentials> MintRoleSession(const std::string& role_arn,
                                          const std::string& session_name, int64_t now_ms,
                                          int64_t duration_ms) const;

  // A key for sealing another kind of stateless token (the registry's pull tokens): the
  // HMAC-SHA256 of `purpose` under the server secret role sessions are sealed with, so each use
  // has a key of its own and no token of one kind opens as another. REQUIRES: Load() succeeded.
  std::string DeriveServerKey(std::string_view purpose) const;

 private:
  store::Database* db_;
  std::mutex load_mu_;  // one rebuild at a time, published in order
  std::atomic<std::shared_ptr<const Snapshot>> snapshot_;  // read by every request, lock-free
  std::shared_ptr<const SessionTokens> session_tokens_;    // set by the first Load()
  std::string server_secret_;                              // set by the first Load()
};

// "arn:aws:iam::<account>:user/<name>" / ":role/<name>".
std::string PrincipalArn(std::string_view account, std::string_view kind, std::string_view name);
// A role session as AWS names it in messages:
// "arn:aws:sts::<account>:assumed-role/<role>/<session>".
std::string AssumedRoleArn(std::string_view account, std::string_view role,
                           std::string_view session);

}  // namespace lambkin::iam
