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
}  // namespace

const store::Migrations& EventQueueSchema() {
  static const store::Migrations kMigrations = {
      {"event_queue", 1, kEventQueueDdl, ""},
  };
  return kMigrations;
}

using Txn = store::Database::Txn;

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
  Status s = db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st, txn.Prepare("INSERT INTO event_invocations (id, account, region, function, "
                             "qualifier, payload, enqueued_at, next_attempt_at, state) VALUES "
                             "(?,?,?,?,?,?,?,?,'queued')"));
    st.Bind(1, request_id).Bind(2, scope.account).Bind(3, scope.region).Bind(4, function);
    st.Bind(5, qualifier).BindBlob(6, payload).Bind(7, now).Bind(8, now);
    return st.Run();
  });
  if (s.ok()) boost::asio::post(ioc_, [this] { Dispatch(); });
  return s;
}

void EventQueue::Start() {
  {
    std::lock_guard lock(mu_);
    stopped_ = false;
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
  std::vector<Event> due;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    int room = options_.max_in_flight - static_cast<int>(in_flight_.size());
    if (room <= 0) return;
    int64_t now = clock_->NowMillis();
    Status s = db_->Read([&](Txn& txn) -> Status {
      LAMBKIN_ASSIGN_OR_RETURN(
          auto st, txn.Prepare("SELECT id, account, region, function, qualifier, payload, "
                               "attempts FROM event_invocations WHERE state = 'queued' AND "
                               "next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?"));
      st.Bind(1, now).Bind(2, room + static_cast<int64_t>(in_flight_.size()));
      while (true) {
        LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        std::string id = st.ColumnText(0);
        if (in_flight_.contains(id)) continue;
        due.push_back(Event{id,
                            {st.ColumnText(1), st.ColumnText(2)},
                            st.ColumnText(3),
                            st.ColumnText(4),
                            st.ColumnBlob(5),
                            st.ColumnInt(6)});
        if (static_cast<int>(due.size()) == room) break;
      }
      return Status::Ok();
    });
    if (!s.ok()) {
      std::fprintf(stderr, "lambkin: event queue: %s\n", s.message().c_str());
      return;
    }
    for (const auto& e : due) in_flight_.insert(e.id);
  }
  for (const auto& e : due) Run(e);
}

void EventQueue::Run(const Event& event) {
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
  InvokeRequest request{event.id, event.payload,
                        functions::FunctionArn(event.scope, event.function, event.qualifier), "",
                        false};
  invoker_->Invoke(event.scope, *version, *reserved, std::move(request),
                   [this, event](const Result<InvokeOutcome>& outcome) { Settle(event, outcome); });
}

void EventQueue::Settle(const Event& event, const Result<InvokeOutcome>& outcome) {
  int64_t now = clock_->NowMillis();
  bool throttled = !outcome.ok() && outcome.status().code() == StatusCode::kTooManyRequests;
  bool gone = !outcome.ok() && outcome.status().code() == StatusCode::kResourceNotFound;
  bool failed = !outcome.ok() || outcome->function_error.has_value();
  int64_t attempts = event.attempts + (throttled ? 0 : 1);
  std::string state = "queued";
  int64_t next = now;
  if (!failed) {
    state = "succeeded";
  } else if (throttled) {
    next = now + options_.throttle_delay_ms;
  } else if (gone || attempts > static_cast<int64_t>(options_.retry_delays_ms.size())) {
    state = "failed";
  } else {
    next = now + options_.retry_delays_ms[static_cast<size_t>(attempts - 1)];
  }
  std::string error =
      outcome.ok() ? (failed ? outcome->payload : std::string()) : outcome.status().message();
  Status s = db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st, txn.Prepare("UPDATE event_invocations SET attempts = ?, next_attempt_at = ?, "
                             "state = ?, last_error = ? WHERE id = ?"));
    st.Bind(1, attempts).Bind(2, next).Bind(3, state).Bind(4, error).Bind(5, event.id);
    return st.Run();
  });
  if (!s.ok()) std::fprintf(stderr, "lambkin: event queue: %s\n", s.message().c_str());
  std::lock_guard lock(mu_);
  in_flight_.erase(event.id);
}

}  // namespace lambkin::exec
