#include "insights/insight_rules.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace lambkin::insights {

using store::Database;
using Txn = Database::Txn;
using nlohmann::json;

namespace {
constexpr char kInsightsDdl[] = R"sql(
CREATE TABLE IF NOT EXISTS insight_rules (
  id INTEGER PRIMARY KEY,
  account TEXT NOT NULL,
  region TEXT NOT NULL,
  name TEXT NOT NULL,
  definition TEXT NOT NULL,
  state TEXT NOT NULL,
  apply_on_transformed_logs INTEGER NOT NULL DEFAULT 0,
  tags TEXT NOT NULL DEFAULT '[]',
  created_at INTEGER NOT NULL,
  UNIQUE (account, region, name)
);
-- What a rule has seen: per epoch minute and contributor (a JSON array of the key values).
CREATE TABLE IF NOT EXISTS insight_points (
  rule_id INTEGER NOT NULL REFERENCES insight_rules (id) ON DELETE CASCADE,
  minute INTEGER NOT NULL,
  contributor TEXT NOT NULL,
  count INTEGER NOT NULL,
  sum REAL NOT NULL,
  min REAL NOT NULL,
  max REAL NOT NULL,
  PRIMARY KEY (rule_id, minute, contributor)
) WITHOUT ROWID;
)sql";
}  // namespace

const store::Migrations& Schema() {
  static const store::Migrations kMigrations = {
      {"insights", 1, kInsightsDdl, ""},
  };
  return kMigrations;
}

const char* const kReportMetrics[7] = {"UniqueContributors",
                                       "MaxContributorValue",
                                       "SampleCount",
                                       "Sum",
                                       "Minimum",
                                       "Maximum",
                                       "Average"};

namespace {

constexpr int64_t kMinuteMs = 60000;

int64_t MinuteOf(int64_t timestamp_ms) {
  return timestamp_ms >= 0 ? timestamp_ms / kMinuteMs
                           : -((-timestamp_ms + kMinuteMs - 1) / kMinuteMs);
}

struct Agg {
  int64_t count = 0;
  double sum = 0;
  double min = 0;
  double max = 0;
  void Add(double v) {
    min = count == 0 ? v : std::min(min, v);
    max = count == 0 ? v : std::max(max, v);
    sum += v;
    ++count;
  }
  void Merge(const Agg& o) {
    if (o.count == 0) return;
    min = count == 0 ? o.min : std::min(min, o.min);
    max = count == 0 ? o.max : std::max(max, o.max);
    sum += o.sum;
    count += o.count;
  }
};

// Contributions of a batch (or a backfill shard) before they reach the store; the key is the
// minute's 8 bytes followed by the contributor.
class Accumulator {
 public:
  void Add(int64_t timestamp_ms, const Contribution& c) {
    int64_t minute = MinuteOf(timestamp_ms);
    key_.assign(reinterpret_cast<const char*>(&minute), sizeof minute);
    key_.append(c.contributor);
    points_[key_].Add(c.value);
    ++matched_;
  }
  void Merge(Accumulator& other) {
    for (auto& [k, a] : other.points_) points_[k].Merge(a);
    matched_ += other.matched_;
  }
  int64_t matched() const { return matched_; }

  Status Write(Txn& txn, int64_t rule_id) const {
    if (points_.empty()) return Status::Ok();
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st,
        txn.Prepare("INSERT INTO insight_points (rule_id, minute, contributor, count, "
                    "sum, min, max) VALUES (?,?,?,?,?,?,?) ON CONFLICT (rule_id, minute, "
                    "contributor) DO UPDATE SET count = insight_points.count + excluded.count, "
                    "sum = insight_points.sum + excluded.sum, min = CASE WHEN excluded.min < "
                    "insight_points.min "
                    "THEN excluded.min ELSE insight_points.min END, max = CASE WHEN "
                    "excluded.max > insight_points.max THEN excluded.max ELSE "
                    "insight_points.max END"));
    for (const auto& [k, a] : points_) {
      int64_t minute = 0;
      std::memcpy(&minute, k.data(), sizeof minute);
      json keys = Rule::SplitContributor(std::string_view(k).substr(sizeof minute));
      st.Bind(1, rule_id).Bind(2, minute).Bind(3, keys.dump()).Bind(4, a.count);
      st.BindReal(5, a.sum).BindReal(6, a.min).BindReal(7, a.max);
      LAMBKIN_RETURN_IF_ERROR(st.Run());
      LAMBKIN_RETURN_IF_ERROR(st.Reset());
    }
    return Status::Ok();
  }

