#include "common/periodic.h"

namespace lambkin {

void Periodic::Start() {
  std::lock_guard lock(mu_);
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void Periodic::Stop(bool last_run) {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (last_run) task_();
}

void Periodic::Loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    if (cv_.wait_for(lock, interval_, [this] { return stop_; })) break;
    lock.unlock();
    task_();
    lock.lock();
  }
}

}  // namespace lambkin
