// InsightsApi: CloudWatch's Contributor Insights operations in the AWS JSON 1.0 protocol with
// query compatibility, as current AWS SDKs speak it (X-Amz-Target:
// GraniteServiceVersion20100801.<Operation>): PutInsightRule, DescribeInsightRules,
// GetInsightRuleReport, DeleteInsightRules, EnableInsightRules, DisableInsightRules, and the
// Lambda metrics' ListMetrics, GetMetricStatistics, GetMetricData. Errors carry
// CloudWatch's exception names and the x-amzn-query-error header the SDKs map back to them.
// The same operations in the Query protocol (form body Action=...&Version=2010-08-01, XML
// replies), as older SDKs such as Debian's boto3 send them. Thread-safe.
#pragma once

#include <optional>
#include <string>

#include "catalog/regions.h"
#include "iam/authenticator.h"
#include "insights/insight_rules.h"
#include "logs/log_writer.h"
#include "metrics/lambda_metrics.h"
#include "server/json_input.h"
#include "server/request.h"

namespace lambkin::insightsapi {

class InsightsApi {
 public:
  // A report first waits for `writer` to store what it has queued, so it counts the log lines
  // of invocations that have already answered.
  InsightsApi(insights::InsightRules* rules, logs::LogWriter* writer,
              const iam::Authenticator* auth)
      : rules_(rules), writer_(writer), auth_(auth) {}
  // ListMetrics, GetMetricStatistics and GetMetricData read `metrics` (AWS/Lambda).
  void SetMetrics(const metrics::LambdaMetrics* metrics) { metrics_ = metrics; }
  // nullopt when the request is not a CloudWatch call.
  std::optional<server::HttpResponse> Handle(const server::HttpRequest& request) const;

 private:
  std::optional<server::HttpResponse> HandleQuery(const server::HttpRequest& request) const;
  Result<nlohmann::json> Dispatch(const std::string& op, const iam::Identity& identity,
                                  const server::JsonInput& in) const;

  insights::InsightRules* rules_;
  logs::LogWriter* writer_;
  const iam::Authenticator* auth_;
  const metrics::LambdaMetrics* metrics_ = nullptr;
};

}  // namespace lambkin::insightsapi