 private:
  std::string key_;
  std::unordered_map<std::string, Agg> points_;
  int64_t matched_ = 0;
};

Status RuleNotFound(const std::string& name) {
  return NotFound(fmt::format("Rule {} does not exist.", name));
}

// A stored rule's id and definition, by name.
struct StoredRule {
  int64_t id = 0;
  std::string definition;
};

Result<std::optional<StoredRule>> FindRule(Txn& txn, const Scope& scope, const std::string& name) {
  LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare("SELECT id, definition FROM insight_rules WHERE "
                                                "account = ? AND region = ? AND name = ?"));
  st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, name);
  LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<StoredRule>();
  return std::optional<StoredRule>(StoredRule{st.ColumnInt(0), st.ColumnText(1)});
}

}  // namespace

InsightRules::InsightRules(Database* db, logs::LogStore* logs, const Clock* clock,
                           InsightsOptions options)
    : db_(db), logs_(logs), clock_(clock), options_(options) {}

Status InsightRules::Start() {
  LAMBKIN_RETURN_IF_ERROR(Reload());
  logs_->SetAppendObserver(this);
  return Status::Ok();
}

Status InsightRules::Reload() {
  std::vector<Active> active;
  LAMBKIN_RETURN_IF_ERROR(db_->Read([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare("SELECT id, account, region, name, definition "
                                                  "FROM insight_rules WHERE state = 'ENABLED'"));
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) return Status::Ok();
      Result<Rule> rule = Rule::Parse(st.ColumnText(4));
      if (!rule.ok()) {
        return Internal(fmt::format("stored insight rule {} no longer parses: {}", st.ColumnText(3),
                                    rule.status().message()));
      }
      active.push_back({st.ColumnInt(0), Scope{st.ColumnText(1), st.ColumnText(2)},
                        st.ColumnText(3), std::make_shared<const Rule>(std::move(*rule))});
    }
  }));
  std::lock_guard lock(mu_);
  active_ = std::move(active);
  return Status::Ok();
}

Result<BackfillStats> InsightRules::Backfill(Txn& txn, const Active& rule) {
  logs::ScanRequest request;
  request.since = clock_->NowMillis() - options_.backfill_window_ms;
  LAMBKIN_ASSIGN_OR_RETURN(auto streams, logs::LogStore::Streams(txn));
  for (const auto& s : streams) {
    if (rule.rule->AppliesTo(rule.scope, s.scope, s.group)) request.streams.push_back(s.id);
  }
  request.heads = rule.rule->head_constraint();
  int shards = std::max(1, options_.backfill_threads);
  std::vector<Accumulator> acc(shards);
  std::vector<Contribution> scratch(shards);
  const Rule& r = *rule.rule;
  LAMBKIN_ASSIGN_OR_RETURN(
      logs::ScanStats stats,
      logs_->Scan(request, shards,
                  [&](int shard, int64_t /*stream*/, int64_t ts, std::string_view message) {
                    if (r.Evaluate(message, scratch[shard])) acc[shard].Add(ts, scratch[shard]);
                  }));
  for (int i = 1; i < shards; ++i) acc[0].Merge(acc[i]);
  LAMBKIN_RETURN_IF_ERROR(acc[0].Write(txn, rule.id));
  return BackfillStats{stats.events, stats.bytes, acc[0].matched()};
}

