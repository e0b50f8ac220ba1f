#include "logs/log_store.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>

#include "common/crypto.h"
#include "logs/clf.h"
#include "store/postgres_testing.h"

namespace lambkin::logs {
namespace {

class LogStoreTest : public ::testing::TestWithParam<store::Engine> {
 protected:
  void SetUp() override {
    std::string dir = ::testing::TempDir() + "/logs-" + RandomUuid();
    std::filesystem::create_directories(dir);
    auto location = store::testing::StoreLocation(GetParam(), dir + "/db", &pg_);
    ASSERT_TRUE(location.ok()) << location.status().message();
    if (location->empty()) GTEST_SKIP() << "LAMBKIN_TEST_POSTGRES is not set";
    db_ = std::move(store::Database::Open(*location, Schema())).value();
    store_ = std::make_unique<LogStore>(db_.get(), &clock_);
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
  }
  std::unique_ptr<store::testing::TestPostgresDatabase> pg_;
  ManualClock clock_{1700000000000};
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<LogStore> store_;
  Scope scope_{"123456789012", "us-east-1"};
};

TEST_P(LogStoreTest, AppendsInOrderAndPagesBothWays) {
  std::vector<LogEvent> events;
  for (int i = 0; i < 7; ++i) events.push_back({1000 + i, "e" + std::to_string(i)});
  ASSERT_TRUE(store_->Append(scope_, "/g", "s", events, /*create=*/true).ok());
  auto head = store_->GetEvents(scope_, "/g", "s", 0, 0, "", /*start_from_head=*/true, 3);
  ASSERT_TRUE(head.ok());
  ASSERT_EQ(head->events.size(), 3u);
  EXPECT_EQ(head->events[0].message, "e0");
  auto next = store_->GetEvents(scope_, "/g", "s", 0, 0, head->next_forward_token, true, 3);
  EXPECT_EQ(next->events[0].message, "e3");
  auto tail = store_->GetEvents(scope_, "/g", "s", 0, 0, "", /*start_from_head=*/false, 2);
  ASSERT_EQ(tail->events.size(), 2u);
  EXPECT_EQ(tail->events[1].message, "e6");
  auto back = store_->GetEvents(scope_, "/g", "s", 0, 0, tail->next_backward_token, false, 2);
  EXPECT_EQ(back->events[1].message, "e4");
  auto window = store_->GetEvents(scope_, "/g", "s", 1002, 1004, "", true, 100);
  ASSERT_EQ(window->events.size(), 2u);  // end is exclusive
  EXPECT_EQ(store_->Append(scope_, "/none", "s", events, false).code(),
            StatusCode::kResourceNotFound);
  EXPECT_EQ(store_->CreateGroup(scope_, "/g", {}).code(), StatusCode::kResourceConflict);
}

// Function output is bytes: what is not UTF-8 (and NUL) is kept as U+FFFD, as CloudWatch Logs
// shows it, on both engines (PostgreSQL's text holds only UTF-8); a first field cut inside a
// character still indexes and filters.
TEST_P(LogStoreTest, BytesThatAreNotUtf8AreStoredAsReplacementCharacters) {
  std::string bad = "ok \xff\xfe bytes";
  bad += '\0';
  bad += " end \xe2\x82";
  std::string long_head(kHeadBytes - 1, 'a');
  long_head += "\xc3\xa9 rest";  // the cut falls inside the é
  std::vector<LogEvent> events = {{1000, bad}, {1001, long_head}, {1002, "plain"}};
  ASSERT_TRUE(store_->Append(scope_, "/g", "s", events, /*create=*/true).ok());
  auto got = store_->GetEvents(scope_, "/g", "s", 0, 0, "", /*start_from_head=*/true, 10);
  ASSERT_TRUE(got.ok()) << got.status().message();
  ASSERT_EQ(got->events.size(), 3u);
  EXPECT_EQ(got->events[0].message,
            "ok \xEF\xBF\xBD\xEF\xBF\xBD bytes\xEF\xBF\xBD end \xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(got->events[1].message, long_head);
  EXPECT_EQ(got->events[2].message, "plain");
}

TEST(RetentionDaysTest, OnlyCloudWatchsPeriods) {
  for (int64_t days : {1,   3,   5,   7,   14,   30,   60,   90,   120,  150,  180,
                       365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}) {
    EXPECT_TRUE(ValidRetentionDays(days)) << days;
  }
  for (int64_t days : {-1, 0, 2, 10, 366, 3654}) EXPECT_FALSE(ValidRetentionDays(days)) << days;
  EXPECT_TRUE(RetentionDaysList().starts_with("1, 3, 5, 7, 14, 30,"));
  EXPECT_TRUE(RetentionDaysList().ends_with("3288, 3653"));
}

// Events older than the retention are hidden from reads at once, deleted by the sweep (bytes
// and all), and a group's other streams and other groups are untouched.
TEST_P(LogStoreTest, RetentionHidesThenDeletesOldEvents) {
  int64_t now = clock_.NowMillis();
  std::vector<LogEvent> old_and_new = {{now - 3 * kDayMillis, "old"},
                                       {now - kDayMillis / 2, "new"}};
  ASSERT_TRUE(store_->Append(scope_, "/g", "s", old_and_new, /*create=*/true).ok());
  ASSERT_TRUE(store_->Append(scope_, "/kept", "s", old_and_new, /*create=*/true).ok());
  EXPECT_EQ(store_->PutRetention(scope_, "/none", 1).code(), StatusCode::kResourceNotFound);
  ASSERT_TRUE(store_->PutRetention(scope_, "/g", 1).ok());
  auto groups = store_->DescribeGroups(scope_, "", "", "", 10);
  ASSERT_TRUE(groups.ok());
  ASSERT_EQ(groups->size(), 2u);
  EXPECT_EQ((*groups)[0].name, "/g");
  EXPECT_EQ((*groups)[0].retention_days, std::optional<int64_t>(1));
  EXPECT_EQ((*groups)[0].stored_bytes, 6);
  EXPECT_FALSE((*groups)[1].retention_days);

  auto read = store_->GetEvents(scope_, "/g", "s", 0, 0, "", true, 10);
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->events.size(), 1u);
  EXPECT_EQ(read->events[0].message, "new");
  auto filtered = store_->Filter(scope_, "/g", {}, "", "", 0, 0, "", 10);
  ASSERT_TRUE(filtered.ok());
  ASSERT_EQ(filtered->events.size(), 1u);

  auto deleted = store_->DeleteExpired();
  ASSERT_TRUE(deleted.ok()) << deleted.status().message();
  EXPECT_EQ(*deleted, 1);
  EXPECT_EQ(*store_->DeleteExpired(), 0);  // a second sweep (another node) finds nothing
  groups = store_->DescribeGroups(scope_, "", "", "", 10);
  EXPECT_EQ((*groups)[0].stored_bytes, 3);
  EXPECT_EQ((*groups)[1].stored_bytes, 6);
  auto streams = store_->DescribeStreams(scope_, "/g", "", false, false, 0, 10);
  ASSERT_EQ(streams->size(), 1u);
  EXPECT_EQ((*streams)[0].stored_bytes, 3);
  EXPECT_EQ((*streams)[0].first_event, std::optional<int64_t>(now - kDayMillis / 2));

  // A day later the other event expires too; without a retention nothing ever does.
  clock_.Advance(kDayMillis);
  EXPECT_TRUE(store_->GetEvents(scope_, "/g", "s", 0, 0, "", true, 10)->events.empty());
  EXPECT_EQ(*store_->DeleteExpired(), 1);
  ASSERT_TRUE(store_->PutRetention(scope_, "/g", std::nullopt).ok());
  EXPECT_EQ(store_->GetEvents(scope_, "/kept", "s", 0, 0, "", true, 10)->events.size(), 2u);
}

TEST_P(LogStoreTest, DeletingAGroupOrStreamTakesItsEvents) {
  std::vector<LogEvent> events = {{1000, "a"}, {1001, "bb"}};
  ASSERT_TRUE(store_->Append(scope_, "/g", "s1", events, /*create=*/true).ok());
  ASSERT_TRUE(store_->Append(scope_, "/g", "s2", events, /*create=*/true).ok());
  EXPECT_EQ(store_->DeleteStream(scope_, "/none", "s1").message(),
            "The specified log group does not exist.");
  EXPECT_EQ(store_->DeleteStream(scope_, "/g", "none").message(),
            "The specified log stream does not exist.");
  ASSERT_TRUE(store_->DeleteStream(scope_, "/g", "s1").ok());
  EXPECT_EQ(store_->GetEvents(scope_, "/g", "s1", 0, 0, "", true, 10).status().code(),
            StatusCode::kResourceNotFound);
  EXPECT_EQ((*store_->DescribeGroups(scope_, "", "", "", 10))[0].stored_bytes, 3);
  ASSERT_TRUE(store_->DeleteGroup(scope_, "/g").ok());
  EXPECT_EQ(store_->DeleteGroup(scope_, "/g").code(), StatusCode::kResourceNotFound);
  EXPECT_TRUE(store_->DescribeGroups(scope_, "", "", "", 10)->empty());
  // The writer's next batch makes the group and stream again, empty but for itself.
  ASSERT_TRUE(store_->Append(scope_, "/g", "s2", {{2000, "again"}}, /*create=*/true).ok());
  auto read = store_->GetEvents(scope_, "/g", "s2", 0, 0, "", true, 10);
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->events.size(), 1u);
  EXPECT_EQ(read->events[0].message, "again");
  ScanRequest everything{{}, 0, std::nullopt};
  Result<std::vector<StreamRef>> refs = [&]() -> Result<std::vector<StreamRef>> {
    std::vector<StreamRef> out;
    LAMBKIN_RETURN_IF_ERROR(db_->Read([&](store::Database::Txn& txn) -> Status {
      LAMBKIN_ASSIGN_OR_RETURN(out, LogStore::Streams(txn));
      return Status::Ok();
    }));
    return out;
  }();
  ASSERT_TRUE(refs.ok());
  for (const auto& r : *refs) everything.streams.push_back(r.id);
  auto scanned = store_->Scan(everything, 1, [](int, int64_t, int64_t, std::string_view) {});
  ASSERT_TRUE(scanned.ok());
  EXPECT_EQ(scanned->events, 1);  // nothing of the deleted streams is left to scan
}

// FilterLogEvents across a group's streams: every match once, in (timestamp, seq) order, page
// by page; only the group's own events (not another group's, nor a deleted and re-created
// group's); a rare match found past many batches of events that do not match.
TEST_P(LogStoreTest, FilterMergesTheGroupsStreamsInTimeOrderPageByPage) {
  const int kEvents = 5000;
  std::vector<std::string> expected;
  for (int i = 0; i < kEvents; i += 700) expected.push_back("RARE " + std::to_string(i));
  for (int s = 0; s < 3; ++s) {
    std::vector<LogEvent> events;
    for (int i = s; i < kEvents; i += 3) {
      std::string message = (i % 700 == 0 ? "RARE " : "common ") + std::to_string(i);
      // Out of order within a batch: the store orders by timestamp, not by arrival.
      events.push_back({1000 + i, message});
    }
    std::swap(events.front(), events.back());
    ASSERT_TRUE(store_->Append(scope_, "/g", "s" + std::to_string(s), events, true).ok());
  }
  ASSERT_TRUE(store_->Append(scope_, "/other", "s0", {{1500, "RARE other"}}, true).ok());
  ASSERT_TRUE(store_->Append(scope_, "/gone", "s0", {{1500, "RARE gone"}}, true).ok());
  ASSERT_TRUE(store_->DeleteGroup(scope_, "/gone").ok());
  ASSERT_TRUE(store_->Append(scope_, "/gone", "s0", {{1600, "RARE again"}}, true).ok());

  std::vector<std::string> got;
  std::string token;
  int pages = 0;
  do {
    auto page = store_->Filter(scope_, "/g", {}, "", "RARE", 0, 0, token, 2);
    ASSERT_TRUE(page.ok()) << page.status().message();
    for (const auto& e : page->events) got.push_back(e.message);
    token = page->next_token;
    ASSERT_LT(++pages, 10);
  } while (!token.empty());
  EXPECT_EQ(got, expected);

  // Without a pattern the first page is the group's first events, from all its streams.
  auto first = store_->Filter(scope_, "/g", {}, "", "", 0, 0, "", 4);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->events.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(first->events[i].timestamp, 1000 + i);
    EXPECT_EQ(first->events[i].stream, "s" + std::to_string(i % 3));
  }
  // A stream prefix, a stream list and a time window narrow it.
  auto s1 = store_->Filter(scope_, "/g", {"s1"}, "", "RARE", 0, 0, "", 100);
  ASSERT_TRUE(s1.ok());
  for (const auto& e : s1->events) EXPECT_EQ(e.stream, "s1");
  EXPECT_EQ(store_->Filter(scope_, "/g", {}, "s2", "", 0, 0, "", 10000)->events.size(),
            static_cast<size_t>(kEvents / 3));
  EXPECT_EQ(store_->Filter(scope_, "/g", {}, "", "", 1100, 1200, "", 10000)->events.size(), 100u);
  auto gone = store_->Filter(scope_, "/gone", {}, "", "", 0, 0, "", 10);
  ASSERT_TRUE(gone.ok());
  ASSERT_EQ(gone->events.size(), 1u);
  EXPECT_EQ(gone->events[0].message, "RARE again");
  EXPECT_EQ(store_->Filter(scope_, "/none", {}, "", "", 0, 0, "", 10).status().code(),
            StatusCode::kResourceNotFound);
}

