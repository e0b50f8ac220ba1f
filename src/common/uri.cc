#include "common/uri.h"

namespace lambkin {

bool IsUriUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

void AppendUriEncoded(std::string& out, std::string_view bytes, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char ch : bytes) {
    auto c = static_cast<unsigned char>(ch);
    if (IsUriUnreserved(c) || (keep_slash && c == '/')) {
      out += ch;
    } else {
      const char escaped[3] = {'%', kHex[c >> 4], kHex[c & 15]};
      out.append(escaped, 3);
    }
  }
}

std::string UriEncode(std::string_view bytes, bool keep_slash) {
  std::string out;
  out.reserve(bytes.size());
  AppendUriEncoded(out, bytes, keep_slash);
  return out;
}

}  // namespace lambkin