Result<BackfillStats> InsightRules::Put(const Scope& scope, const PutRuleRequest& request) {
  LAMBKIN_ASSIGN_OR_RETURN(Rule parsed, Rule::Parse(request.definition));
  auto rule = std::make_shared<const Rule>(std::move(parsed));
  bool enabled = request.state == "ENABLED";
  int64_t now = clock_->NowMillis();
  BackfillStats stats;
  Status s = db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_RETURN_IF_ERROR(store::Touch(txn, "insights"));
    LAMBKIN_ASSIGN_OR_RETURN(std::optional<StoredRule> existing,
                             FindRule(txn, scope, request.name));
    int64_t id = 0;
    bool fresh = true;
    if (existing) {
      id = existing->id;
      fresh = existing->definition != request.definition;
      LAMBKIN_ASSIGN_OR_RETURN(auto upd, txn.Prepare("UPDATE insight_rules SET definition = ?, "
                                                     "state = ?, apply_on_transformed_logs = ? "
                                                     "WHERE id = ?"));
      upd.Bind(1, request.definition).Bind(2, request.state);
      upd.Bind(3, request.apply_on_transformed_logs ? 1 : 0).Bind(4, id);
      LAMBKIN_RETURN_IF_ERROR(upd.Run());
      if (fresh) {
        LAMBKIN_ASSIGN_OR_RETURN(auto drop,
                                 txn.Prepare("DELETE FROM insight_points WHERE rule_id = ?"));
        drop.Bind(1, id);
        LAMBKIN_RETURN_IF_ERROR(drop.Run());
      }
    } else {
      LAMBKIN_ASSIGN_OR_RETURN(auto count, txn.Prepare("SELECT COUNT(*) FROM insight_rules WHERE "
                                                       "account = ? AND region = ?"));
      count.Bind(1, scope.account).Bind(2, scope.region);
      LAMBKIN_RETURN_IF_ERROR(count.Step().status());
      if (count.ColumnInt(0) >= options_.max_rules_per_region) {
        return Status(StatusCode::kLimitExceeded,
                      fmt::format("The maximum number of Contributor Insights rules ({}) in "
                                  "this Region has been reached.",
                                  options_.max_rules_per_region));
      }
      json tags = json::array();
      for (const auto& [k, v] : request.tags) tags.push_back({{"Key", k}, {"Value", v}});
      LAMBKIN_ASSIGN_OR_RETURN(
          auto ins, txn.Prepare("INSERT INTO insight_rules (account, region, name, definition, "
                                "state, apply_on_transformed_logs, tags, created_at) VALUES "
                                "(?,?,?,?,?,?,?,?) RETURNING id"));
      ins.Bind(1, scope.account).Bind(2, scope.region).Bind(3, request.name);
      ins.Bind(4, request.definition).Bind(5, request.state);
      ins.Bind(6, request.apply_on_transformed_logs ? 1 : 0).Bind(7, tags.dump()).Bind(8, now);
      LAMBKIN_ASSIGN_OR_RETURN(bool row, ins.Step());
      if (!row) return Internal("store: INSERT … RETURNING returned no row");
      id = ins.ColumnInt(0);
    }
    Active active{id, scope, request.name, rule};
    if (enabled && fresh) {
      LAMBKIN_ASSIGN_OR_RETURN(stats, Backfill(txn, active));
    }
    // Inside the transaction, so no batch of events is stored between the backfill's snapshot
    // and the rule seeing new ones.
    std::lock_guard lock(mu_);
    std::erase_if(active_, [&](const Active& a) { return a.id == id; });
    if (enabled) active_.push_back(std::move(active));
    return Status::Ok();
  });
  if (!s.ok()) {
    (void)Reload();  // undo what the rolled-back transaction did to the active set
    return s;
  }
  return stats;
}

Result<std::vector<RuleRecord>> InsightRules::Describe(const Scope& scope) const {
  std::vector<RuleRecord> out;
  LAMBKIN_RETURN_IF_ERROR(db_->Read([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare("SELECT name, state, definition, "
                                                  "apply_on_transformed_logs, created_at FROM "
                                                  "insight_rules WHERE account = ? AND region = ? "
                                                  "ORDER BY name"));
    st.Bind(1, scope.account).Bind(2, scope.region);
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) return Status::Ok();
      out.push_back({st.ColumnText(0), st.ColumnText(1), st.ColumnText(2), st.ColumnInt(3) != 0,
                     st.ColumnInt(4)});
    }
  }));
  return out;
}