// The store under the log store: code that throws inside a transaction gets an error back, the
// transaction is rolled back and its connection returns to the pool (on PostgreSQL, a connection
// left in its transaction would hold it open for ever); the store goes on.
TEST_P(LogStoreTest, AnExceptionInsideATransactionRollsItBack) {
  for (int i = 0; i < 20; ++i) {
    Status s = db_->Transact([](store::Txn& txn) -> Status {
      LAMBKIN_RETURN_IF_ERROR(txn.Exec(
          "INSERT INTO log_groups (account, region, name, created_at) VALUES ('a', 'r', 'g', 0)"));
      throw std::runtime_error("thrown");
    });
    EXPECT_EQ(s.code(), StatusCode::kInternal);
    EXPECT_NE(s.message().find("thrown"), std::string::npos);
    Status read = db_->Read([](store::Txn&) -> Status { throw std::out_of_range("read"); });
    EXPECT_EQ(read.code(), StatusCode::kInternal);
  }
  EXPECT_TRUE(store_->DescribeGroups({"a", "r"}, "", "", "", 10)->empty());
  ASSERT_TRUE(store_->Append(scope_, "/g", "s", {{1, "after"}}, /*create=*/true).ok());
  EXPECT_EQ(store_->Filter(scope_, "/g", {}, "", "", 0, 0, "", 10)->events.size(), 1u);
}

