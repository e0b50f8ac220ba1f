// Pieces of AWS's Query protocol (form-encoded requests, XML answers) that more than one API
// speaks: CloudWatch's older encoding and STS.
#pragma once

#include <string>
#include <string_view>

namespace lambkin::server {

// A form field's name or value decoded: '+' is a space, then %XX escapes (a malformed escape
// leaves the text as it was).
std::string FormDecode(std::string_view text);

// Text for an XML element's content or an attribute value.
std::string XmlEscape(std::string_view text);

// The value of field `name` in a form-encoded body ("" when absent).
std::string FormField(std::string_view body, std::string_view name);

}  // namespace lambkin::server