Result<std::vector<RuleFailure>> InsightRules::Delete(const Scope& scope,
                                                      const std::vector<std::string>& names) {
  std::vector<RuleFailure> failures;
  Status s = db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_RETURN_IF_ERROR(store::Touch(txn, "insights"));
    failures.clear();
    for (const auto& name : names) {
      LAMBKIN_ASSIGN_OR_RETURN(std::optional<StoredRule> stored, FindRule(txn, scope, name));
      if (!stored) {
        failures.push_back({name, "ResourceNotFoundException", "", RuleNotFound(name).message()});
        continue;
      }
      LAMBKIN_ASSIGN_OR_RETURN(auto del, txn.Prepare("DELETE FROM insight_rules WHERE id = ?"));
      del.Bind(1, stored->id);
      LAMBKIN_RETURN_IF_ERROR(del.Run());
      std::lock_guard lock(mu_);
      std::erase_if(active_, [&](const Active& a) { return a.id == stored->id; });
    }
    return Status::Ok();
  });
  if (!s.ok()) {
    (void)Reload();
    return s;
  }
  return failures;
}

Result<std::vector<RuleFailure>> InsightRules::SetState(const Scope& scope,
                                                        const std::vector<std::string>& names,
                                                        bool enabled) {
  std::vector<RuleFailure> failures;
  Status s = db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_RETURN_IF_ERROR(store::Touch(txn, "insights"));
    failures.clear();
    for (const auto& name : names) {
      LAMBKIN_ASSIGN_OR_RETURN(std::optional<StoredRule> stored, FindRule(txn, scope, name));
      if (!stored) {
        failures.push_back({name, "ResourceNotFoundException", "", RuleNotFound(name).message()});
        continue;
      }
      int64_t id = stored->id;
      Result<Rule> rule = Rule::Parse(stored->definition);
      if (!rule.ok()) return Internal(rule.status().message());
      LAMBKIN_ASSIGN_OR_RETURN(auto upd,
                               txn.Prepare("UPDATE insight_rules SET state = ? WHERE id = ?"));
      upd.Bind(1, enabled ? "ENABLED" : "DISABLED").Bind(2, id);
      LAMBKIN_RETURN_IF_ERROR(upd.Run());
      // Enabling starts from now: events stored while disabled stay unanalysed, as in
      // CloudWatch.
      std::lock_guard lock(mu_);
      std::erase_if(active_, [&](const Active& a) { return a.id == id; });
      if (enabled) {
        active_.push_back({id, scope, name, std::make_shared<const Rule>(std::move(*rule))});
      }
    }
    return Status::Ok();
  });
  if (!s.ok()) {
    (void)Reload();
    return s;
  }
  return failures;
}

Status InsightRules::OnAppend(Txn& txn, const Scope& scope, const std::string& group,
                              const std::vector<logs::LogEvent>& events) {
  std::vector<Active> rules;
  {
    std::lock_guard lock(mu_);
    for (const auto& a : active_) {
      if (a.rule->AppliesTo(a.scope, scope, group)) rules.push_back(a);
    }
  }
  Contribution c;
  for (const auto& a : rules) {
    Accumulator acc;
    for (const auto& e : events) {
      if (a.rule->Evaluate(e.message, c)) acc.Add(e.timestamp, c);
    }
    LAMBKIN_RETURN_IF_ERROR(acc.Write(txn, a.id));
  }
  return Status::Ok();
}

Status ReportRequest::Validate() const {
  auto invalid = [](std::string m) {
    return Status(StatusCode::kInvalidParameterValue, std::move(m));
  };
  if (end_ms <= start_ms) return invalid("The parameter EndTime must be greater than StartTime.");
  if (period_s < 60 || period_s % 60 != 0) {
    return invalid(
        "The parameter Period must be a multiple of 60: Contributor Insights keeps data per "
        "minute.");
  }
  if ((end_ms - start_ms) / (period_s * 1000) > kMaxPeriods) {
    return invalid(fmt::format(
        "The report would have more than {} datapoints; use a longer Period or a shorter range.",
        kMaxPeriods));
  }
  if (max_contributors < 1 || max_contributors > 100) {
    return invalid("MaxContributorCount must be between 1 and 100.");
  }
  for (const auto& m : metrics) {
    if (std::find(std::begin(kReportMetrics), std::end(kReportMetrics), m) ==
        std::end(kReportMetrics)) {
      return invalid(fmt::format(
          "'{}' is not a report metric: UniqueContributors, MaxContributorValue, SampleCount, "
          "Sum, Minimum, Maximum or Average.",
          m));
    }
  }
  if (order_by != "Sum" && order_by != "Maximum") return invalid("OrderBy must be Sum or Maximum.");
  return Status::Ok();
}

