#include "common/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <utility>

namespace lambkin {

namespace {

constexpr size_t kSha256Size = 32;
constexpr size_t kSha256Block = 64;

// SHA-256 fetched from the provider once: EVP_sha256() would be looked up again on every
// initialisation, which costs more than hashing a short message.
const EVP_MD* Sha256Md() {
  static EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return kSha256;
}

EVP_MD_CTX* Ctx(void* ctx) { return static_cast<EVP_MD_CTX*>(ctx); }

// A context each thread reuses for one-shot digests.
EVP_MD_CTX* ScratchCtx() {
  thread_local std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                                           &EVP_MD_CTX_free);
  return ctx.get();
}

void Update(EVP_MD_CTX* ctx, std::string_view data) {
  EVP_DigestUpdate(ctx, data.data(), data.size());
}

void Final(EVP_MD_CTX* ctx, unsigned char* out) {
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, out, &len);
}

// A new context that has hashed `key` padded to a block and XORed with `pad`.
EVP_MD_CTX* PaddedKeyState(std::string_view key, unsigned char pad) {
  std::array<unsigned char, kSha256Block> block{};
  std::copy(key.begin(), key.end(), block.begin());
  for (unsigned char& b : block) b ^= pad;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex2(ctx, Sha256Md(), nullptr);
  EVP_DigestUpdate(ctx, block.data(), block.size());
  OPENSSL_cleanse(block.data(), block.size());
  return ctx;
}

// SHA-256 of `data` into `out` (32 bytes).
void Sha256Into(std::string_view data, unsigned char* out) {
  EVP_MD_CTX* ctx = ScratchCtx();
  EVP_DigestInit_ex2(ctx, Sha256Md(), nullptr);
  Update(ctx, data);
  Final(ctx, out);
}

}  // namespace

Sha256Hasher::Sha256Hasher() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex2(Ctx(ctx_), Sha256Md(), nullptr);
}
Sha256Hasher::~Sha256Hasher() { EVP_MD_CTX_free(Ctx(ctx_)); }
void Sha256Hasher::Update(std::string_view data) { lambkin::Update(Ctx(ctx_), data); }
std::string Sha256Hasher::Finish() {
  std::string out(kSha256Size, '\0');
  Final(Ctx(ctx_), reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

std::string Sha256(std::string_view data) {
  std::string out(kSha256Size, '\0');
  Sha256Into(data, reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto c = static_cast<unsigned char>(bytes[i]);
    out[2 * i] = kDigits[c >> 4];
    out[2 * i + 1] = kDigits[c & 0xf];
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  std::array<unsigned char, kSha256Size> digest{};
  Sha256Into(data, digest.data());
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

HmacSha256Key::HmacSha256Key(std::string_view key) {
  // RFC 2104: a key longer than a block is replaced by its digest.
  std::string hashed;
  if (key.size() > kSha256Block) {
    hashed = Sha256(key);
    key = hashed;
  }
  inner_ = PaddedKeyState(key, 0x36);
  outer_ = PaddedKeyState(key, 0x5c);
  OPENSSL_cleanse(hashed.data(), hashed.size());
}

HmacSha256Key::~HmacSha256Key() {
  EVP_MD_CTX_free(Ctx(inner_));
  EVP_MD_CTX_free(Ctx(outer_));
}

HmacSha256Key::HmacSha256Key(HmacSha256Key&& other) noexcept
    : inner_(std::exchange(other.inner_, nullptr)), outer_(std::exchange(other.outer_, nullptr)) {}

std::string HmacSha256Key::Sign(std::string_view data) const {
  EVP_MD_CTX* ctx = ScratchCtx();
  std::array<unsigned char, kSha256Size> inner{};
  EVP_MD_CTX_copy_ex(ctx, Ctx(inner_));
  Update(ctx, data);
  Final(ctx, inner.data());
  EVP_MD_CTX_copy_ex(ctx, Ctx(outer_));
  EVP_DigestUpdate(ctx, inner.data(), inner.size());
  std::string out(kSha256Size, '\0');
  Final(ctx, reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  return HmacSha256Key(key).Sign(data);
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || (c == '=' && i + 2 >= text.size());
    if (!ok) return std::nullopt;
  }
  if (text.size() >= 2 && text[text.size() - 2] == '=' && text.back() != '=') return std::nullopt;
  std::string out(3 * (text.size() / 4), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  size_t pad = 0;
  if (!text.empty() && text.back() == '=') ++pad;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    // OpenSSL's CSPRNG failing is not recoverable for a server that names things randomly.
    throw std::runtime_error("RAND_bytes failed");
  }
  return out;
}

std::string RandomUuid() {
  std::string b = RandomBytes(16);
  b[6] = static_cast<char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<char>((b[8] & 0x3f) | 0x80);
  std::string hex = HexEncode(b);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

}  // namespace lambkin
