#include "exec/event_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "catalog/catalog.h"
#include "common/crypto.h"
#include "store/postgres_testing.h"

namespace lambkin::exec {
namespace {

namespace fs = std::filesystem;
using Txn = store::Database::Txn;

constexpr int64_t kStart = 1700000000000;
constexpr int64_t kLease = 90000;

// Each test on a fresh store of either engine: a SQLite file, or a new database on the
// PostgreSQL server LAMBKIN_TEST_POSTGRES names (skipped without it). Nodes are separate
// Database handles on that store, as separate processes would have.
class EventLeaseTest : public ::testing::TestWithParam<store::Engine> {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/events-" + RandomUuid();
    fs::create_directories(dir_);
    auto location = store::testing::StoreLocation(GetParam(), dir_ + "/db", &pg_);
    ASSERT_TRUE(location.ok()) << location.status().message();
    if (location->empty()) GTEST_SKIP() << "LAMBKIN_TEST_POSTGRES is not set";
    location_ = *location;
  }

  void TearDown() override {
    queue_.reset();
    nodes_.clear();
    pg_.reset();
    fs::remove_all(dir_);
  }

  // A node's handle on the store (migrated to `migrations`).
  store::Database& Node(const store::Migrations& migrations = EventQueueSchema()) {
    auto db = store::Database::Open(location_, migrations);
    EXPECT_TRUE(db.ok()) << db.status().message();
    if (!db.ok()) std::abort();
    nodes_.push_back(std::move(*db));
    return *nodes_.back();
  }

  // An EventQueue of node `node_id` that only enqueues (nothing runs its io_context); its
  // events are homed on `home` when given.
  EventQueue& Queue(store::Database& db, const std::string& node_id = "local",
                    const std::string& home = "") {
    EventQueueOptions options;
    options.node_id = node_id;
    if (!home.empty()) {
      options.home_of = [home](const functions::Scope&, const std::string&) { return home; };
    }
    queue_ = std::make_unique<EventQueue>(&db, ioc_, nullptr, nullptr, &clock_, options);
    return *queue_;
  }

  void Enqueue(store::Database& db, const std::string& id, const std::string& payload = "{}") {
    EventQueue& q = queue_ ? *queue_ : Queue(db);
    ASSERT_TRUE(q.Enqueue(scope_, "fn", "$LATEST", payload, id).ok());
  }

