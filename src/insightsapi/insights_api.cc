#include "insightsapi/insights_api.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "catalog/regions.h"
#include "common/crypto.h"
#include "common/utf8.h"
#include "iam/authenticator.h"
#include "insightsapi/metric_operations.h"
#include "server/json_input.h"
#include "server/query_protocol.h"

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
    case StatusCode::kInvalidSignature:
      return {"InvalidSignatureException", "SignatureDoesNotMatch", 403, "Sender"};
    case StatusCode::kIncompleteSignature:
      return {"IncompleteSignature", "IncompleteSignature", 400, "Sender"};
    case StatusCode::kMissingAuthenticationToken:
      return {"MissingAuthenticationTokenException", "MissingAuthenticationToken", 403, "Sender"};
    case StatusCode::kUnrecognizedClient:
      return {"UnrecognizedClientException", "UnrecognizedClient", 403, "Sender"};
    case StatusCode::kExpiredToken:
      return {"ExpiredTokenException", "ExpiredToken", 403, "Sender"};
    case StatusCode::kAccessDenied:
      return {"AccessDeniedException", "AccessDenied", 403, "Sender"};
    case StatusCode::kNotImplemented:
      return {"UnknownOperationException", "UnknownOperation", 400, "Sender"};
    case StatusCode::kInternal:
      return {"InternalServiceFault", "InternalServiceError", 500, "Receiver"};
    case StatusCode::kUnavailable:
      return {"ServiceUnavailable", "ServiceUnavailable", 503, "Receiver"};
    default:
      return {"InvalidParameterValueException", "InvalidParameterValue", 400, "Sender"};
  }
}

HttpResponse Reply(int status, const json& body) {
  return server::JsonReply(status, "application/x-amz-json-1.0", body);
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

// A double as the query protocol writes it: integral values without a fraction.
std::string NumberText(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{:.1f}", v);
  return fmt::format("{}", v);
}

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

// The Query protocol (older SDKs): a form body Action=<Op>&Version=2010-08-01&..., replies in
// XML. Its inputs become the JSON 1.0 shapes: "X.member.N" lists, "Tags.member.N.Key" lists of
// structures, ISO 8601 timestamps as epoch seconds, numbers and booleans by member name.
namespace {

std::optional<double> ParseIso8601(const std::string& text) {
  std::tm tm{};
  int frac_start = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &frac_start) != 6) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  double seconds = static_cast<double>(timegm(&tm));
  std::string_view rest = std::string_view(text).substr(static_cast<size_t>(frac_start));
  if (rest.starts_with('.')) {
    size_t digits = rest.find_first_not_of("0123456789", 1);
    std::string frac(rest.substr(0, digits));
    seconds += std::stod("0" + frac);
    rest.remove_prefix(frac.size());
  }
  if (rest.empty() || rest == "Z" || rest == "+00:00") return seconds;
  return std::nullopt;
}

// A form value as the JSON 1.0 input carries the member it belongs to.
Result<json> QueryScalar(const std::string& member, const std::string& value) {
  static const std::set<std::string> kInts = {"Period", "MaxContributorCount", "MaxResults"};
  static const std::set<std::string> kTimes = {"StartTime", "EndTime"};
  if (kInts.contains(member)) {
    int64_t n = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc() || end != value.data() + value.size()) {
      return Invalid(fmt::format("The parameter {} must be an integer.", member));
    }
    return json(n);
  }
  if (kTimes.contains(member)) {
    std::optional<double> t = ParseIso8601(value);
    if (!t) return Invalid(fmt::format("The parameter {} must be an ISO 8601 time.", member));
    return json(*t);
  }
  if (member == "ApplyOnTransformedLogs") return json(value == "true");
  return json(value);
}

