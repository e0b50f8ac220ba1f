// `lambkin logs tail <function>`: prints a function's log events, and with --follow keeps
// printing new ones as they arrive, through the server's CloudWatch Logs API.
#pragma once

#include <string>

#include "cli/http_client.h"

namespace lambkin::cli {

struct LogsTailOptions {
  ApiClient client;
  std::string function;
  int64_t since_ms = 10LL * 60 * 1000;  // how far back to start
  bool follow = false;
  int64_t poll_ms = 500;
};

int LogsTail(const LogsTailOptions& options);

}  // namespace lambkin::cli
