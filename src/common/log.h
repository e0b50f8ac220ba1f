// The server's own log lines: plain text (as always: "lambkin <component>: <message>" on
// stderr), or JSON lines for log collectors (`lambkin serve --log-format json`): one object per
// line with time (RFC 3339, UTC, milliseconds), level, component and message, and one line per
// answered request on the listener with its request id, method, path, status and duration.
#pragma once

#include <string_view>

namespace lambkin::log {

enum class Format { kText, kJson };
void SetFormat(Format format);
bool Json();

// stderr: what went wrong and was handled (warning) or failed (error).
void Warning(std::string_view component, std::string_view message);
void Error(std::string_view component, std::string_view message);
// stdout: what the server says as it starts and stops.
void Info(std::string_view component, std::string_view message);

struct RequestLine {
  std::string_view request_id;
  std::string_view method;
  std::string_view path;
  std::string_view remote_address;
  int status = 0;
  double duration_ms = 0;
  unsigned long long response_bytes = 0;
};
// stdout, JSON format only (a text server keeps no access log).
void Request(const RequestLine& line);

}  // namespace lambkin::log
