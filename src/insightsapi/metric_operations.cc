#include "insightsapi/metric_operations.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/format.h>

namespace lambkin::insightsapi {
namespace {

using nlohmann::json;
using server::JsonInput;

constexpr int64_t kMaxDatapoints = 1440;
const std::set<std::string>& Statistics() {
  static const std::set<std::string> kStatistics = {"SampleCount", "Average", "Sum", "Minimum",
                                                    "Maximum"};
  return kStatistics;
}

Status Invalid(std::string message) {
  return {StatusCode::kInvalidParameterValue, std::move(message)};
}
Status Missing(const std::string& member) {
  return {StatusCode::kValidation, fmt::format("The parameter {} is required.", member)};
}

double Seconds(int64_t ms) { return static_cast<double>(ms) / 1000; }

// A member of the input, null when absent (reading an absent one from a const json is not
// allowed).
const json& Member(const JsonInput& in, const char* name) {
  static const json kNull;
  return in.Has(name) ? in[name] : kNull;
}

// {"Name", "Value"} objects of `j` (a Dimensions member): exact dimensions, or a ListMetrics
// filter whose values may be absent.
Result<std::vector<std::pair<std::string, std::optional<std::string>>>> DimensionList(
    const json& j, const std::string& member, bool values_required) {
  std::vector<std::pair<std::string, std::optional<std::string>>> out;
  if (j.is_null()) return out;
  if (!j.is_array()) {
    return Status(StatusCode::kInvalidRequestContent,
                  fmt::format("Unexpected type for member {}", member));
  }
  if (j.size() > 30)
    return Invalid(fmt::format("The collection {} must not have more than 30 members.", member));
  for (const auto& d : j) {
    if (!d.is_object() || !d.contains("Name") || !d["Name"].is_string()) {
      return Missing(member + ".Name");
    }
    std::optional<std::string> value;
    if (d.contains("Value") && d["Value"].is_string()) value = d["Value"].get<std::string>();
    if (!value && values_required) return Missing(member + ".Value");
    out.emplace_back(d["Name"].get<std::string>(), std::move(value));
  }
  return out;
}

metrics::Dimensions Exact(
    const std::vector<std::pair<std::string, std::optional<std::string>>>& d) {
  metrics::Dimensions out;
  for (const auto& [name, value] : d) out.emplace_back(name, value.value_or(""));
  return out;
}

json DimensionsJson(const metrics::Dimensions& d) {
  json out = json::array();
  for (const auto& [name, value] : d) out.push_back({{"Name", name}, {"Value", value}});
  return out;
}

// StartTime, EndTime and a Period that together ask for at most 1,440 datapoints.
struct Window {
  int64_t start_ms = 0, end_ms = 0, period_s = 0;
};
Result<Window> WindowOf(double start, double end, int64_t period, const std::string& period_name) {
  Window w;
  w.start_ms = std::llround(start * 1000);
  w.end_ms = std::llround(end * 1000);
  w.period_s = period;
  if (period < 60 || period % 60 != 0) {
    return Invalid(
        fmt::format("The parameter {} must be a multiple of 60 (Lambkin keeps one-minute "
                    "resolution).",
                    period_name));
  }
  if (w.start_ms >= w.end_ms) {
    return Invalid("The parameter StartTime must be less than the parameter EndTime.");
  }
  return w;
}

double Statistic(const metrics::Datapoint& p, const std::string& stat) {
  if (stat == "Sum") return p.sum;
  if (stat == "SampleCount") return p.count;
  if (stat == "Minimum") return p.min;
  if (stat == "Maximum") return p.max;
  return p.count > 0 ? p.sum / p.count : 0;  // Average
}

std::string UnitOf(const std::string& metric) {
  return metric == "Duration" ? "Milliseconds" : "Count";
}

}  // namespace

Result<json> ListMetrics(const metrics::LambdaMetrics& m, const functions::Scope& s,
                         const JsonInput& in) {
  LAMBKIN_ASSIGN_OR_RETURN(std::string ns, in.String("Namespace", ""));
  LAMBKIN_ASSIGN_OR_RETURN(std::string metric, in.String("MetricName", ""));
  LAMBKIN_ASSIGN_OR_RETURN(auto filter,
                           DimensionList(Member(in, "Dimensions"), "Dimensions", false));
  LAMBKIN_ASSIGN_OR_RETURN(std::string token, in.String("NextToken", ""));
  size_t from = 0;
  if (!token.empty()) {
    try {
      from = std::stoul(token);
    } catch (const std::exception&) {
      return Invalid("The parameter NextToken is not valid.");
    }
  }
  LAMBKIN_ASSIGN_OR_RETURN(std::vector<metrics::SeriesId> list,
                           m.List(s.account, s.region, ns, metric, filter));
  constexpr size_t kPage = 500;
  json out = {{"Metrics", json::array()}};
  for (size_t i = from; i < list.size() && i < from + kPage; ++i) {
    out["Metrics"].push_back({{"Namespace", metrics::kLambdaNamespace},
                              {"MetricName", list[i].metric},
                              {"Dimensions", DimensionsJson(list[i].dimensions)}});
  }
  if (from + kPage < list.size()) out["NextToken"] = std::to_string(from + kPage);
  return out;
}

Result<json> GetMetricStatistics(const metrics::LambdaMetrics& m, const functions::Scope& s,
                                 const JsonInput& in) {
  for (const char* member : {"Namespace", "MetricName", "StartTime", "EndTime", "Period"}) {
    if (!in.Has(member)) return Missing(member);
  }
  LAMBKIN_ASSIGN_OR_RETURN(std::string ns, in.String("Namespace", ""));
  LAMBKIN_ASSIGN_OR_RETURN(std::string metric, in.String("MetricName", ""));
  LAMBKIN_ASSIGN_OR_RETURN(auto dims, DimensionList(Member(in, "Dimensions"), "Dimensions", true));
  LAMBKIN_ASSIGN_OR_RETURN(double start, in.Number("StartTime", 0));
  LAMBKIN_ASSIGN_OR_RETURN(double end, in.Number("EndTime", 0));
  LAMBKIN_ASSIGN_OR_RETURN(int64_t period, in.Int("Period", 0));
  LAMBKIN_ASSIGN_OR_RETURN(std::vector<std::string> stats, in.StringList("Statistics"));
  LAMBKIN_ASSIGN_OR_RETURN(std::vector<std::string> extended, in.StringList("ExtendedStatistics"));
  if (stats.empty() == extended.empty()) {
    return Invalid("Must specify either Statistics or ExtendedStatistics, but not both.");
  }
  if (!extended.empty()) {
    return Invalid("Lambkin does not implement ExtendedStatistics (percentiles): use Statistics.");
  }
  for (const std::string& stat : stats) {
    if (!Statistics().contains(stat)) {
      return Status(StatusCode::kValidation,
                    fmt::format("1 validation error detected: Value '{}' at 'statistics' failed to "
                                "satisfy constraint: Member must satisfy enum value set: "
                                "[Maximum, SampleCount, Sum, Minimum, Average]",
                                stat));
    }
  }
  LAMBKIN_ASSIGN_OR_RETURN(Window w, WindowOf(start, end, period, "Period"));
  int64_t asked = (w.end_ms - w.start_ms + w.period_s * 1000 - 1) / (w.period_s * 1000);
  if (asked > kMaxDatapoints) {
    return Invalid(fmt::format(
        "You have requested up to {} datapoints, which exceeds the limit of 1,440. You may reduce "
        "the datapoints requested by increasing Period, or decreasing the time range.",
        asked));
  }
  LAMBKIN_ASSIGN_OR_RETURN(
      std::vector<metrics::Datapoint> found,
      m.Query(s.account, s.region, ns, metric, Exact(dims), w.start_ms, w.end_ms, w.period_s));
  json points = json::array();
  for (const metrics::Datapoint& p : found) {
    json d = {{"Timestamp", Seconds(p.timestamp_ms)}, {"Unit", UnitOf(metric)}};
    for (const std::string& stat : stats) d[stat] = Statistic(p, stat);
    points.push_back(std::move(d));
  }
  return json{{"Label", metric}, {"Datapoints", std::move(points)}};
}

Result<json> GetMetricData(const metrics::LambdaMetrics& m, const functions::Scope& s,
                           const JsonInput& in) {
  for (const char* member : {"MetricDataQueries", "StartTime", "EndTime"}) {
    if (!in.Has(member)) return Missing(member);
  }
  const json& queries = Member(in, "MetricDataQueries");
  if (!queries.is_array()) {
    return Status(StatusCode::kInvalidRequestContent,
                  "Unexpected type for member MetricDataQueries");
  }
  if (queries.empty() || queries.size() > 500) {
    return Invalid("The collection MetricDataQueries must have 1 to 500 members.");
  }
  LAMBKIN_ASSIGN_OR_RETURN(double start, in.Number("StartTime", 0));
  LAMBKIN_ASSIGN_OR_RETURN(double end, in.Number("EndTime", 0));
  LAMBKIN_ASSIGN_OR_RETURN(std::string scan, in.String("ScanBy", "TimestampDescending"));
  if (scan != "TimestampDescending" && scan != "TimestampAscending") {
    return Invalid(fmt::format("The value {} for parameter ScanBy is not valid.", scan));
  }
  json results = json::array();
  std::set<std::string> ids;
  for (size_t i = 0; i < queries.size(); ++i) {
    const json& q = queries[i];
    std::string at = fmt::format("MetricDataQueries.member.{}", i + 1);
    if (!q.is_object() || !q.contains("Id") || !q["Id"].is_string()) return Missing(at + ".Id");
    std::string id = q["Id"].get<std::string>();
    if (id.empty() || id.size() > 255 || !std::islower(static_cast<unsigned char>(id[0])) ||
        !std::all_of(id.begin(), id.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
        })) {
      return Invalid(
          fmt::format("The value {} for parameter {}.Id is not valid: it must start "
                      "with a lowercase letter and hold letters, digits and _ only.",
                      id, at));
    }
    if (!ids.insert(id).second) {
      return Invalid(
          fmt::format("The values for parameter id in MetricDataQueries must be "
                      "unique; {} appears twice.",
                      id));
    }
    if (q.contains("Expression")) {
      return Invalid(
          fmt::format("Lambkin does not implement metric math: {}.Expression is not "
                      "supported; use MetricStat.",
                      at));
    }
    if (!q.contains("MetricStat") || !q["MetricStat"].is_object()) {
      return Invalid(
          fmt::format("Exactly one of {0}.MetricStat and {0}.Expression must be set.", at));
    }
    const json& stat = q["MetricStat"];
    const json metric = stat.value("Metric", json::object());
    if (!metric.contains("MetricName") || !metric["MetricName"].is_string()) {
      return Missing(at + ".MetricStat.Metric.MetricName");
    }
    if (!stat.contains("Period") || !stat["Period"].is_number_integer()) {
      return Missing(at + ".MetricStat.Period");
    }
    if (!stat.contains("Stat") || !stat["Stat"].is_string())
      return Missing(at + ".MetricStat.Stat");
    std::string name = stat["Stat"].get<std::string>();
    if (!Statistics().contains(name)) {
      return Invalid(
          fmt::format("The value {} for parameter {}.MetricStat.Stat is not supported "
                      "(Lambkin computes SampleCount, Average, Sum, Minimum, Maximum).",
                      name, at));
    }
    LAMBKIN_ASSIGN_OR_RETURN(
        Window w, WindowOf(start, end, stat["Period"].get<int64_t>(), at + ".MetricStat.Period"));
    LAMBKIN_ASSIGN_OR_RETURN(auto dims, DimensionList(metric.value("Dimensions", json(nullptr)),
                                                      at + ".MetricStat.Metric.Dimensions", true));
    std::string metric_name = metric["MetricName"].get<std::string>();
    LAMBKIN_ASSIGN_OR_RETURN(std::vector<metrics::Datapoint> points,
                             m.Query(s.account, s.region, metric.value("Namespace", ""),
                                     metric_name, Exact(dims), w.start_ms, w.end_ms, w.period_s));
    if (scan == "TimestampDescending") std::reverse(points.begin(), points.end());
    if (q.contains("ReturnData") && q["ReturnData"].is_boolean() && !q["ReturnData"].get<bool>()) {
      continue;
    }
    json timestamps = json::array(), values = json::array();
    for (const auto& p : points) {
      timestamps.push_back(Seconds(p.timestamp_ms));
      values.push_back(Statistic(p, name));
    }
    results.push_back(
        {{"Id", id},
         {"Label", q.contains("Label") && q["Label"].is_string() ? q["Label"].get<std::string>()
                                                                 : metric_name},
         {"Timestamps", std::move(timestamps)},
         {"Values", std::move(values)},
         {"StatusCode", "Complete"}});
  }
  return json{{"MetricDataResults", std::move(results)}, {"Messages", json::array()}};
}

}  // namespace lambkin::insightsapi
