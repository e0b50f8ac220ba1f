#include "admin/admin_api.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "lambdaapi/errors.h"
#include "lambdaapi/serialize.h"

namespace lambkin::admin {

using nlohmann::json;
using server::HttpResponse;

namespace {

bool IsSha256Hex(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

json AdminApi::VersionJson(const catalog::RuntimeVersion& v, const std::string& region) const {
  return {{"Runtime", v.runtime},
          {"Version", v.number},
          {"Name", v.name},
          {"Digest", v.digest},
          {"State", catalog::RuntimeVersionStateName(v.state)},
          {"Severity", v.severity},
          {"Notes", v.notes},
          {"PublishedAt", FormatAwsTimestamp(v.published_at)},
          {"Region", region},
          {"Arns",
           {{"x86_64", d_.catalog->Arn(v, region, catalog::Architecture::kX86_64)},
            {"arm64", d_.catalog->Arn(v, region, catalog::Architecture::kArm64)}}}};
}

// POST /lambkin/v1/runtime-versions {"Runtime", "Version", "Bundle" (a directory on the
// server's machine), "Severity", "Notes"}: publishes the bundle as a new runtime version.
HttpResponse AdminApi::PublishRuntimeVersion(const server::HttpRequest& request) const {
  json body = json::parse(request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return lambdaapi::ErrorResponse({StatusCode::kInvalidRequestContent, "body is not JSON"});
  }
  catalog::PublishRequest req;
  bool fast_track = false;
  try {
    req.runtime = body.at("Runtime").get<std::string>();
    req.number = body.at("Version").get<int64_t>();
    req.bundle_dir = body.at("Bundle").get<std::string>();
    req.severity = body.value("Severity", "low");
    req.notes = body.value("Notes", "");
    fast_track = body.value("FastTrack", false);
  } catch (const json::exception&) {
    return lambdaapi::ErrorResponse(
        InvalidParameter("Runtime (string), Version (integer) and Bundle (string) are required"));
  }
  // Operators publish new versions of runtimes the catalogue already offers.
  if (!d_.catalog->HasRuntime(req.runtime)) {
    return lambdaapi::ErrorResponse(
        NotFound(fmt::format("Unknown runtime {}; the catalogue offers [{}]", req.runtime,
                             fmt::join(d_.catalog->Runtimes(), ", "))));
  }
  Result<catalog::RuntimeVersion> v = d_.rollout->Publish(req, fast_track);
  if (!v.ok()) return lambdaapi::ErrorResponse(v.status());
  return lambdaapi::JsonResponse(201, VersionJson(*v, d_.regions->default_region()));
}

namespace {

std::optional<std::string> Timestamp(std::optional<int64_t> ms) {
  if (!ms) return std::nullopt;
  return FormatAwsTimestamp(*ms);
}

json OptionalJson(const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); }

HttpResponse Ok(const json& body = json::object()) { return lambdaapi::JsonResponse(200, body); }

}  // namespace

// POST /lambkin/v1/runtime-versions/<name>/{deprecate,block} and
// POST /lambkin/v1/rollouts/<name>/{pause,resume,advance,abort,fast-track}.
HttpResponse AdminApi::Post(const server::HttpRequest& request) const {
  const auto& p = request.path;
  json body = request.body.empty() ? json::object() : json::parse(request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return lambdaapi::ErrorResponse({StatusCode::kInvalidRequestContent, "body is not JSON"});
  }
  std::string region = body.value("Region", "");
  if (!region.empty() && d_.regions->Find(region) == nullptr) {
    return lambdaapi::ErrorResponse(InvalidParameter(fmt::format("Unknown region {}", region)));
  }
  const std::string& name = p[3];
  const std::string& verb = p[4];
  if (p[2] == "runtime-versions") {
    Result<catalog::RuntimeVersion> v = NotFound("");
    if (verb == "deprecate") {
      v = d_.rollout->Deprecate(name);
    } else if (verb == "block") {
      v = d_.rollout->Block(name, body.value("Reason", std::string("blocked by an operator")));
    } else {
      return lambdaapi::ErrorResponse(
          NotFound(fmt::format("No runtime version operation {}", verb)));
    }
    if (!v.ok()) return lambdaapi::ErrorResponse(v.status());
    return Ok(VersionJson(*v, d_.regions->default_region()));
  }
  Status s;
  if (verb == "pause") {
    s = d_.rollout->Pause(name);
  } else if (verb == "resume") {
    s = d_.rollout->Resume(name, region);
  } else if (verb == "advance") {
    s = d_.rollout->Advance(name, region);
  } else if (verb == "abort") {
    s = d_.rollout->Abort(name);
  } else if (verb == "fast-track") {
    s = d_.rollout->FastTrack(name);
  } else {
    return lambdaapi::ErrorResponse(NotFound(
        fmt::format("No rollout operation {} (pause, resume, advance, abort, fast-track)", verb)));
  }
  if (!s.ok()) return lambdaapi::ErrorResponse(s);
  return Rollouts(request);
}

// GET /lambkin/v1/rollouts[?runtime=R] (also the answer to every rollout command).
HttpResponse AdminApi::Rollouts(const server::HttpRequest& request) const {
  std::string runtime = request.Query("runtime").value_or("");
  if (request.method == "POST") {
    auto v = d_.catalog->Find(request.path[3]);
    runtime = v ? v->runtime : "";
  }
  Result<std::vector<rollout::RolloutStatus>> list = d_.rollout->List(runtime);
  if (!list.ok()) return lambdaapi::ErrorResponse(list.status());
  json out = json::array();
  for (const auto& r : *list) {
    json regions = json::array();
    for (const auto& g : r.regions) {
      regions.push_back({{"Region", g.region},
                         {"Wave", g.wave},
                         {"Phase", g.phase},
                         {"RuntimeManagementControls", g.controls},
                         {"Phase1At", OptionalJson(Timestamp(g.phase1_at))},
                         {"Phase2At", OptionalJson(Timestamp(g.phase2_at))},
                         {"Batch", g.batch},
                         {"Batches", g.batches},
                         {"BatchTarget", g.batch_target},
                         {"BatchDone", g.batch_done},
                         {"Candidates", g.base_count},
                         {"Migrated", g.migrated},
                         {"Reverted", g.reverted},
                         {"Remaining", g.remaining},
                         {"NextStep", g.next_step},
                         {"NextStepAt", OptionalJson(Timestamp(g.due_at))},
                         {"NextStepAtMillis", g.due_at ? json(*g.due_at) : json(nullptr)},
                         {"BakeExtensions", g.extensions},
                         {"Held", OptionalJson(g.held)},
                         {"Note", g.note}});
    }
    json events = json::array();
    for (const auto& e : r.events) {
      events.push_back({{"At", FormatAwsTimestamp(e.at)}, {"Region", e.region}, {"Text", e.text}});
    }
    out.push_back({{"RuntimeVersion", r.version.name},
                   {"Runtime", r.version.runtime},
                   {"Severity", r.version.severity},
                   {"VersionState", catalog::RuntimeVersionStateName(r.version.state)},
                   {"Pacing", r.pacing},
                   {"State", r.state},
                   {"CreatedAt", FormatAwsTimestamp(r.created_at)},
                   {"PausedAt", OptionalJson(Timestamp(r.paused_at))},
                   {"Regions", regions},
                   {"Events", events}});
  }
  int64_t now = d_.clock->NowMillis();
  return Ok({{"Rollouts", out}, {"Now", FormatAwsTimestamp(now)}, {"NowMillis", now}});
}

// GET /lambkin/v1/history?function=F[&region=R][&qualifier=Q]
HttpResponse AdminApi::History(const server::HttpRequest& request) const {
  std::optional<std::string> function = request.Query("function");
  if (!function || function->empty()) {
    return lambdaapi::ErrorResponse(InvalidParameter("function is required"));
  }
  Result<std::string> region = RegionOf(request);
  if (!region.ok()) return lambdaapi::ErrorResponse(region.status());
  std::optional<std::string> qualifier = request.Query("qualifier");
  functions::Scope scope{d_.account, *region};
  auto history = d_.functions->RuntimeVersionHistory(scope, *function);
  if (!history.ok()) return lambdaapi::ErrorResponse(history.status());
  if (history->empty()) {
    return lambdaapi::ErrorResponse(
        NotFound(fmt::format("Function not found: {} (no runtime version history in {})",
                             functions::FunctionArn(scope, *function), *region)));
  }
  json list = json::array();
  for (const auto& e : *history) {
    if (qualifier && e.version != *qualifier) continue;
    auto name_of = [&](std::optional<int64_t> id) -> json {
      if (!id) return nullptr;
      auto v = d_.catalog->Get(*id);
      return v ? json(v->name) : json(*id);
    };
    list.push_back({{"At", FormatAwsTimestamp(e.at)},
                    {"AtMillis", e.at},
                    {"Qualifier", e.version},
                    {"From", name_of(e.old_runtime_version)},
                    {"To", name_of(e.new_runtime_version)},
                    {"Cause", e.cause},
                    {"UpdateMode", e.update_mode},
                    {"Batch", e.batch ? json(*e.batch) : json(nullptr)}});
  }
  return Ok({{"FunctionArn", functions::FunctionArn(scope, *function)},
             {"Region", *region},
             {"History", list}});
}

Result<std::string> AdminApi::RegionOf(const server::HttpRequest& request) const {
  std::string region = request.Query("region").value_or(d_.regions->default_region());
  if (d_.regions->Find(region) == nullptr) {
    return InvalidParameter(fmt::format("Unknown region {}", region));
  }
  return region;
}

// GET /lambkin/v1/insights/report?rule=N&period=S[&since=D | &start=MS&end=MS][&region=R][&max=N]
HttpResponse AdminApi::InsightReport(const server::HttpRequest& request) const {
  auto fail = [](const Status& s) { return lambdaapi::ErrorResponse(s); };
  Result<std::string> region = RegionOf(request);
  if (!region.ok()) return fail(region.status());
  insights::ReportRequest req;
  req.name = request.Query("rule").value_or("");
  if (req.name.empty()) return fail(InvalidParameter("rule is required"));
  auto number = [&](const char* name, int64_t fallback) -> std::optional<int64_t> {
    std::optional<std::string> v = request.Query(name);
    if (!v) return fallback;
    int64_t n = 0;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc() || end != v->data() + v->size()) return std::nullopt;
    return n;
  };
  std::optional<int64_t> since = ParseDurationMillis(request.Query("since").value_or("3h"));
  std::optional<int64_t> period = number("period", 300), max = number("max", 10);
  std::optional<int64_t> end = number("end", d_.clock->NowMillis());
  std::optional<int64_t> start = since && end ? number("start", *end - *since) : std::nullopt;
  if (!since || !period || !max || !start || !end) {
    return fail(InvalidParameter(
        "period (seconds), max, start and end (epoch ms) are numbers; since is a duration"));
  }
  req.start_ms = *start;
  req.end_ms = *end;
  req.period_s = *period;
  req.max_contributors = static_cast<int>(std::clamp<int64_t>(*max, -1, 1000));
  req.metrics.assign(std::begin(insights::kReportMetrics), std::end(insights::kReportMetrics));
  d_.log_writer->Flush();
  Result<insights::Report> report = d_.insights->GetReport({d_.account, *region}, req);
  if (!report.ok()) return fail(report.status());
  json contributors = json::array();
  for (const auto& c : report->contributors) {
    json points = json::array();
    for (const auto& p : c.datapoints)
      points.push_back({{"AtMillis", p.timestamp_ms}, {"Value", p.value}});
    contributors.push_back(
        {{"Keys", c.keys}, {"Value", c.aggregate_value}, {"Datapoints", points}});
  }
  json metrics = json::array();
  for (const auto& m : report->metric_datapoints) {
    json p = {{"AtMillis", m.timestamp_ms}};
    for (const auto& [name, v] : m.values) p[name] = v;
    metrics.push_back(std::move(p));
  }
  return Ok({{"Rule", req.name},
             {"Region", *region},
             {"StartMillis", req.start_ms},
             {"EndMillis", req.end_ms},
             {"PeriodSeconds", req.period_s},
             {"KeyLabels", report->key_labels},
             {"AggregationStatistic", report->aggregation_statistic},
             {"AggregateValue", report->aggregate_value},
             {"UniqueContributors", report->unique_contributors},
             {"Contributors", contributors},
             {"MetricDatapoints", metrics}});
}

std::optional<HttpResponse> AdminApi::Iam(const server::HttpRequest& request) const {
  const auto& p = request.path;
  auto describe = [&]() {
    Result<json> d = d_.directory->Describe();
    if (!d.ok()) return lambdaapi::ErrorResponse(d.status());
    return Ok(*d);
  };
  if (p.size() == 3 && request.method == "GET") return describe();
  json body = json::parse(request.body, nullptr, false);
  if (request.method == "POST" && p.size() == 4) {
    // Both operations take an object; body.value() on anything else would throw.
    if (body.is_discarded() || !body.is_object()) {
      return lambdaapi::ErrorResponse(
          {StatusCode::kInvalidRequestContent, "body is not a JSON object"});
    }
    if (p[3] == "apply") {
      if (Status s = d_.directory->Apply(body); !s.ok()) return lambdaapi::ErrorResponse(s);
      return describe();
    }
    if (p[3] == "access-keys") {
      std::string account = body.value("Account", d_.account);
      bool role = body.contains("Role");
      Result<iam::NewAccessKey> key = d_.directory->CreateAccessKey(
          account, role ? "role" : "user", body.value(role ? "Role" : "User", ""),
          body.value("Session", ""));
      if (!key.ok()) return lambdaapi::ErrorResponse(key.status());
      return lambdaapi::JsonResponse(201, {{"AccessKeyId", key->id},
                                           {"SecretAccessKey", key->secret},
                                           {"Arn", key->caller.arn},
                                           {"Account", key->caller.account}});
    }
  }
  if (request.method == "DELETE" && p.size() == 5 && p[3] == "access-keys") {
    return lambdaapi::StatusResponse(d_.directory->DeleteAccessKey(p[4]));
  }
  return std::nullopt;
}

std::optional<HttpResponse> AdminApi::Handle(const server::HttpRequest& request) const {
  const auto& p = request.path;
  if (p.size() < 3 || p[0] != "lambkin" || p[1] != "v1") return std::nullopt;
  if (p[2] == "iam") {
    if (auto r = Iam(request)) return r;
  }
  if (request.method == "POST") {
    if (p.size() == 3 && p[2] == "runtime-versions") return PublishRuntimeVersion(request);
    if (p.size() == 5 && (p[2] == "runtime-versions" || p[2] == "rollouts")) return Post(request);
    if (p.size() == 4 && p[2] == "clock" && p[3] == "advance") {
      json body = json::parse(request.body, nullptr, false);
      std::optional<int64_t> ms;
      if (body.is_object() && body.contains("Duration") && body["Duration"].is_string()) {
        ms = ParseDurationMillis(body["Duration"].get<std::string>());
      }
      if (!ms) {
        return lambdaapi::ErrorResponse(
            InvalidParameter("Duration is required: a duration such as \"72h\", \"30m\", \"2d\""));
      }
      Result<int64_t> now = d_.rollout->AdvanceClock(*ms);
      if (!now.ok()) return lambdaapi::ErrorResponse(now.status());
      return Ok({{"Now", FormatAwsTimestamp(*now)}, {"NowMillis", *now}, {"Simulated", true}});
    }
  }
  if (request.method != "GET") {
    return lambdaapi::ErrorResponse(
        {StatusCode::kNotImplemented,
         fmt::format("No admin operation {} {}", request.method, request.raw_path)});
  }
  if (p.size() == 3 && p[2] == "health") {
    return lambdaapi::JsonResponse(200, {{"status", "ok"}});
  }
  if (p.size() == 3 && p[2] == "rollouts") return Rollouts(request);
  if (p.size() == 3 && p[2] == "history") return History(request);
  if (p.size() == 4 && p[2] == "insights" && p[3] == "report") return InsightReport(request);
  if (p.size() == 3 && p[2] == "clock") {
    int64_t now = d_.clock->NowMillis();
    return Ok(
        {{"Now", FormatAwsTimestamp(now)}, {"NowMillis", now}, {"Simulated", d_.simulated_clock}});
  }
  if (p.size() == 3 && p[2] == "runtime-versions") {
    Result<std::string> region = RegionOf(request);
    if (!region.ok()) return lambdaapi::ErrorResponse(region.status());
    json list = json::array();
    for (const auto& v : d_.catalog->List()) list.push_back(VersionJson(v, *region));
    return lambdaapi::JsonResponse(200, {{"RuntimeVersions", list}});
  }
  if (p.size() == 4 && p[2] == "code" && IsSha256Hex(p[3])) {
    Result<std::string> zip = d_.code->Get(p[3]);
    if (!zip.ok()) return lambdaapi::ErrorResponse(zip.status());
    HttpResponse r;
    r.SetHeader("Content-Type", "application/zip");
    r.body = std::move(*zip);
    return r;
  }
  return lambdaapi::ErrorResponse(
      {StatusCode::kNotImplemented, fmt::format("No admin operation GET {}", request.raw_path)});
}

}  // namespace lambkin::admin
