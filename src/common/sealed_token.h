// Stateless tokens: a compact binary body (a version byte, big-endian integers, short
// length-prefixed fields) sealed as base64(body || HMAC-SHA256(body)) under a server key, so
// the server can hand out claims and later trust them without storing anything.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/crypto.h"

namespace lambkin {

class TokenWriter {
 public:
  void U8(uint8_t v) { out_ += static_cast<char>(v); }
  // REQUIRES: v <= 0xffff.
  void U16(size_t v);
  void U64(uint64_t v);
  // A one-byte length and the bytes. REQUIRES: field.size() <= 255.
  void Field(std::string_view field);
  const std::string& bytes() const { return out_; }

 private:
  std::string out_;
};

// Reads what a TokenWriter wrote; each read fails (false) rather than run past the end.
class TokenReader {
 public:
  explicit TokenReader(std::string_view in) : in_(in) {}
  bool U8(uint8_t* v);
  bool U16(size_t* v);
  bool U64(uint64_t* v);
  bool Field(std::string* field);
  bool AtEnd() const { return at_ == in_.size(); }

 private:
  std::string_view in_;
  size_t at_ = 0;
};

// base64(body || HMAC-SHA256(body) under `key`).
std::string SealToken(const HmacSha256Key& key, std::string_view body);
// The body of a token `key` sealed; nullopt for a token longer than `max_chars`, not base64,
// or whose MAC does not match (compared in constant time).
std::optional<std::string> OpenToken(const HmacSha256Key& key, std::string_view token,
                                     size_t max_chars);

}  // namespace lambkin
