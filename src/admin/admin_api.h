// AdminApi: Lambkin's operator HTTP API under /lambkin/v1/ (what the `lambkin` verbs call).
//
//   GET  /lambkin/v1/health                       liveness; also the trivial bench baseline
//   GET  /lambkin/v1/runtime-versions?region=R    the catalogue, with each version's ARNs in R
//   POST /lambkin/v1/runtime-versions             publish a bundle; starts its rollout
//   POST /lambkin/v1/runtime-versions/<name>/deprecate
//   POST /lambkin/v1/runtime-versions/<name>/block            {"Reason"}
//   GET  /lambkin/v1/rollouts?runtime=R           rollout status per version and region
//   POST /lambkin/v1/rollouts/<name>/<verb>       pause | resume | advance | abort | fast-track,
//                                                 {"Region"} for resume and advance
//   GET  /lambkin/v1/history?function=F&region=R[&qualifier=Q]  runtime version changes
//   GET  /lambkin/v1/clock                        the server's time and clock mode
//   POST /lambkin/v1/clock/advance                {"Duration": "72h"} (simulated clock only)
//   GET  /lambkin/v1/code/<sha256 hex>            a stored code package (GetFunction's Location)
//   GET  /lambkin/v1/insights/report?rule=N&period=S[&since=D | &start=MS&end=MS][&region=R]
//        [&max=N]                                 a Contributor Insights report, every metric
//   GET  /lambkin/v1/iam                          the IAM directory (secrets left out)
//   POST /lambkin/v1/iam/apply                    apply an IAM declaration (docs/iam.md)
//   POST /lambkin/v1/iam/access-keys              {"Account", "User" | "Role" + "Session"}: a new
//   key DELETE /lambkin/v1/iam/access-keys/<id>
//
// Thread-safe; holds no per-request state.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "catalog/catalog.h"
#include "catalog/regions.h"
#include "common/clock.h"
#include "functions/code_package.h"
#include "functions/function_service.h"
#include "iam/directory.h"
#include "insights/insight_rules.h"
#include "logs/log_writer.h"
#include "rollout/engine.h"
#include "server/request.h"

namespace lambkin::admin {

class AdminApi {
 public:
  struct Deps {
    catalog::Catalog* catalog;
    const catalog::RegionSet* regions;
    functions::CodePackageStore* code;
    functions::FunctionService* functions;
    rollout::RolloutEngine* rollout;
    insights::InsightRules* insights;
    logs::LogWriter* log_writer;  // flushed before a report
    const Clock* clock;
    bool simulated_clock;
    std::string account;
    iam::Directory* directory;
  };
  explicit AdminApi(Deps deps) : d_(std::move(deps)) {}
  // nullopt when the request is not for the admin API.
  std::optional<server::HttpResponse> Handle(const server::HttpRequest& request) const;

 private:
  server::HttpResponse PublishRuntimeVersion(const server::HttpRequest& request) const;
  server::HttpResponse Post(const server::HttpRequest& request) const;
  server::HttpResponse Rollouts(const server::HttpRequest& request) const;
  server::HttpResponse History(const server::HttpRequest& request) const;
  server::HttpResponse InsightReport(const server::HttpRequest& request) const;
  std::optional<server::HttpResponse> Iam(const server::HttpRequest& request) const;
  // The request's ?region=, or the default; InvalidParameterValue for one not served here.
  Result<std::string> RegionOf(const server::HttpRequest& request) const;
  nlohmann::json VersionJson(const catalog::RuntimeVersion& v, const std::string& region) const;

  Deps d_;
};

}  // namespace lambkin::admin
