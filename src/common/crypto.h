// Hashing, encoding and randomness used across Lambkin, backed by OpenSSL.
// All functions are thread-safe and never throw.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace lambkin {

// Raw 32-byte SHA-256 digest of `data`.
std::string Sha256(std::string_view data);
// Lowercase hex of `bytes`.
std::string HexEncode(std::string_view bytes);
std::string Sha256Hex(std::string_view data);
// Raw 32-byte HMAC-SHA256 of `data` under `key`.
std::string HmacSha256(std::string_view key, std::string_view data);

// An HMAC-SHA256 key made ready once (its padded blocks already hashed), for a key that signs
// many messages: each Sign then hashes only the message and one block.
class HmacSha256Key {
 public:
  explicit HmacSha256Key(std::string_view key);
  ~HmacSha256Key();
  HmacSha256Key(HmacSha256Key&& other) noexcept;
  HmacSha256Key& operator=(HmacSha256Key&&) = delete;
  HmacSha256Key(const HmacSha256Key&) = delete;
  HmacSha256Key& operator=(const HmacSha256Key&) = delete;
  // Raw 32-byte HMAC-SHA256 of `data`.
  std::string Sign(std::string_view data) const;

 private:
  void* inner_;  // SHA-256 state after (key ^ ipad)
  void* outer_;  // SHA-256 state after (key ^ opad)
};
// Whether two strings are equal, in time that depends only on their lengths.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

std::string Base64Encode(std::string_view bytes);
// Strict standard base64 (RFC 4648, padding required, whitespace not allowed).
// Returns nullopt for anything else.
std::optional<std::string> Base64Decode(std::string_view text);

// `n` bytes from OpenSSL's CSPRNG (secrets, key ids).
std::string RandomBytes(size_t n);
// A random (version 4) UUID in canonical lowercase form.
std::string RandomUuid();

// Incremental SHA-256 for content that arrives in pieces.
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;
  void Update(std::string_view data);
  // Raw 32-byte digest; the hasher may not be used afterwards.
  std::string Finish();

 private:
  void* ctx_;
};

}  // namespace lambkin
