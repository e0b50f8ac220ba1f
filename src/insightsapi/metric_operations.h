// CloudWatch's metric reads over Lambkin's Lambda metrics (metrics/lambda_metrics.h):
// ListMetrics, GetMetricStatistics and GetMetricData, in the shapes of the CloudWatch API
// (JSON 1.0 input and output; the Query protocol reaches them through the same JSON).
#pragma once

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "functions/model.h"
#include "metrics/lambda_metrics.h"
#include "server/json_input.h"

namespace lambkin::insightsapi {

Result<nlohmann::json> ListMetrics(const metrics::LambdaMetrics& m, const functions::Scope& s,
                                   const server::JsonInput& in);
Result<nlohmann::json> GetMetricStatistics(const metrics::LambdaMetrics& m,
                                           const functions::Scope& s, const server::JsonInput& in);
Result<nlohmann::json> GetMetricData(const metrics::LambdaMetrics& m, const functions::Scope& s,
                                     const server::JsonInput& in);

}  // namespace lambkin::insightsapi
