// InsightRules: Contributor Insights rules, evaluated as log events are stored.
//
// Every enabled rule sees each batch of log events inside the store transaction that appends it
// (an AppendObserver on the LogStore), and adds what matches to per-minute aggregates: for each
// (rule, minute, contributor) the count, sum, minimum and maximum of the values. A report reads
// only those aggregates, never the events, so it costs the same at any time. Creating an enabled
// rule, or changing its definition, fills the aggregates from the events already stored in the
// backfill window in the same transaction, on several reader connections in parallel (a CLF rule
// that filters the first field reads only the events the store's head index points at).
// Re-creating or redefining a rule drops its old data, as CloudWatch may.
//
// Rules and aggregates are in the store: they survive restarts, and an event is counted exactly
// when it is stored. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "insights/rule.h"
#include "logs/log_store.h"
#include "store/database.h"

namespace lambkin::insights {

// Its tables, as numbered migrations (store/database.h).
const store::Migrations& Schema();

using Scope = functions::Scope;

struct InsightsOptions {
  int max_rules_per_region = 100;                        // CloudWatch's quota
  int64_t backfill_window_ms = 14LL * 24 * 3600 * 1000;  // how far back a new rule reads
  int backfill_threads = 2;
};

struct RuleRecord {
  std::string name;
  std::string state;  // ENABLED | DISABLED
  std::string definition;
  bool apply_on_transformed_logs = false;
  int64_t created_at = 0;
};

struct PutRuleRequest {
  std::string name;
  std::string definition;
  std::string state = "ENABLED";
  bool apply_on_transformed_logs = false;
  std::vector<std::pair<std::string, std::string>> tags;
};

// What the backfill of a Put read (zero when there was none).
struct BackfillStats {
  int64_t events = 0;
  int64_t bytes = 0;
  int64_t matched = 0;
};

struct ReportRequest {
  std::string name;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  int64_t period_s = 60;
  int max_contributors = 10;
  std::vector<std::string> metrics;  // UniqueContributors, MaxContributorValue, SampleCount, ...
  std::string order_by = "Sum";      // Sum | Maximum

  static constexpr int64_t kMaxPeriods = 1440;
  // Period a multiple of 60 s (data is kept per minute), at most kMaxPeriods of them, 1-100
  // contributors, known metrics. InvalidParameterValue otherwise.
  Status Validate() const;
};

struct Report {
  std::vector<std::string> key_labels;
  std::string aggregation_statistic;  // Count | Sum
  double aggregate_value = 0;
  int64_t unique_contributors = 0;
  struct Point {
    int64_t timestamp_ms = 0;
    double value = 0;
  };
  struct Contributor {
    std::vector<std::string> keys;
    double aggregate_value = 0;
    std::vector<Point> datapoints;  // only the periods it appeared in
  };
  std::vector<Contributor> contributors;
  struct MetricPoint {
    int64_t timestamp_ms = 0;
    std::vector<std::pair<std::string, double>> values;  // in the order asked for
  };
  std::vector<MetricPoint> metric_datapoints;
};

// One name Delete/Enable/Disable could not act on.
struct RuleFailure {
  std::string resource;
  std::string exception_type;
  std::string failure_code;
  std::string description;
};

// The metrics a report can carry, in CloudWatch's order.
extern const char* const kReportMetrics[7];

class InsightRules : public logs::AppendObserver {
 public:
  InsightRules(store::Database* db, logs::LogStore* logs, const Clock* clock,
               InsightsOptions options = {});
  // Loads the stored rules and starts observing `logs`.
  Status Start();

  Result<BackfillStats> Put(const Scope& scope, const PutRuleRequest& request);
  Result<std::vector<RuleRecord>> Describe(const Scope& scope) const;
  Result<std::vector<RuleFailure>> Delete(const Scope& scope,
                                          const std::vector<std::string>& names);
  Result<std::vector<RuleFailure>> SetState(const Scope& scope,
                                            const std::vector<std::string>& names, bool enabled);
  Result<Report> GetReport(const Scope& scope, const ReportRequest& request) const;

  // Reads the enabled rules again (another node changed them).
  Status Reload();

  Status OnAppend(store::Database::Txn& txn, const Scope& scope, const std::string& group,
                  const std::vector<logs::LogEvent>& events) override;

 private:
  struct Active {
    int64_t id = 0;
    Scope scope;
    std::string name;
    std::shared_ptr<const Rule> rule;
  };
  Result<BackfillStats> Backfill(store::Database::Txn& txn, const Active& rule);

  store::Database* db_;
  logs::LogStore* logs_;
  const Clock* clock_;
  InsightsOptions options_;
  // The enabled rules. Changed only inside a store write transaction (which also serialises it
  // with OnAppend); the mutex keeps readers outside one safe.
  mutable std::mutex mu_;
  std::vector<Active> active_;
};

}  // namespace lambkin::insights
