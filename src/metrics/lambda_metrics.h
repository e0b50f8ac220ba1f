// LambdaMetrics: the figures CloudWatch publishes for Lambda (namespace AWS/Lambda:
// Invocations, Errors, Throttles, Duration, ConcurrentExecutions), counted from every
// invocation, in one-minute buckets by the server's clock (a simulated clock included), for
// GetMetricStatistics, GetMetricData and ListMetrics; and the same figures as Prometheus counters
// since this server started.
//
// Dimensions, as AWS publishes them: none (the account and region), FunctionName,
// FunctionName+Resource (the name as invoked, "fn" or "fn:alias"), and for a qualified
// invocation FunctionName+Resource+ExecutedVersion; and Lambkin's own, so that errors can be
// charted per runtime version during a rollout: RuntimeVersion, FunctionName+RuntimeVersion
// (the runtime version's name, "python:3.11.v2").
//
// Kept in the store (metrics_minutes, one row per series and minute, kept kRetentionMs), so that
// every node sharing a store answers with the figures of every node, and a restart loses
// nothing flushed: each node counts its invocations in memory and adds them to the store's rows
// every few seconds (Flush; and at a graceful stop). Reads add what this node has not flushed
// yet. ConcurrentExecutions is each node's own count of environments busy at the time of each
// invocation; with several nodes, its Maximum is the busiest node's.
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
#include "common/crypto.h"
#include "common/status.h"
#include "exec/invoker.h"
#include "store/database.h"

namespace lambkin::metrics {

inline constexpr std::string_view kLambdaNamespace = "AWS/Lambda";
inline constexpr int64_t kRetentionMs = int64_t{15} * 24 * 3600 * 1000;
// Beyond this many series (account, region, metric, dimensions) waiting for a flush (the store
// unreachable for long), the oldest idle one goes.
inline constexpr size_t kMaxSeries = 200000;
// ListMetrics lists the series with a datapoint in the last two weeks, as CloudWatch does.
inline constexpr int64_t kListWindowMs = int64_t{14} * 24 * 3600 * 1000;

// The tables (subsystem "metrics").
const store::Migrations& Schema();

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
  LambdaMetrics(store::Database* db, const Clock* clock, const catalog::Catalog* catalog)
      : db_(db), clock_(clock), catalog_(catalog), node_(RandomUuid()) {}

  void OnInvocationSample(const exec::InvocationSample& record) override;

  // Adds what this node counted since the last flush to the store, and deletes the minutes past
  // retention (at most once an hour of the clock). A flush that fails may still have committed
  // (the connection lost at COMMIT): the next one reads whether it did (its number, in
  // metrics_flushes) and flushes its figures again only if not — never lost, never twice.
  // Until then, reads leave them out.
  Status Flush();

  // The series of `account`/`region` in `ns` (only AWS/Lambda has any) named `metric` (any when
  // empty) having every dimension of `filter` (with that value when one is given).
  Result<std::vector<SeriesId>> List(
      const std::string& account, const std::string& region, const std::string& ns,
      const std::string& metric,
      const std::vector<std::pair<std::string, std::optional<std::string>>>& filter) const;
  // The buckets of `period_s` seconds (aligned to it since the epoch) in [start_ms, end_ms) of
  // the series with exactly `dimensions`, oldest first; empty buckets are left out.
  Result<std::vector<Datapoint>> Query(const std::string& account, const std::string& region,
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
    void Add(const Bucket& b);
  };
  struct Series {
    SeriesId id;
    std::string account, region;
    std::map<int64_t, Bucket> minutes;  // by minute start, ms
  };
  void AddLocked(const std::string& account, const std::string& region, const char* metric,
                 const char* unit, const Dimensions& dimensions, int64_t minute, double value);

  // Adds every bucket of `from` to `into`, and empties `from`.
  static void Merge(std::map<std::string, Series>& into, std::map<std::string, Series>& from);
  // Whether this node's flush number `seq` committed.
  Result<bool> FlushCommitted(int64_t seq) const;
  struct Uncertain {
    int64_t seq = 0;
    std::map<std::string, Series> batch;
  };

  store::Database* db_;
  const Clock* clock_;
  const catalog::Catalog* catalog_;
  const std::string node_;  // this process, in metrics_flushes
  // Held by reads and by a flush: a read sees a flush's buckets either in the store or in
  // memory, never in both or neither.
  mutable std::mutex flush_mu_;
  int64_t flush_seq_ = 0;               // the last flush's number (under flush_mu_)
  std::optional<Uncertain> uncertain_;  // a failed flush that may have committed (flush_mu_)
  mutable std::mutex mu_;
  std::map<std::string, Series> pending_;  // not yet in the store, by account|region|metric|dims
  std::map<std::string, Counter> counters_;
  int64_t last_trim_ms_ = 0;
  int64_t last_sweep_ms_ = 0;
};

}  // namespace lambkin::metrics
