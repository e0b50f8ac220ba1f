#include "metrics/lambda_metrics.h"

#include <gtest/gtest.h>

#include <filesystem>

#include <fmt/format.h>

#include "common/crypto.h"
#include "store/postgres_testing.h"

namespace lambkin::metrics {
namespace {

constexpr int64_t kMinute = int64_t{60} * 1000;

// Two nodes on one store (both engines; one node alone on SQLite in production, but the store's
// rows are what every node reads): what each counts reaches the other once flushed, nothing is
// counted twice, a restart keeps what was flushed, and minutes past retention go.
class LambdaMetricsTest : public ::testing::TestWithParam<store::Engine> {
 protected:
  void SetUp() override {
    std::string dir = ::testing::TempDir() + "/metrics-" + RandomUuid();
    std::filesystem::create_directories(dir);
    auto location = store::testing::StoreLocation(GetParam(), dir + "/db", &pg_);
    ASSERT_TRUE(location.ok()) << location.status().message();
    if (location->empty()) GTEST_SKIP() << "LAMBKIN_TEST_POSTGRES is not set";
    location_ = *location;
    db_ = std::move(store::Database::Open(location_, Schema())).value();
  }
  void TearDown() override { db_.reset(); }

  static exec::InvocationSample Sample(const std::string& resource, double ms, bool error) {
    exec::InvocationSample s;
    s.scope = {"123456789012", "us-east-1"};
    s.function = "fn";
    s.resource = resource;
    s.executed_version = resource == "fn" ? "$LATEST" : "1";
    s.duration_ms = ms;
    s.error = error;
    s.concurrency = 1;
    return s;
  }
  std::vector<Datapoint> Get(const LambdaMetrics& m, const std::string& metric, Dimensions d) {
    auto points = m.Query("123456789012", "us-east-1", std::string(kLambdaNamespace), metric,
                          std::move(d), 0, clock_.NowMillis() + kMinute, 3600);
    EXPECT_TRUE(points.ok()) << points.status().message();
    return points.ok() ? *points : std::vector<Datapoint>{};
  }

