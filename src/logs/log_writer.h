// LogWriter: batches log events on their way into the LogStore.
//
// Execution environments produce log lines at high rates; writing each in its own durable
// transaction would cost an fsync per line. Write() only queues; a background thread appends
// what has queued, per stream, in one transaction every few milliseconds (and at once when
// Flush() is called). Events of one stream keep their order. A writer that outruns the store by
// more than kMaxQueued events loses the excess, and the stream says so in a marker event, so a
// function flooding its output cannot exhaust the server's memory. Thread-safe.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "logs/log_store.h"

namespace lambkin::logs {

class LogWriter {
 public:
  explicit LogWriter(LogStore* store);
  ~LogWriter();  // flushes
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Queues an event for `group`/`stream` (both created on first use).
  void Write(const Scope& scope, const std::string& group, const std::string& stream,
             LogEvent event);
  // Returns once everything queued before the call is stored.
  void Flush();

 private:
  using Key = std::tuple<std::string, std::string, std::string, std::string>;
  void Run();

  LogStore* store_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable flushed_;
  static constexpr uint64_t kMaxQueued = 200000;
  std::map<Key, std::vector<LogEvent>> pending_;
  std::map<Key, uint64_t> dropped_;
  uint64_t pending_count_ = 0;
  uint64_t queued_ = 0;   // events ever queued
  uint64_t written_ = 0;  // events ever stored (or given up on)
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace lambkin::logs
