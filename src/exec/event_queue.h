// EventQueue: asynchronous (InvocationType Event) invocations, durable and retried.
//
// Enqueue() stores the event before the caller gets its 202, so a server restart loses none:
// on start the queue resumes every event not yet finished (at-least-once). Events run on the
// Invoker like synchronous ones. As on Lambda, an event whose invocation fails (a function
// error, timeout or crash) is retried twice, after one and then two minutes (the delays are
// configurable); a throttled event is retried shortly without counting as an attempt. An
// event that failed every attempt is kept, marked failed. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/clock.h"
#include "exec/invoker.h"
#include "functions/function_service.h"
#include "store/database.h"

namespace lambkin::exec {

// Its tables, as numbered migrations (store/database.h).
const store::Migrations& EventQueueSchema();

struct EventQueueOptions {
  std::vector<int64_t> retry_delays_ms = {60000, 120000};
  int64_t throttle_delay_ms = 1000;
  int max_in_flight = 16;
  std::chrono::milliseconds poll{100};
};

class EventQueue {
 public:
  EventQueue(store::Database* db, boost::asio::io_context& ioc, Invoker* invoker,
             functions::FunctionService* functions, const Clock* clock, EventQueueOptions options);
  ~EventQueue();

  // Stores an event for `function`:`qualifier`; returns once it is durable.
  Status Enqueue(const functions::Scope& scope, const std::string& function,
                 const std::string& qualifier, const std::string& payload,
                 const std::string& request_id);
  // Starts dispatching (including events left by an earlier run).
  void Start();
  void Stop();

 private:
  struct Event {
    std::string id;
    functions::Scope scope;
    std::string function;
    std::string qualifier;
    std::string payload;
    int64_t attempts = 0;
  };
  void Schedule(std::chrono::milliseconds after);
  void Dispatch();
  void Run(const Event& event);
  void Settle(const Event& event, const Result<InvokeOutcome>& outcome);

  store::Database* db_;
  boost::asio::io_context& ioc_;
  Invoker* invoker_;
  functions::FunctionService* functions_;
  const Clock* clock_;
  EventQueueOptions options_;
  boost::asio::steady_timer timer_;

  std::mutex mu_;
  std::set<std::string> in_flight_;
  bool stopped_ = false;
};

}  // namespace lambkin::exec
