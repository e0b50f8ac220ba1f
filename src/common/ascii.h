// ASCII case and whitespace helpers for protocol and metadata text (header names, IAM action and
// condition key names, package metadata), where the rules are ASCII-only by definition.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

namespace lambkin {

// Not std::tolower: no locale, and no call on paths that fold every request's text.
constexpr char AsciiLower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

inline bool AsciiEqualIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return AsciiLower(x) == AsciiLower(y);
         });
}

// `s` without leading and trailing spaces, tabs, CRs and LFs.
constexpr std::string_view AsciiTrim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

}  // namespace lambkin
