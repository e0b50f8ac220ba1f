// Periodic: a thread of one node that runs a task every `interval` of real time until stopped
// (the log retention sweep, the metrics flush). The interval is real time: a simulated clock's
// jump is seen at the next run. Start/Stop from one thread; Stop waits for a run in progress
// and, when asked, runs the task once more (a last flush).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

namespace lambkin {

class Periodic {
 public:
  Periodic(std::chrono::milliseconds interval, std::function<void()> task)
      : interval_(interval), task_(std::move(task)) {}
  ~Periodic() { Stop(); }
  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;

  void Start();
  // Stops the thread (after a run in progress); then runs the task once more if `last_run`.
  void Stop(bool last_run = false);

 private:
  void Loop();

  std::chrono::milliseconds interval_;
  std::function<void()> task_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace lambkin
