// Percent-encoding as RFC 3986 (and SigV4) define it: every byte but the unreserved characters
// (A-Z a-z 0-9 - _ . ~) becomes %XX with uppercase hex; '/' is kept when asked.
#pragma once

#include <string>
#include <string_view>

namespace lambkin {

// A-Z a-z 0-9 - _ . ~
bool IsUriUnreserved(unsigned char c);
void AppendUriEncoded(std::string& out, std::string_view bytes, bool keep_slash);
std::string UriEncode(std::string_view bytes, bool keep_slash);

}  // namespace lambkin
