// Body: a Lambda API request's JSON body with typed, validated member access (defined in
// serialize.cc). Its own header so that a Call can keep the body it parsed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace lambkin::lambdaapi {

// A parsed JSON request body with typed, validated member access. Wrong JSON types are
// reported as AWS does for rest-json (InvalidRequestContentException).
class Body {
 public:
  // An empty body reads as {}.
  static Result<Body> Parse(const std::string& text);

  bool Has(const char* key) const { return json_.contains(key) && !json_[key].is_null(); }
  Result<std::optional<std::string>> String(const char* key) const;
  Result<std::optional<int64_t>> Int(const char* key) const;
  Result<std::optional<bool>> Bool(const char* key) const;
  // An object member, or nullptr when absent/null; kInvalidRequestContent if not an object.
  Result<const nlohmann::json*> Object(const char* key) const;
  Result<const nlohmann::json*> Array(const char* key) const;
  const nlohmann::json& doc() const { return json_; }

 private:
  nlohmann::json json_;
};

Status BadContent(std::string_view detail);

}  // namespace lambkin::lambdaapi
