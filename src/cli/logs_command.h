// `lambkin logs tail <function>`: prints a function's log events, and with --follow keeps
// printing new ones as they arrive, through the server's CloudWatch Logs API.
#pragma once

#include <string>

namespace lambkin::cli {

struct LogsTailOptions {
  std::string endpoint;
  std::string function;
  std::string region = "us-east-1";
  int64_t since_ms = 10LL * 60 * 1000;  // how far back to start
  bool follow = false;
  int64_t poll_ms = 500;
};

int LogsTail(const LogsTailOptions& options);

}  // namespace lambkin::cli
