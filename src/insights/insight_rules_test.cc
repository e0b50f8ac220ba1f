#include "insights/insight_rules.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/crypto.h"

namespace lambkin::insights {
namespace {

constexpr char kLambdaRule[] =
    R"({"Schema":{"Name":"CloudWatchLogRule","Version":1},"AggregateOn":"Count","Contribution":{"Filters":[{"Match":"eventType","In":["INIT_START"]}],"Keys":["runtimeVersion","runtimeVersionArn"]},"LogFormat":"CLF","LogGroupNames":["/aws/lambda/*"],"Fields":{"1":"eventType","4":"runtimeVersion","8":"runtimeVersionArn"}})";

constexpr int64_t kT0 = 1700000040000;  // a minute boundary

std::string InitStart(int version) {
  return "INIT_START Runtime Version: python:3.12.v" + std::to_string(version) +
         "\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:v" + std::to_string(version);
}

class InsightRulesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/insights-" + RandomUuid();
    std::filesystem::create_directories(dir_);
    Open();
  }
  void Open() {
    rules_.reset();
    logs_.reset();
    db_.reset();
    db_ = std::move(store::Database::Open(dir_ + "/db", logs::Schema() + Schema())).value();
    logs_ = std::make_unique<logs::LogStore>(db_.get(), &clock_);
    rules_ = std::make_unique<InsightRules>(db_.get(), logs_.get(), &clock_);
    ASSERT_TRUE(rules_->Start().ok());
  }
  void Append(const std::string& group, std::vector<std::pair<int64_t, std::string>> lines) {
    std::vector<logs::LogEvent> events;
    for (auto& [t, m] : lines) events.push_back({t, std::move(m)});
    ASSERT_TRUE(logs_->Append(scope_, group, "stream", events, /*create=*/true).ok());
  }
  Report MustReport(const std::string& name, int64_t period_s,
                    std::vector<std::string> metrics = {}) {
    ReportRequest req;
    req.name = name;
    req.start_ms = kT0;
    req.end_ms = kT0 + 3600000;
    req.period_s = period_s;
    req.metrics = std::move(metrics);
    auto r = rules_->GetReport(scope_, req);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : Report{};
  }

  std::string dir_;
  ManualClock clock_{kT0 + 3600000};
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<logs::LogStore> logs_;
  std::unique_ptr<InsightRules> rules_;
  Scope scope_{"123456789012", "us-east-1"};
};

