// Reads the JSON files the CLI is given (the server configuration, IAM declarations).
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/status.h"

namespace lambkin::cli {

// The JSON object in `path`; `what` names the file in errors ("config file").
inline Result<nlohmann::json> ReadJsonObject(const std::string& path, std::string_view what) {
  std::ifstream in(path);
  if (!in) return InvalidParameter(fmt::format("cannot read {} {}", what, path));
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json doc = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return InvalidParameter(fmt::format("{} {} is not a JSON object", what, path));
  }
  return doc;
}

}  // namespace lambkin::cli
