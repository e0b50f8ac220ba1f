#include "iam/role_sessions.h"

#include "common/sealed_token.h"

namespace lambkin::iam {

namespace {

// The token's format: version 1 is
//   version (1 byte) | expiration_ms (8 bytes, big-endian)
//   | len + access key id | len + role ARN | len + session name   (each len one byte)
//   | HMAC-SHA256 of everything before (32 bytes)
// in standard base64.
constexpr unsigned char kVersion = 1;
// Far more than a version-1 token can take (1 + 8 + 3 * 256 + 32 bytes, base64).
constexpr size_t kMaxTokenChars = 1200;

// Keys for the two uses of the server secret, so neither can stand in for the other.
constexpr std::string_view kMacKeyLabel = "lambkin/role-session/token-mac/v1";
constexpr std::string_view kSecretKeyLabel = "lambkin/role-session/secret-access-key/v1";

std::string ClaimsBytes(const SessionClaims& claims) {
  TokenWriter out;
  out.U8(kVersion);
  out.U64(static_cast<uint64_t>(claims.expiration_ms));
  out.Field(claims.access_key_id);
  out.Field(claims.role_arn);
  out.Field(claims.session_name);
  return out.bytes();
}

std::optional<SessionClaims> ParseClaims(std::string_view in) {
  TokenReader r(in);
  uint8_t version = 0;
  uint64_t expiration = 0;
  SessionClaims claims;
  if (!r.U8(&version) || version != kVersion || !r.U64(&expiration) ||
      !r.Field(&claims.access_key_id) || !r.Field(&claims.role_arn) ||
      !r.Field(&claims.session_name) || !r.AtEnd()) {
    return std::nullopt;
  }
  claims.expiration_ms = static_cast<int64_t>(expiration);
  return claims;
}

}  // namespace

std::string NewSessionAccessKeyId() {
  static constexpr char kBase32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string random = RandomBytes(10);  // 80 bits: 16 characters of 5 bits
  std::string id = "ASIA";
  uint32_t bits = 0;
  int held = 0;
  for (char c : random) {
    bits = (bits << 8) | static_cast<unsigned char>(c);
    held += 8;
    while (held >= 5) {
      held -= 5;
      id += kBase32[(bits >> held) & 31];
    }
  }
  return id;
}

SessionTokens::SessionTokens(std::string_view server_secret)
    : mac_key_(HmacSha256(server_secret, kMacKeyLabel)),
      secret_key_(HmacSha256(server_secret, kSecretKeyLabel)) {}

std::string SessionTokens::SecretAccessKey(std::string_view claims_bytes) const {
  // 30 bytes are 40 base64 characters, the length of an AWS secret access key.
  return Base64Encode(std::string_view(secret_key_.Sign(claims_bytes)).substr(0, 30));
}

RoleCredentials SessionTokens::Seal(const SessionClaims& claims) const {
  std::string body = ClaimsBytes(claims);
  RoleCredentials out;
  out.access_key_id = claims.access_key_id;
  out.secret_access_key = SecretAccessKey(body);
  out.session_token = SealToken(mac_key_, body);
  out.expiration_ms = claims.expiration_ms;
  return out;
}

std::optional<OpenedSession> SessionTokens::Open(std::string_view token) const {
  std::optional<std::string> body = OpenToken(mac_key_, token, kMaxTokenChars);
  if (!body) return std::nullopt;
  std::optional<SessionClaims> claims = ParseClaims(*body);
  if (!claims) return std::nullopt;
  return OpenedSession{std::move(*claims), SecretAccessKey(*body)};
}

}  // namespace lambkin::iam
