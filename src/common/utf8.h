// UTF-8 checks for text that reaches the store (PostgreSQL's text holds only UTF-8, without
// NUL) or a JSON document.
#pragma once

#include <cstddef>
#include <string_view>

namespace lambkin {

// The length of the valid UTF-8 sequence at the start of `s` (0 when it is not one). NUL is not
// text to PostgreSQL, so it counts as invalid too.
inline size_t Utf8Sequence(std::string_view s) {
  auto c = static_cast<unsigned char>(s[0]);
  if (c == 0) return 0;
  if (c < 0x80) return 1;
  size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
  if (n == 0 || s.size() < n) return 0;
  auto b1 = static_cast<unsigned char>(s[1]);
  // No overlong forms, no surrogates, nothing above U+10FFFF.
  if ((c == 0xE0 && b1 < 0xA0) || (c == 0xED && b1 > 0x9F) || (c == 0xF0 && b1 < 0x90) ||
      (c == 0xF4 && b1 > 0x8F)) {
    return 0;
  }
  for (size_t i = 1; i < n; ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) return 0;
  }
  return n;
}

// True when all of `s` is UTF-8 without NUL.
inline bool IsStoreText(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    size_t n = Utf8Sequence(s.substr(i));
    if (n == 0) return false;
    i += n;
  }
  return true;
}

}  // namespace lambkin
