#include "exec/event_queue.h"

#include <algorithm>
#include <cstdio>
#include <random>

#include <fmt/format.h>
#include <boost/asio/post.hpp>

#include "common/crypto.h"
#include "common/log.h"

namespace lambkin::exec {

using Txn = store::Database::Txn;

namespace {
constexpr char kEventQueueDdl[] = R"sql(
CREATE TABLE IF NOT EXISTS event_invocations (
  id TEXT PRIMARY KEY,
  account TEXT NOT NULL,
  region TEXT NOT NULL,
  function TEXT NOT NULL,
  qualifier TEXT NOT NULL,
  payload BLOB NOT NULL,
  enqueued_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  state TEXT NOT NULL,              -- queued | succeeded | failed
  last_error TEXT
);
CREATE INDEX IF NOT EXISTS event_invocations_due ON event_invocations (state, next_attempt_at);
)sql";

// Leases: the node delivering a queued event, and until when (ms, like next_attempt_at). The
// claim reads only queued events, so its index holds only those, not the finished events kept.
constexpr char kEventLeasesDdl[] = R"sql(
ALTER TABLE event_invocations ADD COLUMN lease_owner TEXT;
ALTER TABLE event_invocations ADD COLUMN lease_until INTEGER;
DROP INDEX IF EXISTS event_invocations_due;
CREATE INDEX IF NOT EXISTS event_invocations_claim
  ON event_invocations (next_attempt_at, lease_until) WHERE state = 'queued';
)sql";

// The node an event's function was homed on when it was queued (placement; NULL: any node).
constexpr char kEventHomeDdl[] = R"sql(
ALTER TABLE event_invocations ADD COLUMN home_node TEXT;
)sql";

// One statement: due events, oldest first, leased to ?1 until ?2. An event is free when it has
// no lease, its lease expired, or its lease holder is not a live node (this one, ?1, or the
// others, {0}: ?5…); {1} leaves out the events homed on another live node; {2} is the locking
// clause.
constexpr char kClaimSql[] =
    "UPDATE event_invocations SET lease_owner = ?1, lease_until = ?2 WHERE id IN ("
    "SELECT id FROM event_invocations WHERE state = 'queued' AND next_attempt_at <= ?3 AND "
    "(lease_until IS NULL OR lease_until <= ?3{0}){1} "
    "ORDER BY next_attempt_at LIMIT ?4{2}) "
    "RETURNING id, account, region, function, qualifier, payload, attempts, enqueued_at";

// PostgreSQL: rows another node is claiming are skipped, not waited for. SQLite has one
// writer, so a claim never meets another.
// Without the live nodes (`live` unset) leases hold until they expire and homes are ignored.
std::string ClaimSql(store::Engine engine, std::optional<size_t> other_nodes) {
  std::string others, free_lease, homed;
  if (other_nodes) {
    for (size_t i = 0; i < *other_nodes; ++i) others += fmt::format(", ?{}", i + 5);
    free_lease = fmt::format(" OR lease_owner NOT IN (?1{})", others);
    if (*other_nodes > 0) {
      homed = fmt::format(" AND (home_node IS NULL OR home_node NOT IN ({}))", others.substr(2));
    }
  }
  return fmt::format(kClaimSql, free_lease, homed,
                     engine == store::Engine::kPostgres ? " FOR UPDATE SKIP LOCKED" : "");
}

void LogError(std::string_view message) {
  log::Warning("", fmt::format("event queue: {}", message));
}

Status InsertEvent(Txn& txn, const QueuedEvent& e, int64_t now) {
  LAMBKIN_ASSIGN_OR_RETURN(
      auto st, txn.Prepare("INSERT INTO event_invocations (id, account, region, function, "
                           "qualifier, payload, enqueued_at, next_attempt_at, state, "
                           "home_node) VALUES (?,?,?,?,?,?,?,?,'queued',?)"));
  st.Bind(1, e.id).Bind(2, e.scope.account).Bind(3, e.scope.region).Bind(4, e.function);
  st.Bind(5, e.qualifier).BindBlob(6, e.payload).Bind(7, now).Bind(8, now);
  st.Bind(9, e.home_node);
  return st.Run();
}
}  // namespace

const store::Migrations& EventQueueSchema() {
  static const store::Migrations kMigrations = {
      {"event_queue", 1, kEventQueueDdl, ""},
      {"event_queue", 2, kEventLeasesDdl, ""},
      {"event_queue", 3, kEventHomeDdl, ""},
  };
  return kMigrations;
}

