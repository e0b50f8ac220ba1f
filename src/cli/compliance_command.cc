#include "cli/compliance_command.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/http_client.h"
#include "common/files.h"
#include "common/uri.h"

namespace lambkin::cli {

using nlohmann::json;

namespace {

// Colours on a terminal (unless NO_COLOR is set); plain text otherwise.
struct Style {
  bool on = isatty(STDOUT_FILENO) != 0 && std::getenv("NO_COLOR") == nullptr;
  std::string Wrap(std::string_view code, std::string_view text) const {
    return on ? fmt::format("\033[{}m{}\033[0m", code, text) : std::string(text);
  }
};

void PrintLifecycle(const json& r) {
  const json& l = r["ReleaseLifecycle"];
  auto date = [&](const char* key) {
    return l[key].is_string() ? l[key].get<std::string>() : std::string("-");
  };
  std::printf("%-16s %-11s %-12s %-12s %-12s %s\n", Str(r, "Runtime").c_str(),
              Str(l, "ReleaseState").c_str(), date("DeprecationDate").c_str(),
              date("FunctionCreateBlockDate").c_str(), date("FunctionUpdateBlockDate").c_str(),
              Str(r, "NewestRuntimeVersion", "-").c_str());
}

}  // namespace

int RuntimeLifecycleDates(const AdminOptions& o, const LifecycleOptions& l) {
  const bool setting = l.clear || l.deprecation_date || l.create_block_date || l.update_block_date;
  json answer;
  if (!setting) {
    Result<json> r = AdminCall(o.client, "/lambkin/v1/runtimes");
    if (!r.ok()) return Fail("runtime lifecycle", r.status());
    answer = std::move(*r);
    if (!l.runtime.empty()) {
      json one = nullptr;
      for (const auto& rt : answer["Runtimes"]) {
        if (Str(rt, "Runtime") == l.runtime) one = rt;
      }
      if (one.is_null()) {
        return Fail("runtime lifecycle", NotFound(fmt::format("No runtime named {}", l.runtime)));
      }
      answer = {{"Runtimes", json::array({one})}};
    }
  } else {
    if (l.runtime.empty()) {
      return Fail("runtime lifecycle", InvalidParameter("name the runtime whose dates to set"));
    }
    // Only the dates given change; --clear removes every date.
    json body = json::object();
    auto put = [&](const char* key, const std::optional<std::string>& v) {
      if (l.clear) {
        body[key] = nullptr;
      } else if (v) {
        body[key] = *v;
      }
    };
    put("DeprecationDate", l.deprecation_date);
    put("FunctionCreateBlockDate", l.create_block_date);
    put("FunctionUpdateBlockDate", l.update_block_date);
    Result<ClientResponse> r =
        SendSigned(o.client, "lambkin", "PUT",
                   "/lambkin/v1/runtimes/" + UriEncode(l.runtime, false) + "/lifecycle",
                   body.dump(), {{"content-type", "application/json"}});
    if (!r.ok()) return Fail("runtime lifecycle", r.status());
    if (r->status / 100 != 2) {
      std::fprintf(stderr, "lambkin runtime lifecycle: %s\n",
                   DescribeFailure(o.client, *r).c_str());
      return 1;
    }
    answer = {{"Runtimes", json::array({json::parse(r->body, nullptr, false)})}};
  }
  if (o.json) {
    std::printf("%s\n", answer.dump(2).c_str());
    return 0;
  }
  std::printf("%-16s %-11s %-12s %-12s %-12s %s\n", "RUNTIME", "STATE", "DEPRECATION",
              "BLOCK CREATE", "BLOCK UPDATE", "NEWEST");
  for (const auto& r : answer["Runtimes"]) PrintLifecycle(r);
  return 0;
}

int ComplianceReport(const AdminOptions& o, const ComplianceReportOptions& opts) {
  std::string path = "/lambkin/v1/compliance/report?format=";
  path += opts.csv ? "csv" : "json";
  if (!opts.region.empty()) path += "&region=" + UriEncode(opts.region, false);
  if (!opts.runtime.empty()) path += "&runtime=" + UriEncode(opts.runtime, false);
  Result<ClientResponse> r = SendSigned(o.client, "lambkin", "GET", path, "");
  if (!r.ok()) return Fail("compliance report", r.status());
  if (r->status / 100 != 2) {
    std::fprintf(stderr, "lambkin compliance report: %s\n", DescribeFailure(o.client, *r).c_str());
    return 1;
  }
  if (opts.csv) {
    std::fwrite(r->body.data(), 1, r->body.size(), stdout);
    return 0;
  }
  json report = json::parse(r->body, nullptr, false);
  if (!report.is_object()) return Fail("compliance report", Internal("the answer is not JSON"));
  if (o.json) {
    std::printf("%s\n", report.dump(2).c_str());
    return 0;
  }
  const json& rows = report["FunctionVersions"];
  std::map<std::string, int> counts;
  for (const auto& row : rows) ++counts[Str(row, "MustAct")];
  Style style;
  std::printf(
      "Compliance report at %s: %zu function versions; %d need their owner, %d the "
      "operator, %d nobody.\n",
      Str(report, "GeneratedAt").c_str(), rows.size(), counts["function owner"], counts["operator"],
      counts["nobody"]);
  // Grouped by who must act, most urgent first within each group (the server's order).
  for (const auto& [actor, colour, title] :
       {std::tuple{"function owner", "1;31", "The function owner must act"},
        std::tuple{"operator", "1;33", "The operator must act"},
        std::tuple{"nobody", "32", "Nothing to do"}}) {
    if (counts[actor] == 0) continue;
    std::printf("\n%s\n", style.Wrap(colour, fmt::format("{} ({})", title, counts[actor])).c_str());
    for (const auto& row : rows) {
      if (Str(row, "MustAct") != actor) continue;
      std::string rv = Str(row, "RuntimeVersion", "-");
      int64_t behind = row.value("VersionsBehind", int64_t{0});
      std::string lag =
          behind > 0 ? fmt::format(" ({} behind, {} d)", behind, row.value("DaysBehind", 0)) : "";
      std::string ran = row["LastInvoked"].is_string()
                            ? fmt::format("last ran {}, {} in 30 d", Str(row, "LastInvoked"),
                                          row.value("Invocations30Days", int64_t{0}))
                            : std::string("never ran");
      std::printf("  %s %s %s:%s  %s  %s%s  %s%s\n", Str(row, "Region").c_str(),
                  Str(row, "Account").c_str(), Str(row, "FunctionName").c_str(),
                  Str(row, "Version").c_str(), Str(row, "UpdateMode").c_str(), rv.c_str(),
                  lag.c_str(), ran.c_str(),
                  Str(row, "ReleaseState") == "DEPRECATED"
                      ? style.Wrap("1;31", " [runtime deprecated]").c_str()
                      : "");
      for (const auto& reason : row["Reasons"]) {
        std::printf("      - %s\n", Str(reason, "Reason").c_str());
      }
    }
  }
  return 0;
}

int CheckPackage(const AdminOptions& o, const std::string& file, const std::string& runtime,
                 const std::string& region) {
  Result<std::string> zip = ReadWholeFile(file);
  if (!zip.ok()) return Fail("compliance check-package", zip.status());
  std::string path = "/lambkin/v1/compliance/check-package?runtime=" + UriEncode(runtime, false);
  if (!region.empty()) path += "&region=" + UriEncode(region, false);
  Result<ClientResponse> r =
      SendSigned(o.client, "lambkin", "POST", path, *zip, {{"content-type", "application/zip"}});
  if (!r.ok()) return Fail("compliance check-package", r.status());
  if (r->status / 100 != 2) {
    std::fprintf(stderr, "lambkin compliance check-package: %s\n",
                 DescribeFailure(o.client, *r).c_str());
    return 1;
  }
  json answer = json::parse(r->body, nullptr, false);
  if (!answer.is_object()) {
    return Fail("compliance check-package", Internal("the answer is not JSON"));
  }
  const bool compatible = answer.value("Compatible", false);
  if (o.json) {
    std::printf("%s\n", answer.dump(2).c_str());
    return compatible ? 0 : 3;
  }
  Style style;
  std::printf("%s on %s (%s): %zu bundled packages; dependency row %s\n", file.c_str(),
              Str(answer, "RuntimeVersion").c_str(), Str(answer, "Region").c_str(),
              answer["Bundled"].size(), Str(answer, "DependencyRow").c_str());
  auto print = [](const json& f) {
    std::string spec = Str(f, "Requires");
    std::printf("    %-16s %s %s -> %s %s%s%s%s\n", Str(f, "Row").c_str(),
                Str(f, "Package").c_str(), Str(f, "PackageVersion").c_str(),
                Str(f, "Dependency").c_str(), Str(f, "DependencyVersion").c_str(),
                spec.empty() ? "" : fmt::format(" (requires {})", spec).c_str(),
                f.value("TightlyCoupled", false) ? " tightly coupled" : "",
                f.value("Satisfied", true) ? "" : " NOT SATISFIED");
  };
  for (const auto& f : answer["Findings"]) print(f);
  for (const auto& u : answer["Upcoming"]) {
    if (u["Breaks"].empty()) {
      std::printf("  %s: no break predicted\n", Str(u, "RuntimeVersion").c_str());
      continue;
    }
    std::printf("  %s would break it:\n", Str(u, "RuntimeVersion").c_str());
    for (const auto& f : u["Breaks"]) print(f);
  }
  if (compatible) {
    std::printf("%s\n", style.Wrap("32", "compatible with future runtime patches").c_str());
  } else {
    std::printf("%s\n",
                style
                    .Wrap("1;31",
                          "at risk: bundle every package of a coupled set and the dependencies "
                          "of what you bundle, or none of them (see docs/compliance.md)")
                    .c_str());
  }
  return compatible ? 0 : 3;
}

}  // namespace lambkin::cli
