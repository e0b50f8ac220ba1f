#include "exec/log_levels.h"

#include <cctype>
#include <string>

#include <nlohmann/json.hpp>

namespace lambkin::exec {
namespace {

// 2024-11-02T16:51:31.587199Z, 2024-11-02 16:51:31+02:00, ...
bool IsRfc3339(std::string_view t) {
  auto digits = [&](size_t at, size_t n) {
    if (t.size() < at + n) return false;
    for (size_t i = at; i < at + n; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(t[i]))) return false;
    }
    return true;
  };
  if (t.size() < 20) return false;
  if (!digits(0, 4) || t[4] != '-' || !digits(5, 2) || t[7] != '-' || !digits(8, 2) ||
      (t[10] != 'T' && t[10] != 't' && t[10] != ' ') || !digits(11, 2) || t[13] != ':' ||
      !digits(14, 2) || t[16] != ':' || !digits(17, 2)) {
    return false;
  }
  size_t i = 19;
  if (t[i] == '.') {
    size_t start = ++i;
    while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) ++i;
    if (i == start) return false;
  }
  std::string_view zone = t.substr(i);
  if (zone == "Z" || zone == "z") return true;
  return zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && digits(i + 1, 2) &&
         zone[3] == ':' && digits(i + 4, 2);
}

const nlohmann::json* StringMember(const nlohmann::json& object,
                                   std::initializer_list<const char*> names) {
  for (const char* name : names) {
    auto it = object.find(name);
    if (it != object.end() && it->is_string()) return &*it;
  }
  return nullptr;
}

}  // namespace

std::optional<LogLevel> ParseLogLevel(std::string_view name) {
  std::string upper;
  for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper == "TRACE") return LogLevel::kTrace;
  if (upper == "DEBUG") return LogLevel::kDebug;
  if (upper == "INFO") return LogLevel::kInfo;
  if (upper == "WARN" || upper == "WARNING") return LogLevel::kWarn;
  if (upper == "ERROR") return LogLevel::kError;
  if (upper == "FATAL" || upper == "CRITICAL") return LogLevel::kFatal;
  return std::nullopt;
}

LogLevel OutputLineLevel(std::string_view line) {
  size_t first = line.find_first_not_of(" \t");
  if (first == std::string_view::npos || line[first] != '{') return LogLevel::kInfo;
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return LogLevel::kInfo;
  const nlohmann::json* level = StringMember(j, {"level", "log_level"});
  const nlohmann::json* time = StringMember(j, {"timestamp", "time"});
  if (level == nullptr || time == nullptr || !IsRfc3339(time->get_ref<const std::string&>())) {
    return LogLevel::kInfo;
  }
  return ParseLogLevel(level->get_ref<const std::string&>()).value_or(LogLevel::kInfo);
}

}  // namespace lambkin::exec