  struct Row {
    std::string state;
    int64_t attempts = 0;
    int64_t next_attempt_at = 0;
    std::optional<std::string> lease_owner;
    std::optional<int64_t> lease_until;
  };
  Row Get(store::Database& db, const std::string& id) {
    Row row;
    Status s = db.Read([&](Txn& txn) -> Status {
      LAMBKIN_ASSIGN_OR_RETURN(
          auto st, txn.Prepare("SELECT state, attempts, next_attempt_at, lease_owner, lease_until "
                               "FROM event_invocations WHERE id = ?"));
      st.Bind(1, id);
      LAMBKIN_ASSIGN_OR_RETURN(bool found, st.Step());
      if (!found) return NotFound(id);
      row = {st.ColumnText(0), st.ColumnInt(1), st.ColumnInt(2), st.ColumnOptionalText(3),
             st.ColumnOptionalInt(4)};
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.message();
    return row;
  }

  static std::vector<std::string> Ids(const std::vector<ClaimedEvent>& events) {
    std::vector<std::string> ids;
    ids.reserve(events.size());
    for (const auto& e : events) ids.push_back(e.id);
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  std::string dir_, location_;
  std::unique_ptr<store::testing::TestPostgresDatabase> pg_;
  ManualClock clock_{kStart};
  functions::Scope scope_{"123456789012", "us-east-1"};
  std::vector<std::unique_ptr<store::Database>> nodes_;
  boost::asio::io_context ioc_;
  std::unique_ptr<EventQueue> queue_;
};

TEST_P(EventLeaseTest, AnEventRunsOnItsHomeNodeWhileThatNodeIsLive) {
  store::Database& a = Node();
  store::Database& b = Node();
  Queue(a, "node-a", "node-b");
  Enqueue(a, "homed-on-b");
  int64_t now = clock_.NowMillis();
  // node-a sees node-b live: the event is b's.
  auto by_a = ClaimDueEvents(a, "node-a", now, now + kLease, 16, {{"node-b"}});
  ASSERT_TRUE(by_a.ok()) << by_a.status().message();
  EXPECT_TRUE(by_a->empty());
  auto by_b = ClaimDueEvents(b, "node-b", now, now + kLease, 16, {{"node-a"}});
  ASSERT_TRUE(by_b.ok()) << by_b.status().message();
  EXPECT_EQ(Ids(*by_b), std::vector<std::string>{"homed-on-b"});
  EXPECT_EQ(Get(a, "homed-on-b").lease_owner, "node-b");

  // node-b gone (no longer among the live others): its events are anyone's, and its lease on
  // homed-on-b is void.
  Enqueue(a, "orphan");
  auto orphan = ClaimDueEvents(a, "node-a", now, now + kLease, 16, {{"node-c"}});
  ASSERT_TRUE(orphan.ok()) << orphan.status().message();
  EXPECT_EQ(Ids(*orphan), (std::vector<std::string>{"homed-on-b", "orphan"}));

  // node-a's leases hold while node-a is live, and are void once node-a is gone.
  auto while_live = ClaimDueEvents(b, "node-b", now, now + kLease, 16, {{"node-a"}});
  ASSERT_TRUE(while_live.ok()) << while_live.status().message();
  EXPECT_TRUE(while_live->empty());
  auto after = ClaimDueEvents(b, "node-b", now, now + kLease, 16, {{}});
  ASSERT_TRUE(after.ok()) << after.status().message();
  EXPECT_EQ(Ids(*after), (std::vector<std::string>{"homed-on-b", "orphan"}));
  EXPECT_EQ(Get(a, "orphan").lease_owner, "node-b");
}

TEST_P(EventLeaseTest, ClaimHidesEventFromOtherNodesUntilTheLeaseExpires) {
  store::Database& a = Node();
  store::Database& b = Node();
  Enqueue(a, "e1", R"({"n":1})");

  int64_t now = clock_.NowMillis();
  auto claimed = ClaimDueEvents(a, "node-a", now, now + kLease, 16);
  ASSERT_TRUE(claimed.ok()) << claimed.status().message();
  ASSERT_EQ(claimed->size(), 1u);
  const ClaimedEvent& e = claimed->front();
  EXPECT_EQ(e.id, "e1");
  EXPECT_EQ(e.scope.account, scope_.account);
  EXPECT_EQ(e.scope.region, scope_.region);
  EXPECT_EQ(e.function, "fn");
  EXPECT_EQ(e.qualifier, "$LATEST");
  EXPECT_EQ(e.payload, R"({"n":1})");
  EXPECT_EQ(e.attempts, 0);
  EXPECT_EQ(e.lease_until, now + kLease);
  Row row = Get(b, "e1");
  EXPECT_EQ(row.lease_owner, "node-a");
  EXPECT_EQ(row.lease_until, now + kLease);

  // Neither B nor A itself claims it again while the lease holds.
  clock_.Advance(kLease - 1);
  now = clock_.NowMillis();
  auto none = ClaimDueEvents(b, "node-b", now, now + kLease, 16);
  ASSERT_TRUE(none.ok()) << none.status().message();
  EXPECT_TRUE(none->empty());
  none = ClaimDueEvents(a, "node-a", now, now + kLease, 16);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());

  // A died: once its lease expires, B claims the event and delivers it.
  clock_.Advance(1);
  now = clock_.NowMillis();
  auto taken = ClaimDueEvents(b, "node-b", now, now + kLease, 16);
  ASSERT_TRUE(taken.ok()) << taken.status().message();
  ASSERT_EQ(Ids(*taken), std::vector<std::string>{"e1"});
  EXPECT_EQ(taken->front().payload, R"({"n":1})");
  EXPECT_EQ(Get(a, "e1").lease_owner, "node-b");
  auto settled = SettleEvent(b, "e1", "node-b", {"succeeded", 1, now, ""});
  ASSERT_TRUE(settled.ok()) << settled.status().message();
  EXPECT_TRUE(*settled);

  row = Get(a, "e1");
  EXPECT_EQ(row.state, "succeeded");
  EXPECT_EQ(row.attempts, 1);
  EXPECT_FALSE(row.lease_owner);
  EXPECT_FALSE(row.lease_until);
  clock_.Advance(10 * kLease);
  now = clock_.NowMillis();
  none = ClaimDueEvents(a, "node-a", now, now + kLease, 16);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty()) << "a delivered event is not claimed again";
}

TEST_P(EventLeaseTest, SettleAfterLosingTheLeaseChangesNothing) {
  store::Database& a = Node();
  store::Database& b = Node();
  Enqueue(a, "e1");
  int64_t now = clock_.NowMillis();
  ASSERT_EQ(ClaimDueEvents(a, "node-a", now, now + kLease, 16)->size(), 1u);
  clock_.Advance(kLease);
  now = clock_.NowMillis();
  ASSERT_EQ(ClaimDueEvents(b, "node-b", now, now + kLease, 16)->size(), 1u);

  // A's invocation ends late: its failure (a retry), its lease extension, change nothing.
  auto settled = SettleEvent(a, "e1", "node-a", {"queued", 1, now + 60000, "boom"});
  ASSERT_TRUE(settled.ok()) << settled.status().message();
  EXPECT_FALSE(*settled);
  auto extended = ExtendEventLease(a, "e1", "node-a", now + 10 * kLease);
  ASSERT_TRUE(extended.ok()) << extended.status().message();
  EXPECT_FALSE(*extended);
  Row row = Get(a, "e1");
  EXPECT_EQ(row.state, "queued");
  EXPECT_EQ(row.attempts, 0);
  EXPECT_EQ(row.next_attempt_at, kStart);
  EXPECT_EQ(row.lease_owner, "node-b");
  EXPECT_EQ(row.lease_until, now + kLease);

  // B's settle applies; A's, after it, still changes nothing.
  settled = SettleEvent(b, "e1", "node-b", {"succeeded", 1, now, ""});
  ASSERT_TRUE(settled.ok());
  EXPECT_TRUE(*settled);
  settled = SettleEvent(a, "e1", "node-a", {"failed", 3, now, "late"});
  ASSERT_TRUE(settled.ok());
  EXPECT_FALSE(*settled);
  row = Get(a, "e1");
  EXPECT_EQ(row.state, "succeeded");
  EXPECT_EQ(row.attempts, 1);
  EXPECT_FALSE(row.lease_owner);
}

TEST_P(EventLeaseTest, ExtendedLeaseHoldsPastTheClaimLease) {
  store::Database& a = Node();
  store::Database& b = Node();
  Enqueue(a, "long");
  int64_t now = clock_.NowMillis();
  ASSERT_EQ(ClaimDueEvents(a, "node-a", now, now + kLease, 16)->size(), 1u);
  // A function with a 900 s timeout starts: its lease becomes 900 s plus the margin.
  auto extended = ExtendEventLease(a, "long", "node-a", now + 930000);
  ASSERT_TRUE(extended.ok()) << extended.status().message();
  EXPECT_TRUE(*extended);
  clock_.Advance(kLease);
  now = clock_.NowMillis();
  EXPECT_TRUE(ClaimDueEvents(b, "node-b", now, now + kLease, 16)->empty());
  clock_.Advance(930000 - kLease);
  now = clock_.NowMillis();
  EXPECT_EQ(ClaimDueEvents(b, "node-b", now, now + kLease, 16)->size(), 1u);
}

TEST_P(EventLeaseTest, RetryWaitsForItsTimeAndCountsTheAttempt) {
  store::Database& a = Node();
  Enqueue(a, "e1");
  int64_t now = clock_.NowMillis();
  ASSERT_EQ(ClaimDueEvents(a, "node-a", now, now + kLease, 16)->size(), 1u);
  auto settled = SettleEvent(a, "e1", "node-a", {"queued", 1, now + 60000, "boom"});
  ASSERT_TRUE(settled.ok() && *settled);
  clock_.Advance(59999);
  now = clock_.NowMillis();
  EXPECT_TRUE(ClaimDueEvents(a, "node-b", now, now + kLease, 16)->empty());
  clock_.Advance(1);
  now = clock_.NowMillis();
  auto retry = ClaimDueEvents(a, "node-b", now, now + kLease, 16);
  ASSERT_TRUE(retry.ok());
  ASSERT_EQ(retry->size(), 1u);
  EXPECT_EQ(retry->front().attempts, 1);
}

TEST_P(EventLeaseTest, ClaimTakesTheOldestDueEventsUpToTheLimit) {
  store::Database& a = Node();
  for (int i = 0; i < 5; ++i) {
    Enqueue(a, fmt::format("e{}", i));
    clock_.Advance(1);
  }
  int64_t now = clock_.NowMillis();
  auto first = ClaimDueEvents(a, "node-a", now, now + kLease, 2);
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(Ids(*first), (std::vector<std::string>{"e0", "e1"}));
  auto rest = ClaimDueEvents(a, "node-b", now, now + kLease, 16);
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(Ids(*rest), (std::vector<std::string>{"e2", "e3", "e4"}));
  EXPECT_TRUE(ClaimDueEvents(a, "node-a", now, now + kLease, 0)->empty());
}

TEST_P(EventLeaseTest, StartReleasesTheLeasesOfThisNodesEarlierRun) {
  store::Database& db = Node();
  Enqueue(db, "mine");
  Enqueue(db, "theirs");
  int64_t now = clock_.NowMillis();
  ASSERT_EQ(ClaimDueEvents(db, "node-a", now, now + kLease, 1)->size(), 1u);
  ASSERT_EQ(ClaimDueEvents(db, "node-b", now, now + kLease, 1)->size(), 1u);
  // The process that held node-a's leases died; one under the same node id starts.
  store::Database& restarted = Node();
  Queue(restarted, "node-a").Start();
  auto again = ClaimDueEvents(restarted, "node-a", now, now + kLease, 16);
  ASSERT_TRUE(again.ok());
  if (GetParam() == store::Engine::kPostgres) {
    EXPECT_EQ(Ids(*again), std::vector<std::string>{"mine"});
    EXPECT_EQ(Get(db, "theirs").lease_owner, "node-b");
  } else {
    // SQLite has one node: every lease left is an earlier run's.
    EXPECT_EQ(Ids(*again), (std::vector<std::string>{"mine", "theirs"}));
  }
}

TEST_P(EventLeaseTest, RestartUnderANewNodeIdOnSqliteResumesAtOnce) {
  if (GetParam() != store::Engine::kSqlite) GTEST_SKIP() << "a SQLite store has one node";
  store::Database& db = Node();
  Enqueue(db, "e1");
  int64_t now = clock_.NowMillis();
  ASSERT_EQ(ClaimDueEvents(db, "first-run", now, now + kLease, 16)->size(), 1u);
  store::Database& restarted = Node();
  Queue(restarted, "second-run").Start();
  auto again = ClaimDueEvents(restarted, "second-run", now, now + kLease, 16);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Ids(*again), std::vector<std::string>{"e1"});
}

TEST_P(EventLeaseTest, ConcurrentNodesClaimEachEventOnce) {
  constexpr int kEvents = 60;
  constexpr int kNodes = 4;
  store::Database& first = Node();
  for (int i = 0; i < kEvents; ++i) Enqueue(first, fmt::format("e{:02}", i));
  std::vector<store::Database*> nodes;
  nodes.reserve(kNodes);
  for (int n = 0; n < kNodes; ++n) nodes.push_back(&Node());
  std::mutex mu;
  std::vector<std::string> all;
  std::vector<std::thread> threads;
  threads.reserve(kNodes);
  int64_t now = clock_.NowMillis();
  for (int n = 0; n < kNodes; ++n) {
    threads.emplace_back([&, n] {
      std::string node = fmt::format("node-{}", n);
      while (true) {
        auto claimed = ClaimDueEvents(*nodes[static_cast<size_t>(n)], node, now, now + kLease, 3);
        ASSERT_TRUE(claimed.ok()) << claimed.status().message();
        if (claimed->empty()) return;
        for (const auto& e : *claimed) {
          auto settled =
              SettleEvent(*nodes[static_cast<size_t>(n)], e.id, node, {"succeeded", 1, now, ""});
          ASSERT_TRUE(settled.ok() && *settled) << e.id;
        }
        std::lock_guard lock(mu);
        for (const auto& e : *claimed) all.push_back(e.id);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), static_cast<size_t>(kEvents));
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "an event claimed twice";
}

TEST_P(EventLeaseTest, StoreWithoutLeasesMigratesAndDeliversItsQueue) {
  {
    // A store written before leases: the first migration only, an event queued.
    store::Database& old = Node({EventQueueSchema().front()});
    Status s = old.Transact([&](Txn& txn) -> Status {
      LAMBKIN_ASSIGN_OR_RETURN(
          auto st, txn.Prepare("INSERT INTO event_invocations (id, account, region, function, "
                               "qualifier, payload, enqueued_at, next_attempt_at, state) VALUES "
                               "('old', ?, ?, 'fn', '$LATEST', ?, ?, ?, 'queued')"));
      st.Bind(1, scope_.account).Bind(2, scope_.region).BindBlob(3, "{\"old\":true}");
      return st.Bind(4, kStart).Bind(5, kStart).Run();
    });
    ASSERT_TRUE(s.ok()) << s.message();
    nodes_.clear();
  }
  store::Database& db = Node();
  int64_t now = clock_.NowMillis();
  auto claimed = ClaimDueEvents(db, "local", now, now + kLease, 16);
  ASSERT_TRUE(claimed.ok()) << claimed.status().message();
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ(claimed->front().id, "old");
  EXPECT_EQ(claimed->front().payload, "{\"old\":true}");
}

// --- Asynchronous invocation configuration: retries, event age, destinations ---

ClaimedEvent Claimed(int64_t attempts, int64_t enqueued_at, std::string qualifier = "") {
  ClaimedEvent e;
  e.id = "req-1";
  e.scope = {"123456789012", "us-east-1"};
  e.function = "fn";
  e.qualifier = std::move(qualifier);
  e.payload = R"({"n":1})";
  e.attempts = attempts;
  e.enqueued_at = enqueued_at;
  return e;
}

Result<InvokeOutcome> FunctionError() {
  return InvokeOutcome{R"({"errorMessage":"boom","errorType":"Error"})", "application/json",
                       "Unhandled", "$LATEST", ""};
}

TEST(EndAttemptTest, MaximumRetryAttemptsDecidesTheAttempts) {
  EventQueueOptions options;
  options.retry_delays_ms = {100, 200};
  Result<InvokeOutcome> failed = FunctionError();
  // The server's delays give the default: two retries, then RetriesExhausted.
  AsyncPolicy defaults = PolicyOf(std::nullopt, 2);
  AttemptEnd end = EndAttempt(Claimed(0, kStart), &failed, defaults, options, kStart);
  EXPECT_EQ(end.settlement.state, "queued");
  EXPECT_EQ(end.settlement.attempts, 1);
  EXPECT_EQ(end.settlement.next_attempt_at, kStart + 100);
  EXPECT_TRUE(end.condition.empty());
  end = EndAttempt(Claimed(1, kStart), &failed, defaults, options, kStart);
  EXPECT_EQ(end.settlement.state, "queued");
  EXPECT_EQ(end.settlement.next_attempt_at, kStart + 200);
  end = EndAttempt(Claimed(2, kStart), &failed, defaults, options, kStart);
  EXPECT_EQ(end.settlement.state, "failed");
  EXPECT_EQ(end.settlement.attempts, 3);
  EXPECT_EQ(end.condition, "RetriesExhausted");

  // MaximumRetryAttempts 0: the first failure is the last.
  EventInvokeConfig none{"$LATEST", 0, std::nullopt, std::nullopt, std::nullopt, kStart};
  end = EndAttempt(Claimed(0, kStart), &failed, PolicyOf(none, 2), options, kStart);
  EXPECT_EQ(end.settlement.state, "failed");
  EXPECT_EQ(end.settlement.attempts, 1);
  EXPECT_EQ(end.condition, "RetriesExhausted");
  // 1: one retry.
  EventInvokeConfig one{"$LATEST", 1, std::nullopt, std::nullopt, std::nullopt, kStart};
  end = EndAttempt(Claimed(0, kStart), &failed, PolicyOf(one, 2), options, kStart);
  EXPECT_EQ(end.settlement.state, "queued");
  end = EndAttempt(Claimed(1, kStart), &failed, PolicyOf(one, 2), options, kStart);
  EXPECT_EQ(end.settlement.state, "failed");
  EXPECT_EQ(end.settlement.attempts, 2);

  // A throttle is not an attempt; a success ends the event.
  Result<InvokeOutcome> throttled = Status(StatusCode::kTooManyRequests, "limit");
  end = EndAttempt(Claimed(0, kStart), &throttled, PolicyOf(none, 2), options, kStart);
  EXPECT_EQ(end.settlement.state, "queued");
  EXPECT_EQ(end.settlement.attempts, 0);
  Result<InvokeOutcome> ok = InvokeOutcome{"{}", "application/json", std::nullopt, "1", ""};
  end = EndAttempt(Claimed(0, kStart), &ok, PolicyOf(none, 2), options, kStart);
  EXPECT_EQ(end.settlement.state, "succeeded");
  EXPECT_EQ(end.condition, "Success");
  EXPECT_FALSE(end.record) << "no destination configured";
}

TEST(EndAttemptTest, AnEventTooOldForItsNextRetryFailsAtOnce) {
  EventQueueOptions options;
  options.retry_delays_ms = {60000, 120000};
  Result<InvokeOutcome> failed = FunctionError();
  EventInvokeConfig minute{"$LATEST", std::nullopt, 60, std::nullopt, std::nullopt, kStart};
  AsyncPolicy policy = PolicyOf(minute, 2);
  // Invoked at once, failed a second later: the retry would come 61 s after the event.
  AttemptEnd end = EndAttempt(Claimed(0, kStart), &failed, policy, options, kStart + 1000);
  EXPECT_EQ(end.settlement.state, "failed");
  EXPECT_EQ(end.settlement.attempts, 1);
  EXPECT_EQ(end.condition, "EventAgeExceeded");
  // With 90 s one retry fits, the second does not.
  EventInvokeConfig ninety{"$LATEST", std::nullopt, 90, std::nullopt, std::nullopt, kStart};
  end = EndAttempt(Claimed(0, kStart), &failed, PolicyOf(ninety, 2), options, kStart + 1000);
  EXPECT_EQ(end.settlement.state, "queued");
  end = EndAttempt(Claimed(1, kStart), &failed, PolicyOf(ninety, 2), options, kStart + 62000);
  EXPECT_EQ(end.settlement.state, "failed");
  EXPECT_EQ(end.condition, "EventAgeExceeded");
  EXPECT_EQ(end.settlement.attempts, 2);
  EXPECT_EQ(end.settlement.next_attempt_at, kStart + 62000) << "finished now, not at the retry";
  // Not run at all (too old when claimed): no attempt counted.
  end = EndAttempt(Claimed(0, kStart), nullptr, policy, options, kStart + 61000);
  EXPECT_EQ(end.settlement.state, "failed");
  EXPECT_EQ(end.settlement.attempts, 0);
  EXPECT_EQ(end.condition, "EventAgeExceeded");
  // The default age is six hours.
  EXPECT_EQ(PolicyOf(std::nullopt).maximum_event_age_ms, 21600000);
}

TEST(EndAttemptTest, DestinationsGetAwsInvocationRecords) {
  EventQueueOptions options;
  options.retry_delays_ms = {100, 200};
  options.home_of = [](const functions::Scope&, const std::string& fn) { return "home-" + fn; };
  EventInvokeConfig config{"$LATEST",
                           0,
                           std::nullopt,
                           "arn:aws:lambda:us-east-1:123456789012:function:ok-dest",
                           "arn:aws:lambda:us-east-1:123456789012:function:fail-dest:live",
                           kStart};
  Result<InvokeOutcome> failed = FunctionError();
  AttemptEnd end = EndAttempt(Claimed(0, kStart), &failed, PolicyOf(config), options, kStart);
  ASSERT_TRUE(end.record);
  EXPECT_EQ(end.record->function, "fail-dest");
  EXPECT_EQ(end.record->qualifier, "live");
  EXPECT_EQ(end.record->scope.account, "123456789012");
  EXPECT_EQ(end.record->home_node, "home-fail-dest");
  auto record = nlohmann::json::parse(end.record->payload);
  EXPECT_EQ(record, nlohmann::json::parse(R"({
    "version": "1.0",
    "timestamp": "2023-11-14T22:13:20.000Z",
    "requestContext": {
      "requestId": "req-1",
      "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:fn:$LATEST",
      "condition": "RetriesExhausted",
      "approximateInvokeCount": 1
    },
    "requestPayload": {"n": 1},
    "responseContext": {"statusCode": 200, "executedVersion": "$LATEST",
                        "functionError": "Unhandled"},
    "responsePayload": {"errorMessage": "boom", "errorType": "Error"}
  })"));

  Result<InvokeOutcome> ok = InvokeOutcome{"\"done\"", "application/json", std::nullopt, "3", ""};
  end = EndAttempt(Claimed(0, kStart, "prod"), &ok, PolicyOf(config), options, kStart);
  ASSERT_TRUE(end.record);
  EXPECT_EQ(end.record->function, "ok-dest");
  EXPECT_EQ(end.record->qualifier, "");
  record = nlohmann::json::parse(end.record->payload);
  EXPECT_EQ(record["requestContext"]["functionArn"],
            "arn:aws:lambda:us-east-1:123456789012:function:fn:prod");
  EXPECT_EQ(record["requestContext"]["condition"], "Success");
  EXPECT_EQ(record["responseContext"], nlohmann::json::parse(R"({"statusCode":200,
            "executedVersion":"3"})"));
  EXPECT_EQ(record["responsePayload"], "done");

  // Too old to run: the record has no response.
  end = EndAttempt(Claimed(0, kStart), nullptr, PolicyOf(config), options, kStart + 21600000);
  ASSERT_TRUE(end.record);
  record = nlohmann::json::parse(end.record->payload);
  EXPECT_EQ(record["requestContext"]["condition"], "EventAgeExceeded");
  EXPECT_EQ(record["requestContext"]["approximateInvokeCount"], 0);
  EXPECT_FALSE(record.contains("responseContext"));
  // A retry sends nothing.
  EventInvokeConfig retrying = config;
  retrying.maximum_retry_attempts = 2;
  end = EndAttempt(Claimed(0, kStart), &failed, PolicyOf(retrying), options, kStart);
  EXPECT_FALSE(end.record);
}

TEST_P(EventLeaseTest, TheRecordIsQueuedWithTheSettleAndOnlyByTheLeaseHolder) {
  store::Database& a = Node();
  store::Database& b = Node();
  Enqueue(a, "e1");
  int64_t now = clock_.NowMillis();
  ASSERT_EQ(ClaimDueEvents(a, "node-a", now, now + kLease, 16)->size(), 1u);
  clock_.Advance(kLease);
  now = clock_.NowMillis();
  ASSERT_EQ(ClaimDueEvents(b, "node-b", now, now + kLease, 16)->size(), 1u);
  QueuedEvent record{"record-1", scope_, "dest", "", R"({"version":"1.0"})", std::nullopt};
  // A lost its lease: its settle queues no record.
  auto settled = SettleEvent(a, "e1", "node-a", {"failed", 1, now, "boom"}, record);
  ASSERT_TRUE(settled.ok()) << settled.status().message();
  EXPECT_FALSE(*settled);
  auto none = ClaimDueEvents(a, "node-a", now, now + kLease, 16);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  // B's settle does, in the same transaction.
  settled = SettleEvent(b, "e1", "node-b", {"failed", 1, now, "boom"}, record);
  ASSERT_TRUE(settled.ok()) << settled.status().message();
  EXPECT_TRUE(*settled);
  EXPECT_EQ(Get(a, "e1").state, "failed");
  auto queued = ClaimDueEvents(a, "node-a", now, now + kLease, 16);
  ASSERT_TRUE(queued.ok()) << queued.status().message();
  ASSERT_EQ(queued->size(), 1u);
  EXPECT_EQ(queued->front().id, "record-1");
  EXPECT_EQ(queued->front().function, "dest");
  EXPECT_EQ(queued->front().payload, R"({"version":"1.0"})");
  EXPECT_EQ(queued->front().enqueued_at, now);
  // A settle that fails (a record with an id already queued) changes nothing at all.
  Enqueue(a, "e2");
  ASSERT_EQ(ClaimDueEvents(a, "node-a", now, now + kLease, 16)->size(), 1u);
  settled = SettleEvent(a, "e2", "node-a", {"succeeded", 1, now, ""}, record);
  EXPECT_FALSE(settled.ok());
  EXPECT_EQ(Get(a, "e2").state, "queued");
  EXPECT_EQ(Get(a, "e2").lease_owner, "node-a");
}

TEST_P(EventLeaseTest, ConfigurationsArePerQualifierAndGoWithTheirFunction) {
  store::Database& db = Node(catalog::Schema() + functions::Schema() + EventQueueSchema() +
                             EventInvokeConfigSchema());
  EventInvokeConfigStore configs(&db);
  EventInvokeConfig latest{"$LATEST", 0, 3600, std::nullopt, "arn:aws:lambda:x", kStart};
  // No function: nothing stored.
  Status missing = configs.Put(scope_, "fn", latest);
  EXPECT_EQ(missing.code(), StatusCode::kResourceNotFound);
  // The function with $LATEST, version 1 and alias live (a configuration goes with each).
  Status s = db.Transact([&](Txn& txn) -> Status {
    for (const char* sql :
         {"INSERT INTO functions (account, region, name, tags, next_version) VALUES (?1, ?2, "
          "'fn', '{}', 2)",
          "INSERT INTO function_versions (account, region, name, version, config, revision_id, "
          "last_modified, runtime, architecture, update_mode, code_sha256) SELECT ?1, ?2, 'fn', "
          "v, '{}', 'r', 0, '', 'x86_64', 'Auto', 'c' FROM (SELECT 0 AS v UNION ALL SELECT 1) "
          "AS versions",
          "INSERT INTO aliases (account, region, name, alias, function_version, description, "
          "revision_id) VALUES (?1, ?2, 'fn', 'live', '1', '', 'r')"}) {
      LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare(sql));
      LAMBKIN_RETURN_IF_ERROR(st.Bind(1, scope_.account).Bind(2, scope_.region).Run());
    }
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_TRUE(configs.Put(scope_, "fn", latest).ok());
  EventInvokeConfig alias{"live", 1, std::nullopt, std::nullopt, std::nullopt, kStart};
  ASSERT_TRUE(configs.Put(scope_, "fn", alias).ok());
  EventInvokeConfig version{"1", std::nullopt, 60, std::nullopt, std::nullopt, kStart};
  ASSERT_TRUE(configs.Put(scope_, "fn", version).ok());

  // Put replaces: members not given are gone.
  EventInvokeConfig replaced{"$LATEST", 2, std::nullopt, std::nullopt, std::nullopt, kStart + 1};
  ASSERT_TRUE(configs.Put(scope_, "fn", replaced).ok());
  auto got = configs.Get(scope_, "fn", "$LATEST");
  ASSERT_TRUE(got.ok() && *got);
  EXPECT_EQ((*got)->maximum_retry_attempts, 2);
  EXPECT_FALSE((*got)->maximum_event_age_seconds);
  EXPECT_FALSE((*got)->on_failure);
  EXPECT_EQ((*got)->last_modified_ms, kStart + 1);

  // Update merges: given members replace, the others stay; "" removes a destination.
  EventInvokeConfigUpdate update{std::nullopt, 120, "arn:aws:lambda:ok", std::nullopt};
  auto updated = configs.Update(scope_, "fn", "1", update, kStart + 2);
  ASSERT_TRUE(updated.ok() && *updated);
  EXPECT_FALSE((*updated)->maximum_retry_attempts);
  EXPECT_EQ((*updated)->maximum_event_age_seconds, 120);
  EXPECT_EQ((*updated)->on_success, "arn:aws:lambda:ok");
  updated = configs.Update(scope_, "fn", "1", {1, std::nullopt, "", std::nullopt}, kStart + 3);
  ASSERT_TRUE(updated.ok() && *updated);
  EXPECT_EQ((*updated)->maximum_retry_attempts, 1);
  EXPECT_EQ((*updated)->maximum_event_age_seconds, 120);
  EXPECT_FALSE((*updated)->on_success);
  auto absent = configs.Update(scope_, "fn", "2", update, kStart);
  ASSERT_TRUE(absent.ok());
  EXPECT_FALSE(*absent);

  // Listed by qualifier, in pages.
  auto page = configs.List(scope_, "fn", "", 2);
  ASSERT_TRUE(page.ok()) << page.status().message();
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].qualifier, "$LATEST");
  EXPECT_EQ((*page)[1].qualifier, "1");
  page = configs.List(scope_, "fn", "1", 2);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].qualifier, "live");

