// LambdaMetrics: the figures CloudWatch publishes for Lambda (namespace AWS/Lambda:
// Invocations, Errors, Throttles, Duration, ConcurrentExecutions), counted from every
// invocation this node runs, in one-minute buckets by the server's clock (a simulated clock
// included), for GetMetricStatistics, GetMetricData and ListMetrics; and the same figures as
// Prometheus counters since the server started.
//
// Dimensions, as AWS publishes them: none (the account and region), FunctionName,
// FunctionName+Resource (the name as invoked, "fn" or "fn:alias"), and for a qualified
// invocation FunctionName+Resource+ExecutedVersion; and Lambkin's own, so that errors can be
// charted per runtime version during a rollout: RuntimeVersion, FunctionName+RuntimeVersion
// (the runtime version's name, "python:3.11.v2").
//
// Kept in memory for kRetentionMs (the node's own invocations: a node answers for what it ran).
// Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "catalog/catalog.h"
#include "common/clock.h"
#include "exec/invoker.h"

namespace lambkin::metrics {

inline constexpr std::string_view kLambdaNamespace = "AWS/Lambda";
inline constexpr int64_t kRetentionMs = int64_t{15} * 24 * 3600 * 1000;
// Beyond this many series (account, region, metric, dimensions), the oldest idle one goes.
inline constexpr size_t kMaxSeries = 200000;

using Dimensions = std::vector<std::pair<std::string, std::string>>;  // sorted by name

struct SeriesId {
  std::string metric;
  Dimensions dimensions;
  std::string unit;
};

// One bucket: the statistics of the values in [timestamp_ms, timestamp_ms + period).
struct Datapoint {
  int64_t timestamp_ms = 0;
  double sum = 0, count = 0, min = 0, max = 0;
};

class LambdaMetrics : public exec::InvocationMetricsSink {
 public:
  LambdaMetrics(const Clock* clock, const catalog::Catalog* catalog)
      : clock_(clock), catalog_(catalog) {}

  void OnInvocationSample(const exec::InvocationSample& record) override;

  // The series of `account`/`region` in `ns` (only AWS/Lambda has any) named `metric` (any when
  // empty) having every dimension of `filter` (with that value when one is given).
  std::vector<SeriesId> List(
      const std::string& account, const std::string& region, const std::string& ns,
      const std::string& metric,
      const std::vector<std::pair<std::string, std::optional<std::string>>>& filter) const;
  // The buckets of `period_s` seconds (aligned to it since the epoch) in [start_ms, end_ms) of
  // the series with exactly `dimensions`, oldest first; empty buckets are left out.
  std::vector<Datapoint> Query(const std::string& account, const std::string& region,
                               const std::string& ns, const std::string& metric,
                               Dimensions dimensions, int64_t start_ms, int64_t end_ms,
                               int64_t period_s) const;

  // Counters since the server started, for the Prometheus endpoint.
  struct Counter {
    std::string region, function, runtime_version;
    int64_t invocations = 0, errors = 0, throttles = 0;
    double duration_seconds = 0;
  };
  std::vector<Counter> Counters() const;

 private:
  struct Bucket {
    double sum = 0, count = 0, min = 0, max = 0;
  };
  struct Series {
    SeriesId id;
    std::string account, region;
    std::map<int64_t, Bucket> minutes;  // by minute start, ms
  };
  void AddLocked(const std::string& account, const std::string& region, const char* metric,
                 const char* unit, const Dimensions& dimensions, int64_t minute, double value);

  const Clock* clock_;
  const catalog::Catalog* catalog_;
  mutable std::mutex mu_;
  std::map<std::string, Series> series_;  // by account|region|metric|dimensions
  std::map<std::string, Counter> counters_;
  int64_t last_trim_ms_ = 0;
};

}  // namespace lambkin::metrics
