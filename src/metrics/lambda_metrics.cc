#include "metrics/lambda_metrics.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace lambkin::metrics {
namespace {

constexpr int64_t kMinuteMs = int64_t{60} * 1000;
constexpr int64_t kHourMs = 60 * kMinuteMs;

constexpr char kMetricsDdl[] = R"sql(
CREATE TABLE IF NOT EXISTS metrics_series (
  account TEXT NOT NULL,
  region TEXT NOT NULL,
  namespace TEXT NOT NULL,
  metric TEXT NOT NULL,
  dimensions TEXT NOT NULL, -- JSON [[name, value], ...] sorted by name
  unit TEXT NOT NULL,
  last_minute INTEGER NOT NULL,
  PRIMARY KEY (account, region, namespace, metric, dimensions)
);
CREATE TABLE IF NOT EXISTS metrics_minutes (
  account TEXT NOT NULL,
  region TEXT NOT NULL,
  namespace TEXT NOT NULL,
  metric TEXT NOT NULL,
  dimensions TEXT NOT NULL,
  minute INTEGER NOT NULL, -- ms since the epoch, the minute's start
  value_sum REAL NOT NULL,
  value_count REAL NOT NULL,
  value_min REAL NOT NULL,
  value_max REAL NOT NULL,
  PRIMARY KEY (account, region, namespace, metric, dimensions, minute)
);
CREATE INDEX IF NOT EXISTS metrics_minutes_by_minute ON metrics_minutes (minute);
CREATE INDEX IF NOT EXISTS metrics_series_by_last_minute ON metrics_series (last_minute);
-- Each node's last flush (its number), so that a flush whose outcome is unknown (the connection
-- lost at COMMIT) is neither lost nor counted twice.
CREATE TABLE IF NOT EXISTS metrics_flushes (
  node TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  at INTEGER NOT NULL
);
)sql";

std::string SeriesKey(const std::string& account, const std::string& region,
                      std::string_view metric, const Dimensions& dimensions) {
  std::string key = fmt::format("{}|{}|{}", account, region, metric);
  for (const auto& [name, value] : dimensions) key += fmt::format("|{}={}", name, value);
  return key;
}

Dimensions Sorted(Dimensions d) {
  std::sort(d.begin(), d.end());
  return d;
}

std::string EncodeDimensions(const Dimensions& d) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [name, value] : d) out.push_back({name, value});
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Dimensions DecodeDimensions(std::string_view text) {
  Dimensions d;
  nlohmann::json in = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!in.is_array()) return d;
  for (const auto& pair : in) {
    if (pair.is_array() && pair.size() == 2 && pair[0].is_string() && pair[1].is_string()) {
      d.emplace_back(pair[0].get<std::string>(), pair[1].get<std::string>());
    }
  }
  return d;
}

}  // namespace

const store::Migrations& Schema() {
  static const store::Migrations kMigrations = {{"metrics", 1, kMetricsDdl, "", nullptr}};
  return kMigrations;
}

void LambdaMetrics::Bucket::Add(const Bucket& b) {
  if (count == 0) {
    *this = b;
    return;
  }
  sum += b.sum;
  count += b.count;
  min = std::min(min, b.min);
  max = std::max(max, b.max);
}

void LambdaMetrics::AddLocked(const std::string& account, const std::string& region,
                              const char* metric, const char* unit, const Dimensions& dimensions,
                              int64_t minute, double value) {
  std::string key = SeriesKey(account, region, metric, dimensions);
  auto [it, added] = pending_.try_emplace(key);
  Series& s = it->second;
  if (added) {
    s.id = {metric, dimensions, unit};
    s.account = account;
    s.region = region;
  }
  s.minutes[minute].Add({value, 1, value, value});
}

