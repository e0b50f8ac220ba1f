// RetentionSweeper: the thread of one node that deletes expired log events (LogStore::
// DeleteExpired) every `interval` of real time, until stopped. Several nodes sharing a store each
// run one: the deletions are idempotent write transactions, serialised by the store. Reads never
// depend on it (they hide expired events themselves); it only reclaims the space.
// Start/Stop from one thread; Stop waits for a sweep in progress.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "logs/log_store.h"

namespace lambkin::logs {

class RetentionSweeper {
 public:
  RetentionSweeper(LogStore* store, std::chrono::milliseconds interval)
      : store_(store), interval_(interval) {}
  ~RetentionSweeper() { Stop(); }
  RetentionSweeper(const RetentionSweeper&) = delete;
  RetentionSweeper& operator=(const RetentionSweeper&) = delete;

  void Start();
  void Stop();

 private:
  void Loop();

  LogStore* store_;
  std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace lambkin::logs
