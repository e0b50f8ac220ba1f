#include "common/clock.h"

#include <chrono>
#include <cstdint>
#include <ctime>

#include <fmt/format.h>

namespace lambkin {

int64_t SystemClock::NowMillis() const {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

int64_t SimulatedClock::AdvanceTo(int64_t millis) {
  int64_t offset = offset_.load();
  while (true) {
    int64_t wanted = millis - system_.NowMillis();
    if (wanted <= offset) return offset;
    if (offset_.compare_exchange_weak(offset, wanted)) return wanted;
  }
}

std::optional<int64_t> ParseDurationMillis(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    int64_t n = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (n > (int64_t{1} << 40)) return std::nullopt;
      n = n * 10 + (text[i++] - '0');
    }
    if (i == start) return std::nullopt;
    size_t unit_start = i;
    while (i < text.size() && ((text[i] >= 'a' && text[i] <= 'z'))) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    int64_t scale;
    if (unit == "ms") {
      scale = 1;
    } else if (unit == "s") {
      scale = 1000;
    } else if (unit == "m") {
      scale = 60'000;
    } else if (unit == "h") {
      scale = 3'600'000;
    } else if (unit == "d") {
      scale = 86'400'000;
    } else if (unit == "w") {
      scale = 7 * 86'400'000LL;
    } else {
      return std::nullopt;
    }
    total += n * scale;
  }
  return total;
}

std::string FormatDuration(int64_t millis) {
  // fmt, not "-" + string: GCC 12 at -O3 reports a false -Werror=restrict in operator+.
  if (millis < 0) {
    return fmt::format("-{}", FormatDuration(millis == INT64_MIN ? INT64_MAX : -millis));
  }
  int64_t s = millis / 1000;
  int64_t d = s / 86400, h = s % 86400 / 3600, m = s % 3600 / 60, sec = s % 60;
  if (d > 0) return h > 0 ? fmt::format("{}d {}h", d, h) : fmt::format("{}d", d);
  if (h > 0) return m > 0 ? fmt::format("{}h {}m", h, m) : fmt::format("{}h", h);
  if (m > 0) return sec > 0 ? fmt::format("{}m {}s", m, sec) : fmt::format("{}m", m);
  if (sec == 0 && millis > 0) return fmt::format("{}ms", millis);
  return fmt::format("{}s", sec);
}

namespace {
// 2024-01-31T12:00:00.000 followed by `zone`.
std::string FormatMillisUtc(int64_t millis, std::string_view zone) {
  std::time_t secs = static_cast<std::time_t>(millis / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}{}", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis % 1000,
                     zone);
}
}  // namespace

std::string FormatAwsTimestamp(int64_t millis) { return FormatMillisUtc(millis, "+0000"); }

std::string FormatIsoTimestamp(int64_t millis) { return FormatMillisUtc(millis, "Z"); }

}  // namespace lambkin