TEST_F(InsightRulesTest, CountsAsEventsArriveAndReportsPerPeriod) {
  ASSERT_TRUE(rules_->Put(scope_, {"rv", kLambdaRule}).ok());
  // Minute 0: three v21 starts; minute 5: one v21, two v22; minute 12: three v22. Other lines and
  // other groups do not count.
  Append("/aws/lambda/a", {{kT0, InitStart(21)},
                           {kT0 + 1, "START RequestId: 1 Version: $LATEST"},
                           {kT0 + 2, InitStart(21)},
                           {kT0 + 300000, InitStart(21)},
                           {kT0 + 300001, InitStart(22)}});
  Append("/aws/lambda/b", {{kT0 + 3, InitStart(21)}, {kT0 + 300002, InitStart(22)}});
  Append("/other", {{kT0, InitStart(21)}});
  Append("/aws/lambda/b", {{kT0 + 720000, InitStart(22)},
                           {kT0 + 720001, InitStart(22)},
                           {kT0 + 780000, InitStart(22)}});

  Report r = MustReport("rv", 300,
                        {"UniqueContributors", "MaxContributorValue", "SampleCount", "Sum",
                         "Minimum", "Maximum", "Average"});
  EXPECT_EQ(r.aggregation_statistic, "Count");
  EXPECT_EQ(r.key_labels, (std::vector<std::string>{"runtimeVersion", "runtimeVersionArn"}));
  EXPECT_EQ(r.aggregate_value, 9);
  EXPECT_EQ(r.unique_contributors, 2);
  ASSERT_EQ(r.contributors.size(), 2u);
  // Ordered by value: v22 (5) before v21 (4); each with only the periods it appeared in.
  EXPECT_EQ(r.contributors[0].keys[0], "python:3.12.v22");
  EXPECT_EQ(r.contributors[0].aggregate_value, 5);
  ASSERT_EQ(r.contributors[0].datapoints.size(), 2u);
  EXPECT_EQ(r.contributors[0].datapoints[0].value, 2);
  EXPECT_EQ(r.contributors[0].datapoints[1].value, 3);
  EXPECT_EQ(r.contributors[1].keys[1], "arn:aws:lambda:us-east-1::runtime:v21");
  ASSERT_EQ(r.contributors[1].datapoints.size(), 2u);
  EXPECT_EQ(r.contributors[1].datapoints[0].value, 3);
  EXPECT_EQ(r.contributors[1].datapoints[1].value, 1);
  ASSERT_EQ(r.metric_datapoints.size(), 3u);
  const auto& second = r.metric_datapoints[1].values;  // v21 ×1, v22 ×2
  EXPECT_EQ(second[0], (std::pair<std::string, double>{"UniqueContributors", 2}));
  EXPECT_EQ(second[1], (std::pair<std::string, double>{"MaxContributorValue", 2}));
  EXPECT_EQ(second[2], (std::pair<std::string, double>{"SampleCount", 3}));
  EXPECT_EQ(second[3].second, 3);  // Sum
  EXPECT_EQ(second[4].second, 1);  // Minimum
  EXPECT_EQ(second[5].second, 1);  // Maximum
  EXPECT_EQ(second[6].second, 1);  // Average
  EXPECT_EQ(r.metric_datapoints[1].timestamp_ms, (kT0 + 300000) / 300000 * 300000);

  // Restarting the server loses nothing.
  Open();
  Report again = MustReport("rv", 300);
  EXPECT_EQ(again.aggregate_value, 9);
  Append("/aws/lambda/a", {{kT0 + 900000, InitStart(22)}});
  EXPECT_EQ(MustReport("rv", 3600).aggregate_value, 10);
}

TEST_F(InsightRulesTest, NewRuleBackfillsStoredEventsBothThroughTheHeadIndexAndInFull) {
  std::vector<std::pair<int64_t, std::string>> lines;
  for (int i = 0; i < 300; ++i) {
    lines.emplace_back(kT0 + i * 1000, i % 3 == 0 ? InitStart(20 + i % 2) : "REPORT RequestId: x");
  }
  Append("/aws/lambda/a", lines);
  auto indexed = rules_->Put(scope_, {"rv", kLambdaRule});
  ASSERT_TRUE(indexed.ok());
  EXPECT_EQ(indexed->matched, 100);
  EXPECT_EQ(indexed->events, 100);  // the head index handed over only the INIT_START lines
  // The same rule without the first-field filter reads every line and agrees.
  std::string unfiltered = kLambdaRule;
  unfiltered.replace(
      unfiltered.find(R"("Filters":[{"Match":"eventType","In":["INIT_START"]}],)"),
      std::string(R"("Filters":[{"Match":"eventType","In":["INIT_START"]}],)").size(),
      R"("Filters":[{"Match":"runtimeVersion","StartsWith":["python:"]}],)");
  auto full = rules_->Put(scope_, {"rv-full", unfiltered});
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->events, 300);
  EXPECT_EQ(full->matched, 100);
  Report a = MustReport("rv", 60), b = MustReport("rv-full", 60);
  EXPECT_EQ(a.aggregate_value, 100);
  ASSERT_EQ(a.contributors.size(), b.contributors.size());
  for (size_t i = 0; i < a.contributors.size(); ++i) {
    EXPECT_EQ(a.contributors[i].keys, b.contributors[i].keys);
    EXPECT_EQ(a.contributors[i].aggregate_value, b.contributors[i].aggregate_value);
  }
  // Events after the backfill are counted once.
  Append("/aws/lambda/a", {{kT0 + 400000, InitStart(20)}});
  EXPECT_EQ(MustReport("rv", 60).aggregate_value, 101);
}