  // Deleting version 1 deletes its configuration (both engines' foreign keys).
  s = db.Transact([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(auto st,
                             txn.Prepare("DELETE FROM function_versions WHERE version = 1"));
    return st.Run();
  });
  ASSERT_TRUE(s.ok()) << s.message();
  auto one = configs.Get(scope_, "fn", "1");
  ASSERT_TRUE(one.ok());
  EXPECT_FALSE(*one);

  auto deleted = configs.Delete(scope_, "fn", "live");
  ASSERT_TRUE(deleted.ok() && *deleted);
  deleted = configs.Delete(scope_, "fn", "live");
  ASSERT_TRUE(deleted.ok());
  EXPECT_FALSE(*deleted);

  // Deleting the function deletes its configurations (both engines' foreign keys).
  s = db.Transact([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare("DELETE FROM functions WHERE name = 'fn'"));
    return st.Run();
  });
  ASSERT_TRUE(s.ok()) << s.message();
  page = configs.List(scope_, "fn", "", 50);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->empty());
}

INSTANTIATE_TEST_SUITE_P(Stores, EventLeaseTest,
                         ::testing::Values(store::Engine::kSqlite, store::Engine::kPostgres),
                         store::testing::EngineName<::testing::TestParamInfo<store::Engine>>);

}  // namespace
}  // namespace lambkin::exec
