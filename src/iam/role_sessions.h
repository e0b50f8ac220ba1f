// Role sessions: the short-lived credentials a function's execution environment receives for
// the function's role (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), as STS
// hands them to Lambda. They are stateless: nothing is stored per session.
//
// The session token carries the session's claims (format version, access key id, role ARN,
// session name, expiry) and an HMAC-SHA256 of them under a key derived from the server's
// secret, so only this server (or one sharing its store) can make a token it accepts. The
// secret access key is derived from the server secret and the token's claims, so the token and
// the key id alone do not give it away. The server secret is random, created once in the store
// (iam::Directory keeps it) and never leaves the server. Tokens are not encrypted: whoever holds
// one can read which role and session it is for, as with any credential it is to be kept secret.
//
// Revoking: a session stops working when it expires or when its role leaves the directory
// (iam::Authenticator checks both on every request); there is no per-session revocation.
// Immutable once made; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/crypto.h"

namespace lambkin::iam {

// Lambda's execution role credentials last about 12 hours; environments are recycled sooner.
constexpr int64_t kDefaultRoleSessionMs = 12LL * 3600 * 1000;
// As STS's AssumeRole: DurationSeconds from 900 to 43200.
constexpr int64_t kMinRoleSessionMs = 15LL * 60 * 1000;
constexpr int64_t kMaxRoleSessionMs = 12LL * 3600 * 1000;

// Temporary credentials of a role session, as the SDKs take them.
struct RoleCredentials {
  std::string access_key_id;      // "ASIA" + 16 upper-case base32 characters
  std::string secret_access_key;  // 40 characters of base64
  std::string session_token;      // base64
  int64_t expiration_ms = 0;      // epoch ms, real wall clock
};

// What a session token says.
struct SessionClaims {
  std::string access_key_id;
  std::string role_arn;      // arn:aws:iam::<account>:role/<name>
  std::string session_name;  // 1-64 characters of letters, digits and +=,.@_-
  int64_t expiration_ms = 0;
};

// A token this server sealed, opened.
struct OpenedSession {
  SessionClaims claims;
  std::string secret_access_key;
};

// A new random access key id of a session: "ASIA" + 16 upper-case base32 characters.
std::string NewSessionAccessKeyId();

// Seals and opens session tokens under one server secret.
class SessionTokens {
 public:
  // `server_secret`: at least 32 random bytes.
  explicit SessionTokens(std::string_view server_secret);

  // The credentials of a session with these claims.
  // REQUIRES: role_arn and session_name are at most 255 bytes each.
  RoleCredentials Seal(const SessionClaims& claims) const;
  // The claims of a token this secret sealed, with the session's secret access key; nullopt for
  // anything else (garbled, tampered, another server's, an unknown format version). Expiry is
  // the caller's to check.
  std::optional<OpenedSession> Open(std::string_view token) const;

 private:
  std::string SecretAccessKey(std::string_view claims_bytes) const;

  HmacSha256Key mac_key_;     // authenticates the token
  HmacSha256Key secret_key_;  // derives each session's secret access key
};

}  // namespace lambkin::iam
