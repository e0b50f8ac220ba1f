// Clock: the one source of "now" for the domain, injected so that tests and the simulated
// clock mode control time. All implementations are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace lambkin {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch.
  virtual int64_t NowMillis() const = 0;
};

// Wall-clock time.
class SystemClock final : public Clock {
 public:
  int64_t NowMillis() const override;
};

// Time that moves only when told to; starts at `start_millis`.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_millis) : now_(start_millis) {}
  int64_t NowMillis() const override { return now_.load(); }
  void Advance(int64_t millis) { now_ += millis; }

 private:
  std::atomic<int64_t> now_;
};

// Wall-clock time plus an offset that only grows: `lambkin serve --clock simulated`, where
// `lambkin clock advance` moves time forward so a weeks-long rollout runs in seconds. Between
// advances it runs at the wall clock's pace.
class SimulatedClock final : public Clock {
 public:
  explicit SimulatedClock(int64_t offset_millis = 0) : offset_(offset_millis) {}
  int64_t NowMillis() const override { return system_.NowMillis() + offset_.load(); }
  int64_t offset_millis() const { return offset_.load(); }
  // Moves time forward to `millis` (never backward). Returns the new offset.
  int64_t AdvanceTo(int64_t millis);

 private:
  SystemClock system_;
  std::atomic<int64_t> offset_;
};

// Parses a duration such as "72h", "30m", "90s", "2d", "1h30m", "250ms" into milliseconds.
std::optional<int64_t> ParseDurationMillis(std::string_view text);
// Formats milliseconds compactly: "2d 4h", "6h", "1h 30m", "45s", "0s".
std::string FormatDuration(int64_t millis);

// Formats `millis` as AWS's LastModified timestamp: 2024-01-31T12:00:00.000+0000.
std::string FormatAwsTimestamp(int64_t millis);
// Formats `millis` as ISO 8601 in UTC with milliseconds: 2024-01-31T12:00:00.000Z (the
// timestamp of an asynchronous invocation record).
std::string FormatIsoTimestamp(int64_t millis);

}  // namespace lambkin