Result<json> FormToJson(const std::string& body, std::string& action) {
  json out = json::object();
  size_t start = 0;
  while (start <= body.size()) {
    size_t amp = body.find('&', start);
    if (amp == std::string::npos) amp = body.size();
    std::string_view pair(body.data() + start, amp - start);
    start = amp + 1;
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string key = server::FormDecode(pair.substr(0, eq));
    std::string value = eq == std::string_view::npos ? "" : server::FormDecode(pair.substr(eq + 1));
    // Parameters are text: bytes that are not UTF-8 (which no JSON request can carry) are
    // refused here rather than reaching a document or the store.
    if (!IsStoreText(key) || !IsStoreText(value)) {
      return Invalid("The request contains a parameter that is not valid UTF-8 text.");
    }
    if (key == "Action") {
      action = value;
      continue;
    }
    if (key == "Version") continue;
    // Walk "A.member.1.B" into out["A"][0]["B"].
    json* at = &out;
    std::string member;  // the last structure member on the way, which types the value
    std::vector<std::string> parts;
    for (size_t from = 0; from <= key.size();) {
      size_t dot = std::min(key.find('.', from), key.size());
      parts.push_back(key.substr(from, dot - from));
      from = dot + 1;
    }
    for (size_t i = 0; i < parts.size(); ++i) {
      if (parts[i] == "member" && i + 1 < parts.size()) {
        const std::string& n = parts[++i];
        size_t index = 0;
        auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), index);
        if (ec != std::errc() || index < 1 || index > 1000) {
          return Invalid(fmt::format("Malformed parameter {}", key));
        }
        if (!at->is_array()) *at = json::array();
        while (at->size() < index) at->push_back(nullptr);
        at = &(*at)[index - 1];
        continue;
      }
      if (!at->is_object()) *at = json::object();
      at = &(*at)[parts[i]];
      member = parts[i];
    }
    LAMBKIN_ASSIGN_OR_RETURN(*at, QueryScalar(member, value));
  }
  return out;
}

std::string IsoTime(double seconds) {
  auto t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void ToXml(const json& j, const std::string& name, std::string& out) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      out += "<" + k + ">";
      ToXml(v, k, out);
      out += "</" + k + ">";
    }
  } else if (j.is_array()) {
    for (const auto& v : j) {
      out += "<member>";
      ToXml(v, name, out);
      out += "</member>";
    }
  } else if (j.is_string()) {
    out += server::XmlEscape(j.get<std::string>());
  } else if (j.is_boolean()) {
    out += j.get<bool>() ? "true" : "false";
  } else if (j.is_number() && (name == "Timestamp" || name == "Timestamps")) {
    out += IsoTime(j.get<double>());
  } else if (j.is_number_float()) {
    out += NumberText(j.get<double>());
  } else {
    out += j.dump();
  }
}

constexpr char kXmlNamespace[] = "http://monitoring.amazonaws.com/doc/2010-08-01/";

HttpResponse XmlReply(const std::string& op, const json& result) {
  std::string body = fmt::format("<{}Response xmlns=\"{}\"><{}Result>", op, kXmlNamespace, op);
  ToXml(result, "", body);
  body += fmt::format(
      "</{}Result><ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{}Response>", op,
      RandomUuid(), op);
  HttpResponse r;
  r.SetHeader("Content-Type", "text/xml");
  r.body = std::move(body);
  return r;
}

HttpResponse XmlError(const Status& s) {
  ErrorKind k = KindOf(s.code());
  HttpResponse r;
  r.status = k.status;
  r.SetHeader("Content-Type", "text/xml");
  r.body = fmt::format(
      "<ErrorResponse "
      "xmlns=\"{}\"><Error><Type>{}</Type><Code>{}</Code><Message>{}</Message></Error>"
      "<RequestId>{}</RequestId></ErrorResponse>",
      kXmlNamespace, k.fault, k.query_code, server::XmlEscape(s.message()), RandomUuid());
  return r;
}

}  // namespace

