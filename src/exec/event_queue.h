// EventQueue: asynchronous (InvocationType Event) invocations, durable and retried.
//
// Enqueue() stores the event before the caller gets its 202. Every node sharing the store
// delivers queued events: a node claims due events by taking a lease on them (its node id and
// an expiry), runs them on its Invoker like synchronous invocations, and settles each under its
// lease. A claim skips events another node holds, so nodes deliver different events without
// waiting on each other (row locks, SKIP LOCKED, on PostgreSQL). A lease lasts the function's
// timeout plus a margin; if the node dies, its events become claimable when their leases expire
// and another node delivers them. A settle that finds its lease taken over changes nothing.
// Delivery is therefore at-least-once, as on Lambda: an event whose node died mid-invocation
// may run twice. A node that restarts under the same id (the single-node default) releases its
// old leases on Start(), as does any start on SQLite (one node), so it resumes every unfinished
// event at once.
//
// As on Lambda, an event whose invocation fails (a function error, timeout or crash) is retried
// twice, after one and then two minutes (the delays are configurable); a throttled event is
// retried shortly without counting as an attempt. The asynchronous invocation configuration of
// the qualifier the event was invoked with (event_invoke_config.h) changes that: its
// MaximumRetryAttempts (0-2) bounds the retries, and an event older than its
// MaximumEventAgeInSeconds (6 hours by default) is not run again: it fails at once when its
// next retry would come too late, as on Lambda. An event that failed every attempt is kept,
// marked failed. On success, and on the final failure, the invocation record goes to the
// configured OnSuccess or OnFailure function as an event of its own, inserted in the
// transaction that settles the attempt (so it is neither lost nor sent twice). Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/clock.h"
#include "exec/event_invoke_config.h"
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
  // This node's name on its leases; unique among the nodes sharing the store.
  std::string node_id = "local";
  // The lease a claim takes, before the function (and so its timeout) is known: enough for a
  // function whose timeout is up to 60 s; a longer one extends its lease when it starts.
  int64_t claim_lease_ms = 90000;
  // A started invocation's lease: the function's timeout plus this (its init phase, 10 s by
  // default, and the settle).
  int64_t lease_margin_ms = 30000;
  // Several nodes: an event runs on its function's home node (where its warm environments are
  // and its reserved concurrency is counted), recorded when it is queued (`home_of`); a node
  // claims no event homed on another live node (`other_nodes`), so an event homed on a node
  // that is gone is anyone's, and so is one leased by a node that is gone (no waiting for the
  // lease to expire). Unset: any node claims any event, and leases hold until they expire.
  std::function<std::string(const functions::Scope&, const std::string& function)> home_of;
  std::function<std::vector<std::string>()> other_nodes;
};

// A queued event as a claim returns it.
struct ClaimedEvent {
  std::string id;
  functions::Scope scope;
  std::string function;
  std::string qualifier;
  std::string payload;
  int64_t attempts = 0;
  int64_t lease_until = 0;
  int64_t enqueued_at = 0;
};

// An event to insert into the queue.
struct QueuedEvent {
  std::string id;
  functions::Scope scope;
  std::string function;
  std::string qualifier;
  std::string payload;
  std::optional<std::string> home_node;  // nullopt: any node
};

// What an attempt leaves behind.
struct EventSettlement {
  std::string state;  // queued (a retry) | succeeded | failed
  int64_t attempts = 0;
  int64_t next_attempt_at = 0;
  std::string last_error;
};

// The queue's store operations, one statement each (used by EventQueue; public for tests).
// Times are ms since the epoch, by the queue's Clock.
//
// Leases the due events (queued, next_attempt_at <= now, no unexpired lease) for `node` until
// `lease_until`, oldest first, at most `limit`; events other nodes are claiming are skipped,
// and so are events homed on one of `other_nodes` (the other live nodes, when known). A lease
// whose holder is neither `node` nor one of `other_nodes` is void: its node is gone.
Result<std::vector<ClaimedEvent>> ClaimDueEvents(
    store::Database& db, std::string_view node, int64_t now, int64_t lease_until, int limit,
    const std::optional<std::vector<std::string>>& other_nodes = std::nullopt);
// Moves the expiry of `node`'s lease on event `id`; false when `node` no longer holds it.
Result<bool> ExtendEventLease(store::Database& db, std::string_view id, std::string_view node,
                              int64_t lease_until);
// Records an attempt's result and ends the lease, if `node` still holds it, and then queues
// `record` (an invocation record for a destination) in the same transaction; false (and nothing
// changed, nothing queued) when it does not.
Result<bool> SettleEvent(store::Database& db, std::string_view id, std::string_view node,
                         const EventSettlement& settlement,
                         const std::optional<QueuedEvent>& record = std::nullopt);

// The throttle an event meets when its function's reserved concurrency is 0: it fails at once
// (condition ZeroReservedConcurrency), never retried.
inline constexpr char kZeroReservedConcurrency[] = "ZeroReservedConcurrency";

// How an attempt ends under `policy`: its settlement, and the invocation record a destination
// gets (with the event that carries it, homed by `options.home_of`). `outcome` null: the event
// was not run because it is older than the policy allows.
struct AttemptEnd {
  EventSettlement settlement;
  // Success | RetriesExhausted | EventAgeExceeded | ZeroReservedConcurrency, or empty (retried)
  std::string condition;
  std::optional<QueuedEvent> record;
};
AttemptEnd EndAttempt(const ClaimedEvent& event, const Result<InvokeOutcome>* outcome,
                      const AsyncPolicy& policy, const EventQueueOptions& options, int64_t now);
// Ends the leases on queued events (they become due again) that `node` holds, or with nullopt
// every node's; returns how many.
Result<int64_t> ReleaseEventLeases(store::Database& db, std::optional<std::string_view> node);

// The events waiting to run (queued, including those leased and being retried) and how long
// the oldest has waited, by the store's clock `now_ms`.
struct EventQueueStats {
  int64_t depth = 0;
  int64_t oldest_age_ms = 0;
};
Result<EventQueueStats> ReadEventQueueStats(store::Database& db, int64_t now_ms);

class EventQueue {
 public:
  EventQueue(store::Database* db, boost::asio::io_context& ioc, Invoker* invoker,
             functions::FunctionService* functions, const Clock* clock, EventQueueOptions options);
  ~EventQueue();

  // Stores an event for `function`:`qualifier`; returns once it is durable.
  Status Enqueue(const functions::Scope& scope, const std::string& function,
                 const std::string& qualifier, const std::string& payload,
                 const std::string& request_id);
  // Starts dispatching. Leases left by an earlier run of this node (a crash, a restart) are
  // released first, so those events run again at once: those of this node id, and on SQLite,
  // which has one node, every lease (each start may bring a new node id).
  void Start();
  void Stop();

 private:
  void Schedule(std::chrono::milliseconds after);
  void Dispatch();
  void Run(const ClaimedEvent& event);
  void Settle(const ClaimedEvent& event, const Result<InvokeOutcome>* outcome,
              const AsyncPolicy& policy);
  // Forgets an event this node no longer runs.
  void Done(const std::string& id);

  store::Database* db_;
  boost::asio::io_context& ioc_;
  Invoker* invoker_;
  functions::FunctionService* functions_;
  const Clock* clock_;
  EventQueueOptions options_;
  boost::asio::steady_timer timer_;

  std::mutex mu_;
  // Events this node is running: never run twice at once here, whatever the leases say.
  std::set<std::string> in_flight_;
  bool stopped_ = true;
};

}  // namespace lambkin::exec