TEST_F(InsightRulesTest, RedefiningDropsOldDataDisabledRulesDoNotCountAndDeleteForgets) {
  Append("/aws/lambda/a", {{kT0, InitStart(20)}});
  ASSERT_TRUE(rules_->Put(scope_, {"rv", kLambdaRule}).ok());
  EXPECT_EQ(MustReport("rv", 60).aggregate_value, 1);
  // Same definition, new state: data kept, nothing counted while disabled.
  ASSERT_TRUE(rules_->Put(scope_, {"rv", kLambdaRule, "DISABLED"}).ok());
  Append("/aws/lambda/a", {{kT0 + 1000, InitStart(20)}});
  EXPECT_EQ(MustReport("rv", 60).aggregate_value, 1);
  auto enabled = rules_->SetState(scope_, {"rv", "missing"}, /*enabled=*/true);
  ASSERT_TRUE(enabled.ok());
  ASSERT_EQ(enabled->size(), 1u);
  EXPECT_EQ((*enabled)[0].resource, "missing");
  EXPECT_EQ((*enabled)[0].exception_type, "ResourceNotFoundException");
  Append("/aws/lambda/a", {{kT0 + 2000, InitStart(20)}});
  EXPECT_EQ(MustReport("rv", 60).aggregate_value, 2);
  auto described = rules_->Describe(scope_);
  ASSERT_EQ(described->size(), 1u);
  EXPECT_EQ((*described)[0].state, "ENABLED");

  auto del = rules_->Delete(scope_, {"rv"});
  ASSERT_TRUE(del.ok());
  EXPECT_TRUE(del->empty());
  ReportRequest req{"rv", kT0, kT0 + 60000, 60};
  EXPECT_EQ(rules_->GetReport(scope_, req).status().code(), StatusCode::kResourceNotFound);
  EXPECT_TRUE(rules_->Describe(scope_)->empty());
  // A rule that fails validation stores nothing.
  EXPECT_EQ(rules_->Put(scope_, {"bad", "{}"}).status().code(), StatusCode::kInvalidParameterValue);
  EXPECT_TRUE(rules_->Describe(scope_)->empty());
}

TEST_F(InsightRulesTest, RulesPerRegionAreLimited) {
  rules_ = std::make_unique<InsightRules>(db_.get(), logs_.get(), &clock_, InsightsOptions{2});
  ASSERT_TRUE(rules_->Start().ok());
  ASSERT_TRUE(rules_->Put(scope_, {"a", kLambdaRule}).ok());
  ASSERT_TRUE(rules_->Put(scope_, {"b", kLambdaRule}).ok());
  EXPECT_EQ(rules_->Put(scope_, {"c", kLambdaRule}).status().code(), StatusCode::kLimitExceeded);
  EXPECT_TRUE(rules_->Put(scope_, {"b", kLambdaRule, "DISABLED"}).ok());  // updates still work
  EXPECT_TRUE(rules_->Put({"123456789012", "eu-west-1"}, {"c", kLambdaRule}).ok());
}

TEST_F(InsightRulesTest, StoresFromBeforeTheHeadIndexAreBackfilledInFull) {
  // An old store: events without heads, index from a later seq.
  Append("/aws/lambda/a", {{kT0, InitStart(20)}, {kT0 + 1, InitStart(21)}});
  ASSERT_TRUE(db_->Transact([](store::Database::Txn& txn) {
                   return txn.Exec(
                       "UPDATE log_events SET head = NULL; UPDATE logs_meta SET value = 3 WHERE "
                       "key = 'head_indexed_from'");
                 })
                  .ok());
  Append("/aws/lambda/a", {{kT0 + 2, InitStart(21)}});
  auto stats = rules_->Put(scope_, {"rv", kLambdaRule});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->matched, 3);
}

}  // namespace
}  // namespace lambkin::insights
