#include "iam/role_sessions.h"

#include <cassert>

namespace lambkin::iam {

namespace {

// The token's format: version 1 is
//   version (1 byte) | expiration_ms (8 bytes, big-endian)
//   | len + access key id | len + role ARN | len + session name   (each len one byte)
//   | HMAC-SHA256 of everything before (32 bytes)
// in standard base64.
constexpr unsigned char kVersion = 1;
constexpr size_t kMacSize = 32;
// Far more than a version-1 token can take (1 + 8 + 3 * 256 + 32 bytes, base64).
constexpr size_t kMaxTokenChars = 1200;

// Keys for the two uses of the server secret, so neither can stand in for the other.
constexpr std::string_view kMacKeyLabel = "lambkin/role-session/token-mac/v1";
constexpr std::string_view kSecretKeyLabel = "lambkin/role-session/secret-access-key/v1";

void AppendField(std::string& out, std::string_view field) {
  assert(field.size() <= 255);
  out += static_cast<char>(field.size());
  out.append(field);
}

// Reads a one-byte length and that many bytes from `in` at `at`.
bool ReadField(std::string_view in, size_t& at, std::string& field) {
  if (at >= in.size()) return false;
  size_t n = static_cast<unsigned char>(in[at++]);
  if (in.size() - at < n) return false;
  field.assign(in.substr(at, n));
  at += n;
  return true;
}

std::string ClaimsBytes(const SessionClaims& claims) {
  std::string out;
  out.reserve(16 + claims.access_key_id.size() + claims.role_arn.size() +
              claims.session_name.size());
  out += static_cast<char>(kVersion);
  auto expiration = static_cast<uint64_t>(claims.expiration_ms);
  for (int shift = 56; shift >= 0; shift -= 8) {
    out += static_cast<char>((expiration >> shift) & 0xff);
  }
  AppendField(out, claims.access_key_id);
  AppendField(out, claims.role_arn);
  AppendField(out, claims.session_name);
  return out;
}

std::optional<SessionClaims> ParseClaims(std::string_view in) {
  if (in.size() < 9 || static_cast<unsigned char>(in[0]) != kVersion) return std::nullopt;
  uint64_t expiration = 0;
  for (size_t i = 1; i < 9; ++i) expiration = (expiration << 8) | static_cast<unsigned char>(in[i]);
  SessionClaims claims;
  claims.expiration_ms = static_cast<int64_t>(expiration);
  size_t at = 9;
  if (!ReadField(in, at, claims.access_key_id) || !ReadField(in, at, claims.role_arn) ||
      !ReadField(in, at, claims.session_name) || at != in.size()) {
    return std::nullopt;
  }
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
  out.session_token = Base64Encode(body + mac_key_.Sign(body));
  out.expiration_ms = claims.expiration_ms;
  return out;
}

std::optional<OpenedSession> SessionTokens::Open(std::string_view token) const {
  if (token.size() > kMaxTokenChars) return std::nullopt;
  std::optional<std::string> bytes = Base64Decode(token);
  if (!bytes || bytes->size() <= kMacSize) return std::nullopt;
  std::string_view body = std::string_view(*bytes).substr(0, bytes->size() - kMacSize);
  std::string_view mac = std::string_view(*bytes).substr(bytes->size() - kMacSize);
  if (!ConstantTimeEquals(mac_key_.Sign(body), mac)) return std::nullopt;
  std::optional<SessionClaims> claims = ParseClaims(body);
  if (!claims) return std::nullopt;
  return OpenedSession{std::move(*claims), SecretAccessKey(body)};
}

}  // namespace lambkin::iam
