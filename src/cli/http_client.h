// A minimal blocking HTTP client for the operator verbs that talk to a running server.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "common/status.h"

namespace lambkin::cli {

struct ClientResponse {
  int status = 0;
  std::string body;
};

// GET `path` (with query) from `endpoint` ("http://127.0.0.1:9001").
Result<ClientResponse> HttpGet(const std::string& endpoint, const std::string& path);

// POST `body` to `path` with the given extra headers.
Result<ClientResponse> HttpPost(const std::string& endpoint, const std::string& path,
                                const std::string& body,
                                const std::vector<std::pair<std::string, std::string>>& headers);

Result<ClientResponse> HttpDelete(const std::string& endpoint, const std::string& path);

// Calls an admin endpoint that answers JSON (GET when `body` is nullopt, else POST it) and
// returns the parsed answer; a non-2xx answer becomes an error carrying the server's message.
Result<nlohmann::json> AdminCall(const std::string& endpoint, const std::string& path,
                                 const std::optional<nlohmann::json>& body = std::nullopt);

// Percent-encodes a path segment or query value.
std::string UrlEncode(std::string_view text);

}  // namespace lambkin::cli