void LambdaMetrics::OnInvocationSample(const exec::InvocationSample& r) {
  int64_t now = clock_->NowMillis();
  int64_t minute = now - now % kMinuteMs;
  std::string runtime_version;
  if (r.runtime_version != 0 && catalog_ != nullptr) {
    if (auto v = catalog_->Get(r.runtime_version)) runtime_version = v->name;
  }
  bool qualified = r.resource != r.function;
  std::vector<Dimensions> sets = {{},
                                  {{"FunctionName", r.function}},
                                  Sorted({{"FunctionName", r.function}, {"Resource", r.resource}})};
  if (!r.throttled) {
    if (qualified) {
      sets.push_back(Sorted({{"ExecutedVersion", r.executed_version},
                             {"FunctionName", r.function},
                             {"Resource", r.resource}}));
    }
    if (!runtime_version.empty()) {
      sets.push_back({{"RuntimeVersion", runtime_version}});
      sets.push_back({{"FunctionName", r.function}, {"RuntimeVersion", runtime_version}});
    }
  }
  std::lock_guard lock(mu_);
  for (const Dimensions& d : sets) {
    const std::string& a = r.scope.account;
    const std::string& g = r.scope.region;
    if (r.throttled) {
      AddLocked(a, g, "Throttles", "Count", d, minute, 1);
      continue;
    }
    AddLocked(a, g, "Invocations", "Count", d, minute, 1);
    AddLocked(a, g, "Errors", "Count", d, minute, r.error ? 1 : 0);
    AddLocked(a, g, "Duration", "Milliseconds", d, minute, r.duration_ms);
    AddLocked(a, g, "ConcurrentExecutions", "Count", d, minute, static_cast<double>(r.concurrency));
  }
  Counter& c = counters_[fmt::format("{}|{}|{}", r.scope.region, r.function, runtime_version)];
  c.region = r.scope.region;
  c.function = r.function;
  c.runtime_version = runtime_version;
  if (r.throttled) {
    ++c.throttles;
  } else {
    ++c.invocations;
    c.errors += r.error ? 1 : 0;
    c.duration_seconds += r.duration_ms / 1000;
  }
  // Forget what is past retention, at most once a minute of the clock; and the oldest idle
  // series beyond the cap.
  if (now - last_trim_ms_ >= kMinuteMs || pending_.size() > kMaxSeries) {
    last_trim_ms_ = now;
    for (auto it = pending_.begin(); it != pending_.end();) {
      auto& minutes = it->second.minutes;
      minutes.erase(minutes.begin(), minutes.lower_bound(now - kRetentionMs));
      it = minutes.empty() ? pending_.erase(it) : std::next(it);
    }
    while (pending_.size() > kMaxSeries) {
      auto oldest =
          std::min_element(pending_.begin(), pending_.end(), [](const auto& a, const auto& b) {
            return a.second.minutes.rbegin()->first < b.second.minutes.rbegin()->first;
          });
      pending_.erase(oldest);
    }
  }
}

void LambdaMetrics::Merge(std::map<std::string, Series>& into,
                          std::map<std::string, Series>& from) {
  for (auto& [key, series] : from) {
    auto [it, added] = into.try_emplace(key, std::move(series));
    if (added) continue;
    for (const auto& [minute, bucket] : series.minutes) it->second.minutes[minute].Add(bucket);
  }
  from.clear();
}

Result<bool> LambdaMetrics::FlushCommitted(int64_t seq) const {
  bool committed = false;
  LAMBKIN_RETURN_IF_ERROR(db_->Read([&](store::Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(auto st,
                             txn.Prepare("SELECT seq FROM metrics_flushes WHERE node = ?"));
    st.Bind(1, node_);
    LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
    committed = row && st.ColumnInt(0) >= seq;
    return Status::Ok();
  }));
  return committed;
}

