// A minimal blocking HTTP client for the operator verbs that talk to a running server.
#pragma once

#include <string>
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

}  // namespace lambkin::cli
