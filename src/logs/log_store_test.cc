#include "logs/log_store.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/crypto.h"
#include "logs/clf.h"
#include "store/postgres_testing.h"

namespace lambkin::logs {
namespace {

TEST(FilterPatternTest, TermsQuotesOptionalAndExcluded) {
  struct Case {
    const char* pattern;
    const char* message;
    bool match;
  };
  const Case cases[] = {
      {"", "anything", true},
      {"ERROR", "an ERROR here", true},
      {"ERROR", "an error here", false},  // case-sensitive
      {"ERROR timeout", "ERROR: timeout", true},
      {"ERROR timeout", "ERROR only", false},
      {"\"Task timed out\"", "x Task timed out after 1.00 seconds", true},
      {"\"Task timed out\"", "Task out timed", false},
      {"?WARN ?ERROR", "a WARN", true},
      {"?WARN ?ERROR", "INFO", false},
      {"INIT -REPORT", "INIT_START", true},
      {"INIT -REPORT", "INIT_REPORT", false},
  };
  for (const auto& c : cases) {
    auto p = FilterPattern::Parse(c.pattern);
    ASSERT_TRUE(p.ok()) << c.pattern;
    EXPECT_EQ(p->Matches(c.message), c.match) << c.pattern << " / " << c.message;
  }
  EXPECT_FALSE(FilterPattern::Parse("\"unterminated").ok());
}

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
  EXPECT_EQ(store_->CreateGroup(scope_, "/g").code(), StatusCode::kResourceConflict);
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

INSTANTIATE_TEST_SUITE_P(Stores, LogStoreTest,
                         ::testing::Values(store::Engine::kSqlite, store::Engine::kPostgres),
                         store::testing::EngineName<::testing::TestParamInfo<store::Engine>>);

}  // namespace
}  // namespace lambkin::logs
