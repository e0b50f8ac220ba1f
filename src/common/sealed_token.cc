#include "common/sealed_token.h"

#include <cassert>

namespace lambkin {

namespace {
constexpr size_t kMacSize = 32;
}  // namespace

void TokenWriter::U16(size_t v) {
  assert(v <= 0xffff);
  out_ += static_cast<char>((v >> 8) & 0xff);
  out_ += static_cast<char>(v & 0xff);
}

void TokenWriter::U64(uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out_ += static_cast<char>((v >> shift) & 0xff);
}

void TokenWriter::Field(std::string_view field) {
  assert(field.size() <= 255);
  out_ += static_cast<char>(field.size());
  out_.append(field);
}

bool TokenReader::U8(uint8_t* v) {
  if (in_.size() - at_ < 1) return false;
  *v = static_cast<unsigned char>(in_[at_++]);
  return true;
}

bool TokenReader::U16(size_t* v) {
  if (in_.size() - at_ < 2) return false;
  *v = (static_cast<size_t>(static_cast<unsigned char>(in_[at_])) << 8) |
       static_cast<unsigned char>(in_[at_ + 1]);
  at_ += 2;
  return true;
}

bool TokenReader::U64(uint64_t* v) {
  if (in_.size() - at_ < 8) return false;
  *v = 0;
  for (size_t i = 0; i < 8; ++i) *v = (*v << 8) | static_cast<unsigned char>(in_[at_ + i]);
  at_ += 8;
  return true;
}

bool TokenReader::Field(std::string* field) {
  if (at_ >= in_.size()) return false;
  size_t n = static_cast<unsigned char>(in_[at_++]);
  if (in_.size() - at_ < n) return false;
  field->assign(in_.substr(at_, n));
  at_ += n;
  return true;
}

std::string SealToken(const HmacSha256Key& key, std::string_view body) {
  std::string sealed(body);
  sealed += key.Sign(body);
  return Base64Encode(sealed);
}

std::optional<std::string> OpenToken(const HmacSha256Key& key, std::string_view token,
                                     size_t max_chars) {
  if (token.size() > max_chars) return std::nullopt;
  std::optional<std::string> bytes = Base64Decode(token);
  if (!bytes || bytes->size() <= kMacSize) return std::nullopt;
  std::string_view body = std::string_view(*bytes).substr(0, bytes->size() - kMacSize);
  if (!ConstantTimeEquals(key.Sign(body), std::string_view(*bytes).substr(body.size()))) {
    return std::nullopt;
  }
  bytes->resize(body.size());
  return bytes;
}

}  // namespace lambkin