Result<EventQueueStats> ReadEventQueueStats(store::Database& db, int64_t now_ms) {
  EventQueueStats stats;
  Status s = db.ReadOne([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(auto st,
                             txn.Prepare("SELECT COUNT(*), MIN(enqueued_at) FROM event_invocations "
                                         "WHERE state = 'queued'"));
    LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
    if (row) {
      stats.depth = st.ColumnInt(0);
      if (!st.ColumnIsNull(1)) stats.oldest_age_ms = std::max<int64_t>(0, now_ms - st.ColumnInt(1));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return stats;
}

// The lease operations are single statements that check the lease owner themselves: they need
// no serialised transaction (row locks suffice on PostgreSQL).

Result<std::vector<ClaimedEvent>> ClaimDueEvents(
    store::Database& db, std::string_view node, int64_t now, int64_t lease_until, int limit,
    const std::optional<std::vector<std::string>>& other_nodes) {
  std::vector<ClaimedEvent> claimed;
  if (limit <= 0) return claimed;
  Status s = db.TransactConcurrent([&](Txn& txn) -> Status {
    claimed.clear();
    std::optional<size_t> count;
    if (other_nodes) count = other_nodes->size();
    LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare(ClaimSql(txn.engine(), count)));
    st.Bind(1, node).Bind(2, lease_until).Bind(3, now).Bind(4, static_cast<int64_t>(limit));
    for (size_t i = 0; other_nodes && i < other_nodes->size(); ++i) {
      st.Bind(static_cast<int>(i) + 5, (*other_nodes)[i]);
    }
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      claimed.push_back(ClaimedEvent{st.ColumnText(0),
                                     {st.ColumnText(1), st.ColumnText(2)},
                                     st.ColumnText(3),
                                     st.ColumnText(4),
                                     st.ColumnBlob(5),
                                     st.ColumnInt(6),
                                     lease_until,
                                     st.ColumnInt(7)});
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return claimed;
}

Result<bool> ExtendEventLease(store::Database& db, std::string_view id, std::string_view node,
                              int64_t lease_until) {
  bool held = false;
  Status s = db.TransactConcurrent([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st, txn.Prepare("UPDATE event_invocations SET lease_until = ?1 WHERE id = ?2 AND "
                             "lease_owner = ?3 AND state = 'queued'"));
    LAMBKIN_RETURN_IF_ERROR(st.Bind(1, lease_until).Bind(2, id).Bind(3, node).Run());
    held = txn.Changes() == 1;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return held;
}

Result<bool> SettleEvent(store::Database& db, std::string_view id, std::string_view node,
                         const EventSettlement& settlement,
                         const std::optional<QueuedEvent>& record) {
  bool held = false;
  Status s = db.TransactConcurrent([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st, txn.Prepare("UPDATE event_invocations SET attempts = ?1, next_attempt_at = ?2, "
                             "state = ?3, last_error = ?4, lease_owner = NULL, lease_until = NULL "
                             "WHERE id = ?5 AND lease_owner = ?6"));
    st.Bind(1, settlement.attempts).Bind(2, settlement.next_attempt_at).Bind(3, settlement.state);
    st.Bind(4, settlement.last_error).Bind(5, id).Bind(6, node);
    LAMBKIN_RETURN_IF_ERROR(st.Run());
    held = txn.Changes() == 1;
    // A record is due at once: the settlement of a finished event is at its end.
    if (held && record) return InsertEvent(txn, *record, settlement.next_attempt_at);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return held;
}

AttemptEnd EndAttempt(const ClaimedEvent& event, const Result<InvokeOutcome>* outcome,
                      const AsyncPolicy& policy, const EventQueueOptions& options, int64_t now) {
  bool throttled = outcome != nullptr && !outcome->ok() &&
                   outcome->status().code() == StatusCode::kTooManyRequests;
  // Reserved concurrency 0: Lambda does not wait for it to change, the event fails at once.
  bool zero_reserved = throttled && outcome->status().message() == kZeroReservedConcurrency;
  bool gone = outcome != nullptr && !outcome->ok() &&
              outcome->status().code() == StatusCode::kResourceNotFound;
  bool failed = outcome == nullptr || !outcome->ok() || (*outcome)->function_error.has_value();
  bool attempted = outcome != nullptr && !throttled && !gone;
  AttemptEnd end{{"queued", event.attempts + (attempted ? 1 : 0), now, ""}, "", std::nullopt};
  int64_t deadline = event.enqueued_at + policy.maximum_event_age_ms;
  if (outcome == nullptr) {
    end.settlement.state = "failed";
    end.settlement.last_error = "EventAgeExceeded";
    end.condition = "EventAgeExceeded";
  } else if (!failed) {
    end.settlement.state = "succeeded";
    end.condition = "Success";
  } else if (zero_reserved) {
    end.settlement.state = "failed";
    end.condition = "ZeroReservedConcurrency";
  } else if (gone) {
    // The function (or the version) was deleted meanwhile: nothing left to run it on, and its
    // configuration went with it.
    end.settlement.state = "failed";
  } else if (end.settlement.attempts > policy.maximum_retry_attempts) {
    end.settlement.state = "failed";
    end.condition = "RetriesExhausted";
  } else {
    int64_t delay = options.throttle_delay_ms;
    if (!throttled) {
      size_t n = static_cast<size_t>(end.settlement.attempts - 1);
      const auto& delays = options.retry_delays_ms;
      delay = delays.empty() ? 0 : delays[std::min(n, delays.size() - 1)];
    }
    end.settlement.next_attempt_at = now + delay;
    if (end.settlement.next_attempt_at > deadline) {
      // Lambda does not wait for a retry the event would be too old for.
      end.settlement.state = "failed";
      end.settlement.next_attempt_at = now;
      end.condition = "EventAgeExceeded";
    }
  }
  if (outcome != nullptr) {
    end.settlement.last_error = outcome->ok() ? (failed ? (*outcome)->payload : std::string())
                                              : outcome->status().message();
  }
  const std::optional<std::string>& destination =
      end.condition == "Success" ? policy.on_success : policy.on_failure;
  if (end.condition.empty() || !destination) return end;
  auto target = ParseFunctionDestination(*destination);
  if (!target) {
    LogError(fmt::format("event {}: destination {} is not a function", event.id, *destination));
    return end;
  }
  std::optional<InvocationResult> response;
  if (outcome != nullptr && outcome->ok()) {
    response = InvocationResult{(*outcome)->executed_version, (*outcome)->function_error,
                                (*outcome)->payload};
  }
  std::string arn =
      functions::FunctionArn(event.scope, event.function, ConfigQualifier(event.qualifier));
  QueuedEvent record{RandomUuid(),
                     target->scope,
                     target->function,
                     target->qualifier,
                     InvocationRecord(event.id, arn, end.condition, end.settlement.attempts,
                                      event.payload, response, now),
                     std::nullopt};
  if (options.home_of) record.home_node = options.home_of(target->scope, target->function);
  end.record = std::move(record);
  return end;
}

Result<int64_t> ReleaseEventLeases(store::Database& db, std::optional<std::string_view> node) {
  int64_t released = 0;
  Status s = db.TransactConcurrent([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st, txn.Prepare(node ? "UPDATE event_invocations SET lease_owner = NULL, lease_until "
                                    "= NULL WHERE state = 'queued' AND lease_owner = ?1"
                                  : "UPDATE event_invocations SET lease_owner = NULL, lease_until "
                                    "= NULL WHERE state = 'queued' AND lease_owner IS NOT NULL"));
    if (node) st.Bind(1, *node);
    LAMBKIN_RETURN_IF_ERROR(st.Run());
    released = txn.Changes();
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return released;
}

EventQueue::EventQueue(store::Database* db, boost::asio::io_context& ioc, Invoker* invoker,
                       functions::FunctionService* functions, const Clock* clock,
                       EventQueueOptions options)
    : db_(db),
      ioc_(ioc),
      invoker_(invoker),
      functions_(functions),
      clock_(clock),
      options_(std::move(options)),
      timer_(ioc) {}

EventQueue::~EventQueue() { Stop(); }

Status EventQueue::Enqueue(const functions::Scope& scope, const std::string& function,
                           const std::string& qualifier, const std::string& payload,
                           const std::string& request_id) {
  int64_t now = clock_->NowMillis();
  // A new row: nothing to serialise against other writers.
  QueuedEvent event{request_id, scope, function, qualifier, payload, std::nullopt};
  if (options_.home_of) event.home_node = options_.home_of(scope, function);
  Status s =
      db_->TransactConcurrent([&](Txn& txn) -> Status { return InsertEvent(txn, event, now); });
  if (s.ok()) boost::asio::post(ioc_, [this] { Dispatch(); });
  return s;
}

void EventQueue::Start() {
  {
    std::lock_guard lock(mu_);
    stopped_ = false;
    // Leases this node id holds come from an earlier run that is gone (a crash or restart), so
    // their events run again now instead of when the leases expire. SQLite has one node (the
    // data directory is locked): every lease there is an earlier run's, whatever its node id.
    // (Nothing is released when this queue was stopped and started again while its own events
    // still run.)
    if (in_flight_.empty()) {
      auto released =
          ReleaseEventLeases(*db_, db_->engine() == store::Engine::kSqlite
                                       ? std::nullopt
                                       : std::optional<std::string_view>(options_.node_id));
      if (!released.ok()) LogError(released.status().message());
    }
  }
  Schedule(std::chrono::milliseconds(0));
}

void EventQueue::Stop() {
  std::lock_guard lock(mu_);
  stopped_ = true;
  timer_.cancel();
}

void EventQueue::Schedule(std::chrono::milliseconds after) {
  timer_.expires_after(after);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    Dispatch();
    Schedule(options_.poll);
  });
}

void EventQueue::Dispatch() {
  std::vector<ClaimedEvent> claimed;
  {
    // Held across the claim, so concurrent dispatches never claim more than there is room for.
    std::lock_guard lock(mu_);
    if (stopped_) return;
    int room = options_.max_in_flight - static_cast<int>(in_flight_.size());
    if (room <= 0) return;
    int64_t now = clock_->NowMillis();
    auto events = ClaimDueEvents(
        *db_, options_.node_id, now, now + options_.claim_lease_ms, room,
        options_.other_nodes ? std::optional<std::vector<std::string>>(options_.other_nodes())
                             : std::nullopt);
    if (!events.ok()) {
      LogError(events.status().message());
      return;
    }
    for (auto& e : *events) {
      // Still running here although its lease expired (the clock jumped): it runs once; the
      // running invocation settles it.
      if (!in_flight_.insert(e.id).second) continue;
      claimed.push_back(std::move(e));
    }
  }
  for (const auto& e : claimed) Run(e);
}

void EventQueue::Run(const ClaimedEvent& event) {
  // The configuration of the qualifier the event was invoked with, read now: a change applies
  // to the attempts that start after it.
  auto config = EventInvokeConfigStore(db_).Get(event.scope, event.function,
                                                ConfigQualifier(event.qualifier));
  if (!config.ok()) {
    // Still leased here: it runs when the lease expires.
    LogError(config.status().message());
    return Done(event.id);
  }
  AsyncPolicy policy = PolicyOf(*config, static_cast<int64_t>(options_.retry_delays_ms.size()));
  if (clock_->NowMillis() >= event.enqueued_at + policy.maximum_event_age_ms) {
    return Settle(event, nullptr, policy);
  }
  thread_local std::mt19937_64 rng(std::random_device{}());
  double draw = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
  auto version = functions_->ResolveInvocation(event.scope, event.function, event.qualifier, draw);
  if (!version.ok()) {
    Result<InvokeOutcome> gone = version.status();
    return Settle(event, &gone, policy);
  }
  auto reserved = functions_->GetReservedConcurrency(event.scope, event.function);
  if (!reserved.ok()) {
    Result<InvokeOutcome> failed = reserved.status();
    return Settle(event, &failed, policy);
  }
  if (*reserved && **reserved == 0) {
    Result<InvokeOutcome> throttled =
        Status(StatusCode::kTooManyRequests, kZeroReservedConcurrency);
    return Settle(event, &throttled, policy);
  }
  // The lease must outlast the invocation: its timeout plus the margin. The claim's lease
  // (taken before the function was known) covers most functions; a longer timeout extends it
  // before the invocation starts, which also checks that this node still holds it.
  int64_t needed = clock_->NowMillis() + version->config.timeout * 1000 + options_.lease_margin_ms;
  if (needed > event.lease_until) {
    auto held = ExtendEventLease(*db_, event.id, options_.node_id, needed);
    if (!held.ok() || !*held) {
      LogError(held.ok() ? fmt::format("event {}: lease lost before it started", event.id)
                         : held.status().message());
      return Done(event.id);
    }
  }
  InvokeRequest request{event.id, event.payload,
                        functions::FunctionArn(event.scope, event.function, event.qualifier), "",
                        false};
  invoker_->Invoke(event.scope, *version, *reserved, std::move(request),
                   [this, event, policy](const Result<InvokeOutcome>& outcome) {
                     Settle(event, &outcome, policy);
                   });
}

void EventQueue::Settle(const ClaimedEvent& event, const Result<InvokeOutcome>* outcome,
                        const AsyncPolicy& policy) {
  AttemptEnd end = EndAttempt(event, outcome, policy, options_, clock_->NowMillis());
  auto settled = SettleEvent(*db_, event.id, options_.node_id, end.settlement, end.record);
  if (!settled.ok()) {
    // Still leased here: it runs again when the lease expires.
    LogError(settled.status().message());
  } else if (!*settled) {
    // The lease expired and another node took the event over: that node delivers it.
    LogError(fmt::format("event {}: lease lost; its result is not recorded", event.id));
  } else if (end.record) {
    // The record is queued: deliver it now rather than at the next poll.
    boost::asio::post(ioc_, [this] { Dispatch(); });
  }
  Done(event.id);
}

void EventQueue::Done(const std::string& id) {
  std::lock_guard lock(mu_);
  in_flight_.erase(id);
}

}  // namespace lambkin::exec
