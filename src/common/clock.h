// Clock: the one source of "now" for the domain, injected so that tests and the simulated
// clock mode control time. All implementations are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

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

// Formats `millis` as AWS's LastModified timestamp: 2024-01-31T12:00:00.000+0000.
std::string FormatAwsTimestamp(int64_t millis);

}  // namespace lambkin
