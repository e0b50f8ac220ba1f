#include "metrics/lambda_metrics.h"

#include <algorithm>

#include <fmt/format.h>

namespace lambkin::metrics {
namespace {

constexpr int64_t kMinuteMs = int64_t{60} * 1000;

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

}  // namespace

void LambdaMetrics::AddLocked(const std::string& account, const std::string& region,
                              const char* metric, const char* unit, const Dimensions& dimensions,
                              int64_t minute, double value) {
  std::string key = SeriesKey(account, region, metric, dimensions);
  auto [it, added] = series_.try_emplace(key);
  Series& s = it->second;
  if (added) {
    s.id = {metric, dimensions, unit};
    s.account = account;
    s.region = region;
  }
  auto [b, fresh] = s.minutes.try_emplace(minute);
  Bucket& bucket = b->second;
  if (fresh) {
    bucket = {value, 1, value, value};
  } else {
    bucket.sum += value;
    bucket.count += 1;
    bucket.min = std::min(bucket.min, value);
    bucket.max = std::max(bucket.max, value);
  }
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
  if (now - last_trim_ms_ >= kMinuteMs || series_.size() > kMaxSeries) {
    last_trim_ms_ = now;
    for (auto it = series_.begin(); it != series_.end();) {
      auto& minutes = it->second.minutes;
      minutes.erase(minutes.begin(), minutes.lower_bound(now - kRetentionMs));
      it = minutes.empty() ? series_.erase(it) : std::next(it);
    }
    while (series_.size() > kMaxSeries) {
      auto oldest =
          std::min_element(series_.begin(), series_.end(), [](const auto& a, const auto& b) {
            return a.second.minutes.rbegin()->first < b.second.minutes.rbegin()->first;
          });
      series_.erase(oldest);
    }
  }
}

std::vector<SeriesId> LambdaMetrics::List(
    const std::string& account, const std::string& region, const std::string& ns,
    const std::string& metric,
    const std::vector<std::pair<std::string, std::optional<std::string>>>& filter) const {
  std::vector<SeriesId> out;
  if (!ns.empty() && ns != kLambdaNamespace) return out;
  std::lock_guard lock(mu_);
  for (const auto& entry : series_) {
    const Series& s = entry.second;
    if (s.account != account || s.region != region) continue;
    if (!metric.empty() && s.id.metric != metric) continue;
    bool match = std::all_of(filter.begin(), filter.end(), [&](const auto& f) {
      return std::any_of(s.id.dimensions.begin(), s.id.dimensions.end(), [&](const auto& d) {
        return d.first == f.first && (!f.second || d.second == *f.second);
      });
    });
    if (match) out.push_back(s.id);
  }
  return out;
}

std::vector<Datapoint> LambdaMetrics::Query(const std::string& account, const std::string& region,
                                            const std::string& ns, const std::string& metric,
                                            Dimensions dimensions, int64_t start_ms, int64_t end_ms,
                                            int64_t period_s) const {
  std::vector<Datapoint> out;
  if (ns != kLambdaNamespace || period_s <= 0) return out;
  int64_t period_ms = period_s * 1000;
  std::lock_guard lock(mu_);
  auto it = series_.find(SeriesKey(account, region, metric, Sorted(std::move(dimensions))));
  if (it == series_.end()) return out;
  const auto& minutes = it->second.minutes;
  for (auto m = minutes.lower_bound(start_ms - start_ms % kMinuteMs);
       m != minutes.end() && m->first < end_ms; ++m) {
    if (m->first < start_ms) continue;
    int64_t bucket = m->first - m->first % period_ms;
    const Bucket& b = m->second;
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