  std::unique_ptr<store::testing::TestPostgresDatabase> pg_;
  std::string location_;
  ManualClock clock_{int64_t{1700000000} * 1000};
  std::unique_ptr<store::Database> db_;
};

TEST_P(LambdaMetricsTest, NodesShareFlushedFiguresWithoutCountingTwice) {
  LambdaMetrics a(db_.get(), &clock_, nullptr), b(db_.get(), &clock_, nullptr);
  a.OnInvocationSample(Sample("fn", 10, false));
  a.OnInvocationSample(Sample("fn", 30, true));
  b.OnInvocationSample(Sample("fn:1", 50, false));
  const Dimensions fn = {{"FunctionName", "fn"}};

  // Before a flush each node sees its own.
  auto mine = Get(a, "Duration", fn);
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(mine[0].count, 2);
  EXPECT_TRUE(Get(a, "Invocations",
                  {{"ExecutedVersion", "1"}, {"FunctionName", "fn"}, {"Resource", "fn:1"}})
                  .empty());

  // After both flush, both see all three, once, whoever asks and however often it flushes.
  ASSERT_TRUE(a.Flush().ok());
  ASSERT_TRUE(b.Flush().ok());
  ASSERT_TRUE(a.Flush().ok());
  for (const LambdaMetrics* m : {&a, &b}) {
    auto duration = Get(*m, "Duration", fn);
    ASSERT_EQ(duration.size(), 1u);
    EXPECT_EQ(duration[0].count, 3);
    EXPECT_EQ(duration[0].sum, 90);
    EXPECT_EQ(duration[0].min, 10);
    EXPECT_EQ(duration[0].max, 50);
    EXPECT_EQ(Get(*m, "Errors", fn)[0].sum, 1);
    auto listed = m->List("123456789012", "us-east-1", "", "Invocations", {{"Resource", "fn:1"}});
    ASSERT_TRUE(listed.ok());
    ASSERT_EQ(listed->size(), 2u);  // FunctionName+Resource, and with ExecutedVersion
  }

  // Counted after the flush, in a later minute: merged with the store's rows by the reader.
  clock_.Advance(kMinute);
  b.OnInvocationSample(Sample("fn", 70, false));
  auto hour = Get(b, "Duration", fn);
  ASSERT_EQ(hour.size(), 1u);
  EXPECT_EQ(hour[0].count, 4);
  EXPECT_EQ(hour[0].max, 70);
  auto minutes = b.Query("123456789012", "us-east-1", std::string(kLambdaNamespace), "Duration", fn,
                         0, clock_.NowMillis() + kMinute, 60);
  ASSERT_TRUE(minutes.ok());
  ASSERT_EQ(minutes->size(), 2u);
  EXPECT_EQ((*minutes)[1].timestamp_ms - (*minutes)[0].timestamp_ms, kMinute);
  EXPECT_EQ(Get(a, "Duration", fn)[0].count, 3);  // not flushed by b yet

  // A graceful stop flushes; a new process on the same store reads everything.
  ASSERT_TRUE(b.Flush().ok());
  LambdaMetrics restarted(db_.get(), &clock_, nullptr);
  EXPECT_EQ(Get(restarted, "Duration", fn)[0].count, 4);
  EXPECT_TRUE(Get(restarted, "Duration", {{"FunctionName", "other"}}).empty());
  EXPECT_TRUE(restarted.List("123456789012", "us-east-1", "AWS/EC2", "", {}).value().empty());
  EXPECT_TRUE(restarted.List("123456789012", "eu-west-1", "", "", {}).value().empty());

  // Past two weeks a series is no longer listed; past retention its minutes are deleted.
  clock_.Advance(kListWindowMs + kMinute);
  EXPECT_TRUE(restarted.List("123456789012", "us-east-1", "", "", {}).value().empty());
  EXPECT_EQ(Get(restarted, "Duration", fn)[0].count, 4);
  clock_.Advance(kRetentionMs - kListWindowMs);
  ASSERT_TRUE(restarted.Flush().ok());
  EXPECT_TRUE(Get(restarted, "Duration", fn).empty());
}

// A flush that fails (here: the table gone for a moment) keeps its figures: the next flush finds
// it did not commit and adds them, once; what was counted meanwhile is added too.
TEST_P(LambdaMetricsTest, AFailedFlushIsFlushedAgainOnce) {
  LambdaMetrics m(db_.get(), &clock_, nullptr);
  auto rename = [&](const char* from, const char* to) {
    ASSERT_TRUE(db_->Transact([&](store::Txn& txn) {
                     return txn.Exec(fmt::format("ALTER TABLE {} RENAME TO {}", from, to));
                   })
                    .ok());
  };
  const Dimensions fn = {{"FunctionName", "fn"}};
  m.OnInvocationSample(Sample("fn", 10, false));
  rename("metrics_minutes", "metrics_minutes_away");
  EXPECT_FALSE(m.Flush().ok());
  m.OnInvocationSample(Sample("fn", 20, false));
  EXPECT_FALSE(m.Flush().ok());  // still failing: nothing lost, nothing doubled
  rename("metrics_minutes_away", "metrics_minutes");
  m.OnInvocationSample(Sample("fn", 30, false));
  ASSERT_TRUE(m.Flush().ok());
  ASSERT_TRUE(m.Flush().ok());
  LambdaMetrics other(db_.get(), &clock_, nullptr);
  auto points = Get(other, "Duration", fn);
  ASSERT_EQ(points.size(), 1u);
  EXPECT_EQ(points[0].count, 3);
  EXPECT_EQ(points[0].sum, 60);
}

INSTANTIATE_TEST_SUITE_P(Stores, LambdaMetricsTest,
                         ::testing::Values(store::Engine::kSqlite, store::Engine::kPostgres),
                         store::testing::EngineName<::testing::TestParamInfo<store::Engine>>);

}  // namespace
}  // namespace lambkin::metrics
