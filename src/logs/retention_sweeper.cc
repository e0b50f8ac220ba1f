#include "logs/retention_sweeper.h"

#include <cstdio>

#include <fmt/format.h>

#include "common/log.h"

namespace lambkin::logs {

void RetentionSweeper::Start() {
  std::lock_guard lock(mu_);
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void RetentionSweeper::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RetentionSweeper::Loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    // The interval is real time: a simulated clock's jump is seen at the next sweep, and reads
    // hide what expired in between.
    if (cv_.wait_for(lock, interval_, [this] { return stop_; })) break;
    lock.unlock();
    if (Result<int64_t> deleted = store_->DeleteExpired(); !deleted.ok()) {
      log::Warning(
          "logs", fmt::format("retention sweep failed (retrying): {}", deleted.status().message()));
    }
    lock.lock();
  }
}

}  // namespace lambkin::logs
