// Log levels of LoggingConfig's JSON format: which of a function's output lines and which
// platform records reach its log group (monitoring-cloudwatchlogs-log-level in Lambda's guide).
#pragma once

#include <optional>
#include <string_view>

namespace lambkin::exec {

// Application levels run TRACE (most detail) to FATAL; system levels use DEBUG, INFO and WARN
// of the same scale. A record is written when its level is at least the configured one.
enum class LogLevel { kTrace = 0, kDebug, kInfo, kWarn, kError, kFatal };

// A level's name, case-insensitive; Python's WARNING and CRITICAL are WARN and FATAL.
std::optional<LogLevel> ParseLogLevel(std::string_view name);

// The level of one line of a function's output under the JSON format: a JSON object's "level"
// (or "log_level", which AWS's Python runtime writes for an uncaught error) when it also has a
// valid RFC 3339 "timestamp" (or "time"); INFO for anything else, plain text included.
LogLevel OutputLineLevel(std::string_view line);

}  // namespace lambkin::exec