// Log group tags: set at creation, added, replaced and removed in one transaction, at most 50,
// gone with their group.
TEST_P(LogStoreTest, GroupTagsAreKeptWithTheirGroup) {
  ASSERT_TRUE(store_->CreateGroup(scope_, "/t", {{"env", "a"}}).ok());
  EXPECT_EQ(*store_->GroupTags(scope_, "/t"), (std::map<std::string, std::string>{{"env", "a"}}));
  ASSERT_TRUE(store_->TagGroup(scope_, "/t", {{"env", "b"}, {"x", "1"}}, {"missing"}).ok());
  EXPECT_EQ(*store_->GroupTags(scope_, "/t"),
            (std::map<std::string, std::string>{{"env", "b"}, {"x", "1"}}));
  std::map<std::string, std::string> many;
  for (int i = 0; i < 49; ++i) many[fmt::format("k{}", i)] = "v";
  EXPECT_EQ(store_->TagGroup(scope_, "/t", many, {}).code(), StatusCode::kInvalidParameterValue);
  EXPECT_EQ(store_->GroupTags(scope_, "/t")->size(), 2u);
  ASSERT_TRUE(store_->TagGroup(scope_, "/t", {}, {"env", "x"}).ok());
  EXPECT_TRUE(store_->GroupTags(scope_, "/t")->empty());
  EXPECT_EQ(store_->GroupTags(scope_, "/none").status().code(), StatusCode::kResourceNotFound);
  EXPECT_EQ(store_->TagGroup(scope_, "/none", {{"a", "b"}}, {}).code(),
            StatusCode::kResourceNotFound);
  ASSERT_TRUE(store_->TagGroup(scope_, "/t", {{"a", "b"}}, {}).ok());
  ASSERT_TRUE(store_->DeleteGroup(scope_, "/t").ok());
  ASSERT_TRUE(store_->CreateGroup(scope_, "/t", {}).ok());
  EXPECT_TRUE(store_->GroupTags(scope_, "/t")->empty());
}

