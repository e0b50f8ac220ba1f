// The Prometheus text exposition (format 0.0.4) of a server's figures: the Lambda counters of
// LambdaMetrics by region, function and runtime version, and gauges read when scraped.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "metrics/lambda_metrics.h"

namespace lambkin::metrics {

struct RolloutGauge {
  std::string runtime_version, region, phase;
  int64_t candidates = 0, migrated = 0, remaining = 0;
};

struct ServerGauges {
  size_t environments_warm = 0, environments_busy = 0;
  size_t http_in_flight = 0, http_connections = 0;
  std::optional<int64_t> event_queue_depth, event_queue_oldest_age_ms;
  std::optional<double> store_ping_seconds;  // nullopt: the store did not answer
  std::vector<RolloutGauge> rollouts;
};

std::string RenderPrometheus(const std::vector<LambdaMetrics::Counter>& counters,
                             const ServerGauges& gauges);

}  // namespace lambkin::metrics
