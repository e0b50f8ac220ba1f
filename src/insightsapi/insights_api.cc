#include "insightsapi/insights_api.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "iam/caller.h"
#include "server/json_input.h"

namespace lambkin::insightsapi {

using nlohmann::json;
using server::HttpResponse;
using server::JsonInput;

namespace {

constexpr std::string_view kTargetPrefix = "GraniteServiceVersion20100801.";

// CloudWatch's errors: the modelled name, its query-protocol code and the HTTP status.
struct ErrorKind {
  const char* type;
  const char* query_code;
  int status;
  const char* fault;  // Sender | Receiver
};

// Within this API, kValidation means a required member is missing and kPreconditionFailed a
// NextToken that this server did not hand out.
ErrorKind KindOf(StatusCode code) {
  switch (code) {
    case StatusCode::kValidation:
      return {"MissingRequiredParameterException", "MissingParameter", 400, "Sender"};
    case StatusCode::kResourceNotFound:
      return {"ResourceNotFoundException", "ResourceNotFoundException", 404, "Sender"};
    case StatusCode::kLimitExceeded:
      return {"LimitExceededException", "LimitExceededException", 400, "Sender"};
    case StatusCode::kPreconditionFailed:
      return {"InvalidNextToken", "InvalidNextToken", 400, "Sender"};
    case StatusCode::kUnrecognizedClient:
      return {"UnrecognizedClientException", "UnrecognizedClient", 403, "Sender"};
    case StatusCode::kAccessDenied:
      return {"AccessDeniedException", "AccessDenied", 403, "Sender"};
    case StatusCode::kNotImplemented:
      return {"UnknownOperationException", "UnknownOperation", 400, "Sender"};
    case StatusCode::kInternal:
      return {"InternalServiceFault", "InternalServiceError", 500, "Receiver"};
    default:
      return {"InvalidParameterValueException", "InvalidParameterValue", 400, "Sender"};
  }
}

HttpResponse Reply(int status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.SetHeader("Content-Type", "application/x-amz-json-1.0");
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

HttpResponse Error(const Status& s) {
  ErrorKind k = KindOf(s.code());
  HttpResponse r = Reply(k.status, {{"__type", k.type}, {"message", s.message()}});
  r.SetHeader("x-amzn-ErrorType", k.type);
  r.SetHeader("x-amzn-query-error", fmt::format("{};{}", k.query_code, k.fault));
  return r;
}

Status Invalid(std::string message) {
  return {StatusCode::kInvalidParameterValue, std::move(message)};
}

Status Missing(const char* member) {
  return {StatusCode::kValidation, fmt::format("The parameter {} is required.", member)};
}

// Model constraints: length and printable-ASCII pattern.
Status CheckText(const std::string& value, const char* member, size_t min, size_t max,
                 unsigned char low, unsigned char high, const char* pattern) {
  if (value.size() < min || value.size() > max) {
    return Invalid(fmt::format("The value of {} must be between {} and {} characters long.", member,
                               min, max));
  }
  if (!std::all_of(value.begin(), value.end(), [&](char c) {
        auto u = static_cast<unsigned char>(c);
        return u >= low && u <= high;
      })) {
    return Invalid(fmt::format("The value of {} must match the pattern {}.", member, pattern));
  }
  return Status::Ok();
}

Status CheckRuleName(const std::string& name) {
  return CheckText(name, "RuleName", 1, 128, 0x20, 0x7E, "[\\x20-\\x7E]+");
}

Result<std::string> RequiredRuleName(const JsonInput& in) {
  if (!in.Has("RuleName")) return Missing("RuleName");
  LAMBKIN_ASSIGN_OR_RETURN(std::string name, in.String("RuleName", ""));
  LAMBKIN_RETURN_IF_ERROR(CheckRuleName(name));
  return name;
}

Result<std::vector<std::string>> RequiredRuleNames(const JsonInput& in) {
  if (!in.Has("RuleNames")) return Missing("RuleNames");
  LAMBKIN_ASSIGN_OR_RETURN(std::vector<std::string> names, in.StringList("RuleNames"));
  for (const auto& n : names) LAMBKIN_RETURN_IF_ERROR(CheckRuleName(n));
  return names;
}

json Failures(const std::vector<insights::RuleFailure>& failures) {
  json out = {{"Failures", json::array()}};
  for (const auto& f : failures) {
    json j = {{"FailureResource", f.resource},
              {"ExceptionType", f.exception_type},
              {"FailureDescription", f.description}};
    if (!f.failure_code.empty()) j["FailureCode"] = f.failure_code;
    out["Failures"].push_back(std::move(j));
  }
  return out;
}

double Seconds(int64_t ms) { return static_cast<double>(ms) / 1000.0; }

Result<json> PutInsightRule(insights::InsightRules* rules, const functions::Scope& s,
                            const JsonInput& in) {
  insights::PutRuleRequest req;
  LAMBKIN_ASSIGN_OR_RETURN(req.name, RequiredRuleName(in));
  if (!in.Has("RuleDefinition")) return Missing("RuleDefinition");
  LAMBKIN_ASSIGN_OR_RETURN(req.definition, in.String("RuleDefinition", ""));
  LAMBKIN_RETURN_IF_ERROR(
      CheckText(req.definition, "RuleDefinition", 1, 8192, 0x00, 0x7F, "[\\x00-\\x7F]+"));
  LAMBKIN_ASSIGN_OR_RETURN(req.state, in.String("RuleState", "ENABLED"));
  if (req.state != "ENABLED" && req.state != "DISABLED") {
    return Invalid(fmt::format("RuleState must be ENABLED or DISABLED, not '{}'.", req.state));
  }
  LAMBKIN_ASSIGN_OR_RETURN(req.apply_on_transformed_logs, in.Bool("ApplyOnTransformedLogs", false));
  if (in.Has("Tags")) {
    const json& tags = in["Tags"];
    if (!tags.is_array()) return Status(StatusCode::kInvalidRequestContent, "Tags must be a list");
    if (tags.size() > 50) return Invalid("A rule can have at most 50 tags.");
    for (const auto& t : tags) {
      if (!t.is_object() || !t.contains("Key") || !t["Key"].is_string() || !t.contains("Value") ||
          !t["Value"].is_string()) {
        return Invalid("Each tag needs a Key and a Value.");
      }
      std::string key = t["Key"].get<std::string>(), value = t["Value"].get<std::string>();
      if (key.empty() || key.size() > 128 || value.size() > 256) {
        return Invalid("Tag keys are 1 to 128 characters and values at most 256.");
      }
      req.tags.emplace_back(std::move(key), std::move(value));
    }
  }
  LAMBKIN_RETURN_IF_ERROR(rules->Put(s, req).status());
  return json::object();
}

Result<json> DescribeInsightRules(insights::InsightRules* rules, const functions::Scope& s,
                                  const JsonInput& in) {
  LAMBKIN_ASSIGN_OR_RETURN(std::string token, in.String("NextToken", ""));
  LAMBKIN_ASSIGN_OR_RETURN(int64_t max, in.Int("MaxResults", 500));
  if (max < 1 || max > 500) return Invalid("MaxResults must be between 1 and 500.");
  std::string after;
  if (!token.empty()) {
    if (!token.starts_with("after:")) {
      return Status(StatusCode::kPreconditionFailed, "The specified NextToken is not valid.");
    }
    after = token.substr(6);
  }
  LAMBKIN_ASSIGN_OR_RETURN(auto all, rules->Describe(s));
  json out = {{"InsightRules", json::array()}};
  int64_t n = 0;
  for (const auto& r : all) {
    if (!after.empty() && r.name <= after) continue;
    if (n == max) {
      out["NextToken"] = "after:" + out["InsightRules"].back()["Name"].get<std::string>();
      break;
    }
    out["InsightRules"].push_back({{"Name", r.name},
                                   {"State", r.state},
                                   {"Schema", "CloudWatchLogRule/1"},
                                   {"Definition", r.definition},
                                   {"ManagedRule", false},
                                   {"ApplyOnTransformedLogs", r.apply_on_transformed_logs}});
    ++n;
  }
  return out;
}

Result<json> GetInsightRuleReport(insights::InsightRules* rules, const functions::Scope& s,
                                  const JsonInput& in) {
  insights::ReportRequest req;
  LAMBKIN_ASSIGN_OR_RETURN(req.name, RequiredRuleName(in));
  for (const char* m : {"StartTime", "EndTime", "Period"}) {
    if (!in.Has(m)) return Missing(m);
  }
  LAMBKIN_ASSIGN_OR_RETURN(double start, in.Number("StartTime", 0));
  LAMBKIN_ASSIGN_OR_RETURN(double end, in.Number("EndTime", 0));
  LAMBKIN_ASSIGN_OR_RETURN(req.period_s, in.Int("Period", 0));
  req.start_ms = std::llround(start * 1000);
  req.end_ms = std::llround(end * 1000);
  LAMBKIN_ASSIGN_OR_RETURN(int64_t max, in.Int("MaxContributorCount", 10));
  req.max_contributors = static_cast<int>(std::clamp<int64_t>(max, -1, 1000));
  LAMBKIN_ASSIGN_OR_RETURN(req.metrics, in.StringList("Metrics"));
  LAMBKIN_ASSIGN_OR_RETURN(req.order_by, in.String("OrderBy", "Sum"));
  LAMBKIN_ASSIGN_OR_RETURN(insights::Report report, rules->GetReport(s, req));
  json out = {{"KeyLabels", report.key_labels},
              {"AggregationStatistic", report.aggregation_statistic},
              {"AggregateValue", report.aggregate_value},
              {"ApproximateUniqueCount", report.unique_contributors},
              {"Contributors", json::array()},
              {"MetricDatapoints", json::array()}};
  for (const auto& c : report.contributors) {
    json points = json::array();
    for (const auto& p : c.datapoints) {
      points.push_back({{"Timestamp", Seconds(p.timestamp_ms)}, {"ApproximateValue", p.value}});
    }
    out["Contributors"].push_back({{"Keys", c.keys},
                                   {"ApproximateAggregateValue", c.aggregate_value},
                                   {"Datapoints", std::move(points)}});
  }
  for (const auto& m : report.metric_datapoints) {
    json p = {{"Timestamp", Seconds(m.timestamp_ms)}};
    for (const auto& [name, v] : m.values) p[name] = v;
    out["MetricDatapoints"].push_back(std::move(p));
  }
  return out;
}

}  // namespace

std::optional<HttpResponse> InsightsApi::Handle(const server::HttpRequest& request) const {
  auto target = request.Header("x-amz-target");
  if (!target || !target->starts_with(kTargetPrefix)) return std::nullopt;
  if (request.method != "POST" || !request.path.empty()) {
    return Error({StatusCode::kNotImplemented, "CloudWatch calls are POST /"});
  }
  Result<functions::Scope> scope = iam::CallerScope(request, *regions_, account_);
  if (!scope.ok()) return Error(scope.status());
  json body = request.body.empty() ? json::object() : json::parse(request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return Error(Invalid("The request body is not a JSON object."));
  }
  JsonInput in(std::move(body));
  std::string op = target->substr(kTargetPrefix.size());
  Result<json> out = Status(StatusCode::kNotImplemented,
                            fmt::format("Lambkin does not implement CloudWatch {}", op));
  if (op == "PutInsightRule") out = PutInsightRule(rules_, *scope, in);
  if (op == "DescribeInsightRules") out = DescribeInsightRules(rules_, *scope, in);
  if (op == "GetInsightRuleReport") {
    writer_->Flush();
    out = GetInsightRuleReport(rules_, *scope, in);
  }
  if (op == "DeleteInsightRules" || op == "EnableInsightRules" || op == "DisableInsightRules") {
    Result<std::vector<std::string>> names = RequiredRuleNames(in);
    if (!names.ok()) return Error(names.status());
    Result<std::vector<insights::RuleFailure>> failures =
        op == "DeleteInsightRules" ? rules_->Delete(*scope, *names)
                                   : rules_->SetState(*scope, *names, op == "EnableInsightRules");
    out = failures.ok() ? Result<json>(Failures(*failures)) : Result<json>(failures.status());
  }
  if (!out.ok()) return Error(out.status());
  return Reply(200, *out);
}

}  // namespace lambkin::insightsapi