// A store of the release before logs migration 3 (groups without numbers): opening it numbers
// every group and its streams' events, and FilterLogEvents reads them in order.
TEST_P(LogStoreTest, MigrationThreeNumbersTheGroupsOfAnOlderStore) {
  std::string dir = ::testing::TempDir() + "/logs-old-" + RandomUuid();
  std::filesystem::create_directories(dir);
  std::unique_ptr<store::testing::TestPostgresDatabase> pg;
  auto location = store::testing::StoreLocation(GetParam(), dir + "/db", &pg);
  ASSERT_TRUE(location.ok());
  store::Migrations before(Schema().begin(), Schema().begin() + 2);
  {
    auto old = std::move(store::Database::Open(*location, before)).value();
    ASSERT_TRUE(old->Transact([](store::Txn& txn) -> Status {
                     for (const char* sql :
                          {"INSERT INTO log_groups (account, region, name, created_at) VALUES "
                           "('123456789012', 'us-east-1', '/a', 0), ('123456789012', "
                           "'us-east-1', '/b', 0)",
                           "INSERT INTO log_streams (id, account, region, group_name, name, "
                           "created_at) VALUES (7, '123456789012', 'us-east-1', '/a', 'x', 0), "
                           "(8, '123456789012', 'us-east-1', '/a', 'y', 0), (9, "
                           "'123456789012', 'us-east-1', '/b', 'x', 0)",
                           "INSERT INTO log_events (stream_id, timestamp, ingestion_time, "
                           "message) VALUES (8, 2, 0, 'a2'), (7, 1, 0, 'a1'), (9, 1, 0, 'b1'), "
                           "(7, 3, 0, 'a3')"}) {
                       LAMBKIN_RETURN_IF_ERROR(txn.Exec(sql));
                     }
                     return Status::Ok();
                   })
                    .ok());
  }
  auto db = std::move(store::Database::Open(*location, Schema())).value();
  LogStore logs(db.get(), &clock_);
  auto a = logs.Filter(scope_, "/a", {}, "", "", 0, 0, "", 10);
  ASSERT_TRUE(a.ok()) << a.status().message();
  std::vector<std::string> got;
  for (const auto& e : a->events) got.push_back(e.stream + ":" + e.message);
  EXPECT_EQ(got, (std::vector<std::string>{"x:a1", "y:a2", "x:a3"}));
  auto b = logs.Filter(scope_, "/b", {}, "", "", 0, 0, "", 10);
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->events.size(), 1u);
  EXPECT_EQ(b->events[0].message, "b1");
  // Groups made after the migration take the next numbers; old streams take new events.
  ASSERT_TRUE(logs.Append(scope_, "/c", "z", {{5, "c5"}}, /*create=*/true).ok());
  ASSERT_TRUE(logs.Append(scope_, "/a", "y", {{4, "a4"}}, /*create=*/false).ok());
  EXPECT_EQ(logs.Filter(scope_, "/a", {}, "", "", 0, 0, "", 10)->events.back().message, "a4");
  EXPECT_EQ(logs.Filter(scope_, "/c", {}, "", "", 0, 0, "", 10)->events.size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Stores, LogStoreTest,
                         ::testing::Values(store::Engine::kSqlite, store::Engine::kPostgres),
                         store::testing::EngineName<::testing::TestParamInfo<store::Engine>>);

}  // namespace
}  // namespace lambkin::logs
