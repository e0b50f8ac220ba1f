#include "exec/event_queue.h"

#include <cstdio>
#include <random>

#include <fmt/format.h>
#include <boost/asio/post.hpp>

namespace lambkin::exec {

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
    "RETURNING id, account, region, function, qualifier, payload, attempts";

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
  std::fprintf(stderr, "lambkin: event queue: %.*s\n", static_cast<int>(message.size()),
               message.data());
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

using Txn = store::Database::Txn;

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
                                     lease_until});
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
                         const EventSettlement& settlement) {
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
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return held;
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
  Status s = db_->TransactConcurrent([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st, txn.Prepare("INSERT INTO event_invocations (id, account, region, function, "
                             "qualifier, payload, enqueued_at, next_attempt_at, state, "
                             "home_node) VALUES (?,?,?,?,?,?,?,?,'queued',?)"));
    st.Bind(1, request_id).Bind(2, scope.account).Bind(3, scope.region).Bind(4, function);
    st.Bind(5, qualifier).BindBlob(6, payload).Bind(7, now).Bind(8, now);
    if (options_.home_of) {
      st.Bind(9, options_.home_of(scope, function));
    } else {
      st.BindNull(9);
    }
    return st.Run();
  });
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
  thread_local std::mt19937_64 rng(std::random_device{}());
  double draw = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
  auto version = functions_->ResolveInvocation(event.scope, event.function, event.qualifier, draw);
  if (!version.ok()) {
    // The function (or version) was deleted meanwhile: nothing left to run it on.
    Settle(event, version.status());
    return;
  }
  auto reserved = functions_->GetReservedConcurrency(event.scope, event.function);
  if (!reserved.ok()) return Settle(event, reserved.status());
  if (*reserved && **reserved == 0) {
    return Settle(event, Status(StatusCode::kTooManyRequests,
                                "ReservedFunctionConcurrentInvocationLimitExceeded"));
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
                   [this, event](const Result<InvokeOutcome>& outcome) { Settle(event, outcome); });
}

void EventQueue::Settle(const ClaimedEvent& event, const Result<InvokeOutcome>& outcome) {
  int64_t now = clock_->NowMillis();
  bool throttled = !outcome.ok() && outcome.status().code() == StatusCode::kTooManyRequests;
  bool gone = !outcome.ok() && outcome.status().code() == StatusCode::kResourceNotFound;
  bool failed = !outcome.ok() || outcome->function_error.has_value();
  EventSettlement next{"queued", event.attempts + (throttled ? 0 : 1), now, ""};
  if (!failed) {
    next.state = "succeeded";
  } else if (throttled) {
    next.next_attempt_at = now + options_.throttle_delay_ms;
  } else if (gone || next.attempts > static_cast<int64_t>(options_.retry_delays_ms.size())) {
    next.state = "failed";
  } else {
    next.next_attempt_at = now + options_.retry_delays_ms[static_cast<size_t>(next.attempts - 1)];
  }
  next.last_error =
      outcome.ok() ? (failed ? outcome->payload : std::string()) : outcome.status().message();
  auto settled = SettleEvent(*db_, event.id, options_.node_id, next);
  if (!settled.ok()) {
    // Still leased here: it runs again when the lease expires.
    LogError(settled.status().message());
  } else if (!*settled) {
    // The lease expired and another node took the event over: that node delivers it.
    LogError(fmt::format("event {}: lease lost; its result is not recorded", event.id));
  }
  Done(event.id);
}

void EventQueue::Done(const std::string& id) {
  std::lock_guard lock(mu_);
  in_flight_.erase(id);
}

}  // namespace lambkin::exec