Result<json> InsightsApi::Dispatch(const std::string& op, const iam::Identity& identity,
                                   const JsonInput& in) const {
  const functions::Scope& scope = identity.scope;
  // Each rule named is a resource the caller must be allowed to act on.
  auto allow = [&](const std::vector<std::string>& rules) -> Status {
    for (const std::string& rule : rules) {
      LAMBKIN_RETURN_IF_ERROR(identity.Allow(
          "cloudwatch:" + op, rule == "*" ? rule
                                          : fmt::format("arn:{}:cloudwatch:{}:{}:insight-rule/{}",
                                                        catalog::PartitionOf(scope.region),
                                                        scope.region, scope.account, rule)));
    }
    return Status::Ok();
  };
  if (op == "PutInsightRule" || op == "GetInsightRuleReport") {
    Result<std::string> name = in.String("RuleName", "*");
    LAMBKIN_RETURN_IF_ERROR(allow({name.ok() ? *name : "*"}));
  } else if (op == "DeleteInsightRules" || op == "EnableInsightRules" ||
             op == "DisableInsightRules") {
    LAMBKIN_ASSIGN_OR_RETURN(std::vector<std::string> names, RequiredRuleNames(in));
    LAMBKIN_RETURN_IF_ERROR(allow(names));
  } else {
    LAMBKIN_RETURN_IF_ERROR(allow({"*"}));
  }
  if (op == "PutInsightRule") return PutInsightRule(rules_, scope, in);
  if (op == "DescribeInsightRules") return DescribeInsightRules(rules_, scope, in);
  if (op == "GetInsightRuleReport") {
    writer_->Flush();
    return GetInsightRuleReport(rules_, scope, in);
  }
  if (op == "DeleteInsightRules" || op == "EnableInsightRules" || op == "DisableInsightRules") {
    LAMBKIN_ASSIGN_OR_RETURN(std::vector<std::string> names, RequiredRuleNames(in));
    LAMBKIN_ASSIGN_OR_RETURN(std::vector<insights::RuleFailure> failures,
                             op == "DeleteInsightRules"
                                 ? rules_->Delete(scope, names)
                                 : rules_->SetState(scope, names, op == "EnableInsightRules"));
    return Failures(failures);
  }
  if (metrics_ != nullptr) {
    if (op == "ListMetrics") return ListMetrics(*metrics_, scope, in);
    if (op == "GetMetricStatistics") return GetMetricStatistics(*metrics_, scope, in);
    if (op == "GetMetricData") return GetMetricData(*metrics_, scope, in);
  }
  return Status(StatusCode::kNotImplemented,
                fmt::format("Lambkin does not implement CloudWatch {}", op));
}

std::optional<HttpResponse> InsightsApi::Handle(const server::HttpRequest& request) const {
  auto target = request.Header("x-amz-target");
  if (!target) return HandleQuery(request);
  if (!target->starts_with(kTargetPrefix)) return std::nullopt;
  if (request.method != "POST" || !request.path.empty()) {
    return Error({StatusCode::kNotImplemented, "CloudWatch calls are POST /"});
  }
  Result<iam::Identity> identity = auth_->Authenticate(request, "monitoring");
  if (!identity.ok()) return Error(identity.status());
  json body = request.body.empty() ? json::object() : json::parse(request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return Error(Invalid("The request body is not a JSON object."));
  }
  Result<json> out =
      Dispatch(target->substr(kTargetPrefix.size()), *identity, JsonInput(std::move(body)));
  if (!out.ok()) return Error(out.status());
  return Reply(200, *out);
}

std::optional<HttpResponse> InsightsApi::HandleQuery(const server::HttpRequest& request) const {
  std::string type = request.Header("content-type").value_or("");
  if (request.method != "POST" || !request.path.empty() ||
      !type.starts_with("application/x-www-form-urlencoded") ||
      request.body.find("Version=2010-08-01") == std::string::npos) {
    return std::nullopt;
  }
  Result<iam::Identity> identity = auth_->Authenticate(request, "monitoring");
  if (!identity.ok()) return XmlError(identity.status());
  std::string action;
  Result<json> input = FormToJson(request.body, action);
  if (!input.ok()) return XmlError(input.status());
  Result<json> out = Dispatch(action, *identity, JsonInput(std::move(*input)));
  if (!out.ok()) return XmlError(out.status());
  return XmlReply(action, *out);
}

}  // namespace lambkin::insightsapi