Status LambdaMetrics::Flush() {
  std::lock_guard flush(flush_mu_);
  std::map<std::string, Series> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(pending_);
  }
  // A failed flush may have committed all the same: its number says whether it did.
  if (uncertain_) {
    Result<bool> committed = FlushCommitted(uncertain_->seq);
    if (!committed.ok()) {
      std::lock_guard lock(mu_);
      Merge(pending_, batch);
      return committed.status();
    }
    if (!*committed) Merge(batch, uncertain_->batch);
    uncertain_.reset();
  }
  int64_t now = clock_->NowMillis();
  bool sweep = now - last_sweep_ms_ >= kHourMs || now < last_sweep_ms_;
  if (batch.empty() && !sweep) return Status::Ok();
  const int64_t seq = ++flush_seq_;
  Status s = db_->Transact([&](store::Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(
        auto minutes,
        txn.Prepare("INSERT INTO metrics_minutes (account, region, namespace, metric, dimensions, "
                    "minute, value_sum, value_count, value_min, value_max) VALUES "
                    "(?,?,?,?,?,?,?,?,?,?) ON CONFLICT (account, region, namespace, metric, "
                    "dimensions, minute) DO UPDATE SET value_sum = metrics_minutes.value_sum + "
                    "excluded.value_sum, value_count = metrics_minutes.value_count + "
                    "excluded.value_count, value_min = CASE WHEN excluded.value_min < "
                    "metrics_minutes.value_min THEN excluded.value_min ELSE "
                    "metrics_minutes.value_min END, value_max = CASE WHEN excluded.value_max > "
                    "metrics_minutes.value_max THEN excluded.value_max ELSE "
                    "metrics_minutes.value_max END"));
    LAMBKIN_ASSIGN_OR_RETURN(
        auto series,
        txn.Prepare("INSERT INTO metrics_series (account, region, namespace, metric, dimensions, "
                    "unit, last_minute) VALUES (?,?,?,?,?,?,?) ON CONFLICT (account, region, "
                    "namespace, metric, dimensions) DO UPDATE SET unit = excluded.unit, "
                    "last_minute = CASE WHEN excluded.last_minute > metrics_series.last_minute "
                    "THEN excluded.last_minute ELSE metrics_series.last_minute END"));
    for (const auto& [key, s] : batch) {
      if (s.minutes.empty()) continue;
      std::string dims = EncodeDimensions(s.id.dimensions);
      for (const auto& [minute, b] : s.minutes) {
        minutes.Bind(1, s.account).Bind(2, s.region).Bind(3, kLambdaNamespace);
        minutes.Bind(4, s.id.metric).Bind(5, dims).Bind(6, minute);
        minutes.BindReal(7, b.sum).BindReal(8, b.count).BindReal(9, b.min).BindReal(10, b.max);
        LAMBKIN_RETURN_IF_ERROR(minutes.Run());
        LAMBKIN_RETURN_IF_ERROR(minutes.Reset());
      }
      series.Bind(1, s.account).Bind(2, s.region).Bind(3, kLambdaNamespace);
      series.Bind(4, s.id.metric).Bind(5, dims).Bind(6, s.id.unit);
      series.Bind(7, s.minutes.rbegin()->first);
      LAMBKIN_RETURN_IF_ERROR(series.Run());
      LAMBKIN_RETURN_IF_ERROR(series.Reset());
    }
    LAMBKIN_ASSIGN_OR_RETURN(
        auto mark, txn.Prepare("INSERT INTO metrics_flushes (node, seq, at) VALUES (?,?,?) ON "
                               "CONFLICT (node) DO UPDATE SET seq = excluded.seq, at = "
                               "excluded.at"));
    mark.Bind(1, node_).Bind(2, seq).Bind(3, now);
    LAMBKIN_RETURN_IF_ERROR(mark.Run());
    if (sweep) {
      for (const char* sql : {"DELETE FROM metrics_minutes WHERE minute < ?",
                              "DELETE FROM metrics_series WHERE last_minute < ?",
                              "DELETE FROM metrics_flushes WHERE at < ?"}) {
        LAMBKIN_ASSIGN_OR_RETURN(auto old, txn.Prepare(sql));
        old.Bind(1, now - kRetentionMs);
        LAMBKIN_RETURN_IF_ERROR(old.Run());
      }
    }
    return Status::Ok();
  });
  if (!s.ok()) {
    uncertain_ = Uncertain{seq, std::move(batch)};
    return s;
  }
  if (sweep) last_sweep_ms_ = now;
  return Status::Ok();
}

