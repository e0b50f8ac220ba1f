#include "cli/insights_command.h"

#include <unistd.h>

#include <cstdio>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "chart/chart.h"
#include "cli/http_client.h"
#include "common/clock.h"

namespace lambkin::cli {

using nlohmann::json;

namespace {

int Fail(const Status& s) {
  std::fprintf(stderr, "lambkin insights report: %s\n", s.message().c_str());
  return 1;
}

// Every period of the window, with each contributor's value (0 where it did not appear).
chart::Chart ChartOf(const json& report, const std::string& period_text) {
  chart::Chart c;
  int64_t period_ms = report["PeriodSeconds"].get<int64_t>() * 1000;
  int64_t start = report["StartMillis"], end = report["EndMillis"];
  c.title = fmt::format("{}: {} per {}, {}", report["Rule"].get<std::string>(),
                        report["AggregationStatistic"].get<std::string>(), period_text,
                        report["Region"].get<std::string>());
  c.y_label = report["AggregationStatistic"].get<std::string>();
  std::map<int64_t, size_t> slot;
  for (int64_t t = start / period_ms * period_ms; t < end; t += period_ms) {
    slot[t] = c.times_ms.size();
    c.times_ms.push_back(t);
  }
  for (const auto& contributor : report["Contributors"]) {
    chart::Series s;
    const auto& keys = contributor["Keys"];
    s.label = keys.empty() ? "" : keys[0].get<std::string>();
    for (size_t k = 1; k < keys.size(); ++k) {
      s.detail += (k > 1 ? " " : "") + keys[k].get<std::string>();
    }
    s.values.assign(c.times_ms.size(), 0);
    for (const auto& p : contributor["Datapoints"]) {
      auto it = slot.find(p["AtMillis"].get<int64_t>());
      if (it != slot.end()) s.values[it->second] = p["Value"].get<double>();
    }
    c.series.push_back(std::move(s));
  }
  return c;
}

}  // namespace

int InsightsReport(const AdminOptions& o, const InsightsReportOptions& r) {
  std::optional<int64_t> period = ParseDurationMillis(r.period);
  std::optional<int64_t> since = ParseDurationMillis(r.since);
  if (!period || !since)
    return Fail(InvalidParameter("--period and --since take durations such as 5m, 6h, 3d"));
  std::string path = fmt::format("/lambkin/v1/insights/report?rule={}&period={}&since={}&max={}",
                                 UriEncode(r.rule, false), *period / 1000,
                                 UriEncode(r.since, false), r.max_contributors);
  if (!r.region.empty()) path += "&region=" + UriEncode(r.region, false);
  Result<json> report = AdminCall(o.client, path);
  if (!report.ok()) return Fail(report.status());
  if (o.json) {
    std::printf("%s\n", report->dump(2).c_str());
    return 0;
  }
  chart::Chart c = ChartOf(*report, r.period);
  bool color = ::isatty(STDOUT_FILENO) == 1 && std::getenv("NO_COLOR") == nullptr;
  std::fputs(chart::RenderText(c, r.width, r.height, color).c_str(), stdout);
  for (const auto& [file, png] : {std::pair{r.png, true}, std::pair{r.svg, false}}) {
    if (file.empty()) continue;
    Status s = png ? chart::WritePng(c, file) : chart::WriteSvg(c, file);
    if (!s.ok()) return Fail(s);
    std::printf("wrote %s\n", file.c_str());
  }
  return 0;
}

}  // namespace lambkin::cli