Result<Report> InsightRules::GetReport(const Scope& scope, const ReportRequest& request) const {
  LAMBKIN_RETURN_IF_ERROR(request.Validate());
  Report report;
  // Per period, per contributor: the aggregate of its minutes.
  std::map<int64_t, std::map<std::string, Agg>> periods;
  std::string definition;
  int64_t period_ms = request.period_s * 1000;
  LAMBKIN_RETURN_IF_ERROR(db_->Read([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(std::optional<StoredRule> stored, FindRule(txn, scope, request.name));
    if (!stored) return RuleNotFound(request.name);
    int64_t id = stored->id;
    definition = std::move(stored->definition);
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st, txn.Prepare("SELECT minute, contributor, count, sum, min, max FROM "
                             "insight_points WHERE rule_id = ? AND minute >= ? AND minute < ?"));
    // Minutes that start inside [start, end).
    st.Bind(1, id).Bind(2, MinuteOf(request.start_ms + kMinuteMs - 1));
    st.Bind(3, MinuteOf(request.end_ms + kMinuteMs - 1));
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) return Status::Ok();
      int64_t t = st.ColumnInt(0) * kMinuteMs;
      int64_t bucket =
          t >= 0 ? t / period_ms * period_ms : -((-t + period_ms - 1) / period_ms) * period_ms;
      Agg a{st.ColumnInt(2), st.ColumnReal(3), st.ColumnReal(4), st.ColumnReal(5)};
      periods[bucket][st.ColumnText(1)].Merge(a);
    }
  }));
  LAMBKIN_ASSIGN_OR_RETURN(Rule rule, Rule::Parse(definition));
  bool sum = rule.aggregate_on() == AggregateOn::kSum;
  report.key_labels = rule.key_labels();
  report.aggregation_statistic = sum ? "Sum" : "Count";
  auto value = [&](const Agg& a) { return sum ? a.sum : static_cast<double>(a.count); };

  struct Totals {
    double total = 0;
    double max = 0;
    std::vector<Report::Point> points;
  };
  std::map<std::string, Totals> contributors;
  for (const auto& [t, by] : periods) {
    Agg all;
    double top = 0;
    for (const auto& [c, a] : by) {
      double v = value(a);
      Totals& tot = contributors[c];
      tot.total += v;
      tot.max = std::max(tot.max, v);
      tot.points.push_back({t, v});
      top = std::max(top, v);
      all.Merge(a);
      report.aggregate_value += v;
    }
    if (request.metrics.empty()) continue;
    Report::MetricPoint mp{t, {}};
    for (const auto& m : request.metrics) {
      double v = 0;
      if (m == "UniqueContributors") v = static_cast<double>(by.size());
      if (m == "MaxContributorValue") v = top;
      if (m == "SampleCount") v = static_cast<double>(all.count);
      if (m == "Sum") v = all.sum;
      if (m == "Minimum") v = all.min;
      if (m == "Maximum") v = all.max;
      if (m == "Average") v = all.count > 0 ? all.sum / static_cast<double>(all.count) : 0;
      mp.values.emplace_back(m, v);
    }
    report.metric_datapoints.push_back(std::move(mp));
  }
  report.unique_contributors = static_cast<int64_t>(contributors.size());
  bool by_max = request.order_by == "Maximum";
  std::vector<std::pair<const std::string*, Totals*>> ranked;
  ranked.reserve(contributors.size());
  for (auto& [c, tot] : contributors) ranked.emplace_back(&c, &tot);
  std::stable_sort(ranked.begin(), ranked.end(), [&](const auto& a, const auto& b) {
    double va = by_max ? a.second->max : a.second->total;
    double vb = by_max ? b.second->max : b.second->total;
    return va > vb;
  });
  if (static_cast<int>(ranked.size()) > request.max_contributors) {
    ranked.resize(request.max_contributors);
  }
  for (const auto& [c, tot] : ranked) {
    json keys = json::parse(*c, nullptr, false);
    Report::Contributor out;
    if (keys.is_array()) {
      for (const auto& k : keys)
        out.keys.push_back(k.is_string() ? k.get<std::string>() : k.dump());
    }
    out.aggregate_value = tot->total;
    out.datapoints = std::move(tot->points);
    report.contributors.push_back(std::move(out));
  }
  return report;
}

}  // namespace lambkin::insights
