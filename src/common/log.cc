#include "common/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace lambkin::log {
namespace {

std::atomic<bool> json_format{false};
std::mutex output;

std::string Now() {
  auto now = std::chrono::system_clock::now();
  int64_t ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, static_cast<int>(ms % 1000));
}

void Emit(std::FILE* to, const std::string& line) {
  std::lock_guard lock(output);
  std::fwrite(line.data(), 1, line.size(), to);
  std::fflush(to);
}

void Line(std::FILE* to, const char* level, std::string_view component, std::string_view message) {
  if (!Json()) {
    Emit(to, fmt::format("lambkin{}{}: {}\n", component.empty() ? "" : " ", component, message));
    return;
  }
  nlohmann::json j = {{"time", Now()},
                      {"level", level},
                      {"component", component.empty() ? "server" : component},
                      {"message", message}};
  Emit(to, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

}  // namespace

void SetFormat(Format format) { json_format = format == Format::kJson; }
bool Json() { return json_format.load(std::memory_order_relaxed); }

void Warning(std::string_view component, std::string_view message) {
  Line(stderr, "warning", component, message);
}
void Error(std::string_view component, std::string_view message) {
  Line(stderr, "error", component, message);
}
void Info(std::string_view component, std::string_view message) {
  Line(stdout, "info", component, message);
}

void Request(const RequestLine& r) {
  if (!Json()) return;
  nlohmann::json j = {
      {"time", Now()},
      {"level", "info"},
      {"component", "http"},
      {"message", fmt::format("{} {} {}", r.method, r.path, r.status)},
      {"request_id", r.request_id},
      {"method", r.method},
      {"path", r.path},
      {"status", r.status},
      {"duration_ms", static_cast<double>(static_cast<int64_t>(r.duration_ms * 1000)) / 1000},
      {"response_bytes", r.response_bytes},
      {"remote_address", r.remote_address}};
  Emit(stdout, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

}  // namespace lambkin::log
