#include "logs/log_writer.h"

#include <chrono>
#include <cstdio>

#include <fmt/format.h>

#include "common/log.h"

namespace lambkin::logs {

LogWriter::LogWriter(LogStore* store) : store_(store), thread_([this] { Run(); }) {}

LogWriter::~LogWriter() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void LogWriter::Write(const Scope& scope, const std::string& group, const std::string& stream,
                      LogEvent event) {
  {
    std::lock_guard lock(mu_);
    Key key{scope.account, scope.region, group, stream};
    if (pending_count_ >= kMaxQueued) {
      ++dropped_[key];
      return;
    }
    pending_[key].push_back(std::move(event));
    ++pending_count_;
    ++queued_;
  }
  wake_.notify_one();
}

void LogWriter::Flush() {
  std::unique_lock lock(mu_);
  uint64_t target = queued_;
  wake_.notify_one();
  flushed_.wait(lock, [&] { return written_ >= target; });
}

void LogWriter::Run() {
  std::unique_lock lock(mu_);
  while (true) {
    wake_.wait(lock, [&] { return stop_ || !pending_.empty(); });
    if (pending_.empty() && stop_) return;
    // Let a burst accumulate briefly so it lands in one transaction.
    if (!stop_) wake_.wait_for(lock, std::chrono::milliseconds(5), [&] { return stop_; });
    std::map<Key, std::vector<LogEvent>> batch;
    batch.swap(pending_);
    pending_count_ = 0;
    for (auto& [key, n] : dropped_) {
      batch[key].push_back(LogEvent{store_->clock()->NowMillis(),
                                    fmt::format("[lambkin] {} log events dropped: the function "
                                                "wrote faster than they could be stored\n",
                                                n)});
    }
    dropped_.clear();
    lock.unlock();
    uint64_t n = 0;
    for (auto& [key, events] : batch) {
      const auto& [account, region, group, stream] = key;
      Status s = store_->Append(Scope{account, region}, group, stream, events, /*create=*/true);
      if (!s.ok()) log::Error("", fmt::format("cannot store logs: {}", s.message()));
      n += events.size();
    }
    lock.lock();
    written_ += n;
    flushed_.notify_all();
  }
}

}  // namespace lambkin::logs
