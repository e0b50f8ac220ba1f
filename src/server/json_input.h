// The AWS JSON protocols' request and response bodies: JsonInput gives typed access to a request
// body with the AWS wording for missing or mistyped members; JsonReply writes a response. Used
// by the JSON 1.0/1.1 APIs (CloudWatch Logs, CloudWatch).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/status.h"
#include "server/request.h"

namespace lambkin::server {

class JsonInput {
 public:
  using json = nlohmann::json;
  explicit JsonInput(json j) : j_(std::move(j)) {}
  bool Has(const char* k) const { return j_.contains(k) && !j_[k].is_null(); }
  Result<std::string> RequiredString(const char* k) const {
    if (!Has(k)) {
      return Status(StatusCode::kValidation,
                    fmt::format("1 validation error detected: Value null at '{}' failed to "
                                "satisfy constraint: Member must not be null",
                                k));
    }
    return String(k, "");
  }
  Result<std::string> String(const char* k, std::string fallback) const {
    if (!Has(k)) return fallback;
    if (!j_[k].is_string()) return BadType(k);
    return j_[k].get<std::string>();
  }
  Result<int64_t> Int(const char* k, int64_t fallback) const {
    if (!Has(k)) return fallback;
    if (!j_[k].is_number_integer()) return BadType(k);
    return j_[k].get<int64_t>();
  }
  // Any JSON number (timestamps in JSON 1.0 are epoch seconds with a fraction).
  Result<double> Number(const char* k, double fallback) const {
    if (!Has(k)) return fallback;
    if (!j_[k].is_number()) return BadType(k);
    return j_[k].get<double>();
  }
  Result<bool> Bool(const char* k, bool fallback) const {
    if (!Has(k)) return fallback;
    if (!j_[k].is_boolean()) return BadType(k);
    return j_[k].get<bool>();
  }
  Result<std::vector<std::string>> StringList(const char* k) const {
    std::vector<std::string> out;
    if (!Has(k)) return out;
    if (!j_[k].is_array()) return BadType(k);
    for (const auto& v : j_[k]) {
      if (!v.is_string()) return BadType(k);
      out.push_back(v.get<std::string>());
    }
    return out;
  }
  const json& operator[](const char* k) const { return j_[k]; }

 private:
  static Status BadType(const char* k) {
    return {StatusCode::kInvalidRequestContent, fmt::format("Unexpected type for member {}", k)};
  }
  json j_;
};

// A JSON response of `content_type` (application/x-amz-json-1.0 or -1.1); strings that are not
// UTF-8 are written with replacement characters instead of failing.
inline HttpResponse JsonReply(int status, std::string_view content_type,
                              const nlohmann::json& body) {
  HttpResponse r;
  r.status = status;
  r.SetHeader("Content-Type", std::string(content_type));
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

}  // namespace lambkin::server
