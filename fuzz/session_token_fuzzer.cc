// Fuzzes role session tokens (iam/role_sessions.h). The input, taken as a token, must never open
// (that would be a forged MAC); split into claims, it must seal and open back to the same claims
// and secret; and the sealed token with one byte changed must not open.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/crypto.h"
#include "iam/role_sessions.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const lambkin::iam::SessionTokens tokens(std::string(32, 'k'));
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (tokens.Open(in)) __builtin_trap();

  // Claims from the input: the expiry from its first 8 bytes, then three fields split at '\n',
  // each at most 255 bytes as the format allows.
  lambkin::iam::SessionClaims claims;
  uint64_t expiration = 0;
  for (size_t i = 0; i < 8 && i < size; ++i) expiration = (expiration << 8) | data[i];
  claims.expiration_ms = static_cast<int64_t>(expiration);
  std::string_view rest = in.substr(size < 8 ? size : 8);
  std::string* fields[] = {&claims.access_key_id, &claims.role_arn, &claims.session_name};
  for (std::string* field : fields) {
    size_t nl = rest.find('\n');
    *field = std::string(rest.substr(0, nl).substr(0, 255));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  }
  lambkin::iam::RoleCredentials sealed = tokens.Seal(claims);
  auto opened = tokens.Open(sealed.session_token);
  if (!opened || opened->claims.access_key_id != claims.access_key_id ||
      opened->claims.role_arn != claims.role_arn ||
      opened->claims.session_name != claims.session_name ||
      opened->claims.expiration_ms != claims.expiration_ms ||
      opened->secret_access_key != sealed.secret_access_key) {
    __builtin_trap();
  }
  std::string bytes = *lambkin::Base64Decode(sealed.session_token);
  bytes[size % bytes.size()] ^= static_cast<char>(1 + (size & 0x7f));
  if (tokens.Open(lambkin::Base64Encode(bytes))) __builtin_trap();
  return 0;
}