Result<std::vector<SeriesId>> LambdaMetrics::List(
    const std::string& account, const std::string& region, const std::string& ns,
    const std::string& metric,
    const std::vector<std::pair<std::string, std::optional<std::string>>>& filter) const {
  std::vector<SeriesId> out;
  if (!ns.empty() && ns != kLambdaNamespace) return out;
  std::map<std::string, SeriesId> found;  // by key: sorted, each once
  std::lock_guard flush(flush_mu_);
  LAMBKIN_RETURN_IF_ERROR(db_->Read([&](store::Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st, txn.Prepare("SELECT metric, dimensions, unit FROM metrics_series WHERE "
                             "account = ? AND region = ? AND namespace = ? AND last_minute >= ? "
                             "AND (? = '' OR metric = ?)"));
    st.Bind(1, account).Bind(2, region).Bind(3, kLambdaNamespace);
    st.Bind(4, clock_->NowMillis() - kListWindowMs).Bind(5, metric).Bind(6, metric);
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      SeriesId id{st.ColumnText(0), DecodeDimensions(st.ColumnView(1)), st.ColumnText(2)};
      found.emplace(SeriesKey(account, region, id.metric, id.dimensions), std::move(id));
    }
    return Status::Ok();
  }));
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, s] : pending_) {
      if (s.account != account || s.region != region) continue;
      if (!metric.empty() && s.id.metric != metric) continue;
      found.emplace(key, s.id);
    }
  }
  for (auto& entry : found) {
    SeriesId& id = entry.second;
    bool match = std::all_of(filter.begin(), filter.end(), [&](const auto& f) {
      return std::any_of(id.dimensions.begin(), id.dimensions.end(), [&](const auto& d) {
        return d.first == f.first && (!f.second || d.second == *f.second);
      });
    });
    if (match) out.push_back(std::move(id));
  }
  return out;
}

Result<std::vector<Datapoint>> LambdaMetrics::Query(const std::string& account,
                                                    const std::string& region,
                                                    const std::string& ns,
                                                    const std::string& metric,
                                                    Dimensions dimensions, int64_t start_ms,
                                                    int64_t end_ms, int64_t period_s) const {
  std::vector<Datapoint> out;
  if (ns != kLambdaNamespace || period_s <= 0) return out;
  int64_t period_ms = period_s * 1000;
  dimensions = Sorted(std::move(dimensions));
  std::map<int64_t, Bucket> minutes;
  std::lock_guard flush(flush_mu_);
  LAMBKIN_RETURN_IF_ERROR(db_->Read([&](store::Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st, txn.Prepare("SELECT minute, value_sum, value_count, value_min, value_max FROM "
                             "metrics_minutes WHERE account = ? AND region = ? AND namespace = ? "
                             "AND metric = ? AND dimensions = ? AND minute >= ? AND minute < ?"));
    st.Bind(1, account).Bind(2, region).Bind(3, kLambdaNamespace).Bind(4, metric);
    st.Bind(5, EncodeDimensions(dimensions)).Bind(6, start_ms).Bind(7, end_ms);
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      minutes[st.ColumnInt(0)].Add(
          {st.ColumnReal(1), st.ColumnReal(2), st.ColumnReal(3), st.ColumnReal(4)});
    }
    return Status::Ok();
  }));
  {
    std::lock_guard lock(mu_);
    auto it = pending_.find(SeriesKey(account, region, metric, dimensions));
    if (it != pending_.end()) {
      const auto& mine = it->second.minutes;
      for (auto m = mine.lower_bound(start_ms); m != mine.end() && m->first < end_ms; ++m) {
        minutes[m->first].Add(m->second);
      }
    }
  }
  for (const auto& [minute, b] : minutes) {
    int64_t bucket = minute - minute % period_ms;
    if (out.empty() || out.back().timestamp_ms != bucket) {
      out.push_back({bucket, b.sum, b.count, b.min, b.max});
    } else {
      Datapoint& d = out.back();
      d.sum += b.sum;
      d.count += b.count;
      d.min = std::min(d.min, b.min);
      d.max = std::max(d.max, b.max);
    }
  }
  return out;
}

std::vector<LambdaMetrics::Counter> LambdaMetrics::Counters() const {
  std::lock_guard lock(mu_);
  std::vector<Counter> out;
  out.reserve(counters_.size());
  for (const auto& [key, c] : counters_) out.push_back(c);
  return out;
}

}  // namespace lambkin::metrics
