// A minimal blocking HTTP client for the operator verbs that talk to a running server.
#pragma once

#include <string>

#include "common/status.h"

namespace lambkin::cli {

struct ClientResponse {
  int status = 0;
  std::string body;
};

// GET `path` (with query) from `endpoint` ("http://127.0.0.1:9001").
Result<ClientResponse> HttpGet(const std::string& endpoint, const std::string& path);

}  // namespace lambkin::cli
