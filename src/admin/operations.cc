// The operator API's operations: each reads its matched call, acts through the domain and writes
// the JSON answer (or the Lambda API's error shape).
#include "admin/operations.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "images/image_store.h"
#include "lambdaapi/errors.h"
#include "lambdaapi/names.h"
#include "lambdaapi/serialize.h"
#include "lambdaapi/validation.h"
#include "oci/rebase.h"

namespace lambkin::admin {

using nlohmann::json;
using server::HttpResponse;

Result<std::reference_wrapper<const json>> Call::JsonObject() const {
  if (!parsed_body) {
    json body = request.body.empty() ? json::object() : json::parse(request.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      parsed_body = Status(StatusCode::kInvalidRequestContent, "body is not a JSON object");
    } else {
      parsed_body = std::move(body);
    }
  }
  if (!parsed_body->ok()) return parsed_body->status();
  return std::cref(parsed_body->value());
}

Result<std::string> RegionOf(const AdminApi::Deps& d, const server::HttpRequest& request) {
  std::string region = request.Query("region").value_or(d.regions->default_region());
  if (d.regions->Find(region) == nullptr) {
    return InvalidParameter(fmt::format("Unknown region {}", region));
  }
  return region;
}

namespace {

std::optional<std::string> Timestamp(std::optional<int64_t> ms) {
  if (!ms) return std::nullopt;
  return FormatAwsTimestamp(*ms);
}

json OptionalJson(const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); }

HttpResponse Ok(const json& body = json::object()) { return lambdaapi::JsonResponse(200, body); }

// The string member `key` of a body, or `fallback` when it is absent.
Result<std::string> StringMember(const json& body, const char* key, std::string fallback = "") {
  auto it = body.find(key);
  if (it == body.end()) return fallback;
  if (!it->is_string()) return InvalidParameter(fmt::format("{} must be a string", key));
  return it->get<std::string>();
}

json VersionJson(const AdminApi::Deps& d, const catalog::RuntimeVersion& v,
                 const std::string& region) {
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
           {{"x86_64", d.catalog->Arn(v, region, catalog::Architecture::kX86_64)},
            {"arm64", d.catalog->Arn(v, region, catalog::Architecture::kArm64)}}},
          {"Image",
           {{"Digest", v.image_digest},
            {"MediaType", v.image_media_type},
            {"Size", v.image_size},
            {"Source", v.image_source},
            {"Reference", v.image_digest.empty() ? json(nullptr) : json(v.name)}}},
          {"Packages", v.bom->size()}};
}

Result<catalog::RuntimeVersion> NamedVersion(const AdminApi::Deps& d, const std::string& name) {
  std::optional<catalog::RuntimeVersion> v = d.catalog->Find(name);
  if (!v) return NotFound(fmt::format("No runtime version named {}", name));
  return *v;
}

// The rollouts (of one runtime, or all when `runtime` is empty) with the server's time: the
// answer to GetRolloutStatus and to every rollout command.
// Rollouts never touch image functions; instead, every image function version whose image was
// built FROM a runtime version older than its runtime's newest (of `runtime`, or of any) is
// listed with what its owner must do.
Result<json> StaleImages(const AdminApi::Deps& d, const std::string& runtime) {
  LAMBKIN_ASSIGN_OR_RETURN(auto versions, d.functions->ListImageVersions());
  std::vector<catalog::RuntimeVersion> all = d.catalog->List();
  json out = json::array();
  for (const auto& v : versions) {
    std::optional<catalog::RuntimeVersion> base = d.catalog->Get(v.config.image_base);
    if (!base || (!runtime.empty() && base->runtime != runtime)) continue;
    std::optional<catalog::RuntimeVersion> newest = d.catalog->Newest(base->runtime);
    if (!newest || newest->number <= base->number) continue;
    int64_t behind = std::count_if(all.begin(), all.end(), [&](const catalog::RuntimeVersion& r) {
      return r.runtime == base->runtime && r.number > base->number &&
             r.state != catalog::RuntimeVersionState::kBlocked;
    });
    out.push_back({{"Account", v.scope.account},
                   {"Region", v.scope.region},
                   {"FunctionName", v.function_name},
                   {"Version", v.version},
                   {"ImageUri", v.config.image_uri},
                   {"ResolvedImageUri", functions::ResolvedImageUri(v.config)},
                   {"Runtime", base->runtime},
                   {"BaseRuntimeVersion", base->name},
                   {"NewestRuntimeVersion", newest->name},
                   {"VersionsBehind", behind},
                   {"Action", fmt::format("rebuild from {}", newest->name)}});
  }
  return out;
}

HttpResponse RolloutsOf(const AdminApi::Deps& d, const std::string& runtime) {
  ASSIGN_OR_ERROR(std::vector<rollout::RolloutStatus> list, d.rollout->List(runtime));
  json out = json::array();
  for (const auto& r : list) {
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
    json predicted = json::array();
    for (const auto& p : r.predicted) {
      predicted.push_back({{"Account", p.account},
                           {"Region", p.region},
                           {"FunctionName", p.name},
                           {"Version", p.version == 0 ? std::string(functions::kLatest)
                                                      : std::to_string(p.version)},
                           {"Reason", p.reason},
                           {"PredictedAt", FormatAwsTimestamp(p.predicted_at)},
                           {"Held", p.held}});
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
                   {"PredictedBreaks", predicted},
                   {"Events", events}});
  }
  ASSIGN_OR_ERROR(json stale, StaleImages(d, runtime));
  int64_t now = d.clock->NowMillis();
  return Ok({{"Rollouts", out},
             {"StaleImages", std::move(stale)},
             {"Now", FormatAwsTimestamp(now)},
             {"NowMillis", now}});
}

// A rollout command on the version {Name}: the body may name a "Region" (resume and advance
// act on that region only). Answers with the rollouts of the version's runtime.
template <typename Command>
HttpResponse RolloutCommand(const AdminApi::Deps& d, const Call& call, Command command) {
  ASSIGN_OR_ERROR(const json& body, call.JsonObject());
  ASSIGN_OR_ERROR(std::string region, StringMember(body, "Region"));
  if (!region.empty() && d.regions->Find(region) == nullptr) {
    return lambdaapi::ErrorResponse(InvalidParameter(fmt::format("Unknown region {}", region)));
  }
  const std::string& name = call.Label("Name");
  RETURN_ERROR_IF(command(name, region));
  std::optional<catalog::RuntimeVersion> v = d.catalog->Find(name);
  return RolloutsOf(d, v ? v->runtime : "");
}

}  // namespace

namespace ops {

HttpResponse Health(const AdminApi::Deps&, const Call&) { return Ok({{"status", "ok"}}); }

// GET /lambkin/v1/runtime-versions?region=R
HttpResponse ListRuntimeVersions(const AdminApi::Deps& d, const Call& call) {
  ASSIGN_OR_ERROR(std::string region, RegionOf(d, call.request));
  json list = json::array();
  for (const auto& v : d.catalog->List()) list.push_back(VersionJson(d, v, region));
  return Ok({{"RuntimeVersions", list}});
}

// GET /lambkin/v1/runtime-versions/<name>?region=R: one version with its bill of materials.
HttpResponse GetRuntimeVersion(const AdminApi::Deps& d, const Call& call) {
  ASSIGN_OR_ERROR(std::string region, RegionOf(d, call.request));
  ASSIGN_OR_ERROR(catalog::RuntimeVersion v, NamedVersion(d, call.Label("Name")));
  json out = VersionJson(d, v, region);
  out["BillOfMaterials"] = catalog::BomToJson(*v.bom);
  return Ok(out);
}

// GET /lambkin/v1/runtime-versions/<name>/diff/<other>: what changed from <name> to <other>.
HttpResponse DiffRuntimeVersions(const AdminApi::Deps& d, const Call& call) {
  ASSIGN_OR_ERROR(catalog::RuntimeVersion from, NamedVersion(d, call.Label("Name")));
  ASSIGN_OR_ERROR(catalog::RuntimeVersion to, NamedVersion(d, call.Label("Other")));
  json upgraded = json::array(), added = json::array(), removed = json::array();
  for (const auto& c : catalog::DiffBom(*from.bom, *to.bom)) {
    if (c.from.empty()) {
      added.push_back({{"Ecosystem", c.ecosystem}, {"Name", c.name}, {"Version", c.to}});
    } else if (c.to.empty()) {
      removed.push_back({{"Ecosystem", c.ecosystem}, {"Name", c.name}, {"Version", c.from}});
    } else {
      upgraded.push_back(
          {{"Ecosystem", c.ecosystem}, {"Name", c.name}, {"From", c.from}, {"To", c.to}});
    }
  }
  return Ok({{"From", from.name},
             {"To", to.name},
             {"Changed", upgraded},
             {"Added", added},
             {"Removed", removed}});
}

// POST /lambkin/v1/runtime-versions {"Runtime", "Version" (optional: the next one), "Image"
// (oci:<layout dir on the server's machine>[:<ref>], or a registry reference), "Severity",
// "Notes", "FastTrack"}: publishes the image as a new runtime version and starts its rollout.
HttpResponse PublishRuntimeVersion(const AdminApi::Deps& d, const Call& call) {
  ASSIGN_OR_ERROR(const json& body, call.JsonObject());
  catalog::PublishRequest req;
  bool fast_track = false;
  try {
    req.runtime = body.at("Runtime").get<std::string>();
    req.number = body.value("Version", int64_t{0});
    req.image = body.at("Image").get<std::string>();
    req.severity = body.value("Severity", "low");
    req.notes = body.value("Notes", "");
    fast_track = body.value("FastTrack", false);
  } catch (const json::exception&) {
    return lambdaapi::ErrorResponse(InvalidParameter(
        "Runtime (string) and Image (string) are required; Version is an integer"));
  }
  // Operators publish new versions of runtimes the catalogue already offers.
  if (!d.catalog->HasRuntime(req.runtime)) {
    return lambdaapi::ErrorResponse(
        NotFound(fmt::format("Unknown runtime {}; the catalogue offers [{}]", req.runtime,
                             fmt::join(d.catalog->Runtimes(), ", "))));
  }
  ASSIGN_OR_ERROR(catalog::RuntimeVersion v, d.rollout->Publish(req, fast_track));
  return lambdaapi::JsonResponse(201, VersionJson(d, v, d.regions->default_region()));
}

// POST /lambkin/v1/runtime-versions/<name>/deprecate
HttpResponse DeprecateRuntimeVersion(const AdminApi::Deps& d, const Call& call) {
  ASSIGN_OR_ERROR(catalog::RuntimeVersion v, d.rollout->Deprecate(call.Label("Name")));
  return Ok(VersionJson(d, v, d.regions->default_region()));
}

// POST /lambkin/v1/runtime-versions/<name>/block {"Reason"}
HttpResponse BlockRuntimeVersion(const AdminApi::Deps& d, const Call& call) {
  ASSIGN_OR_ERROR(const json& body, call.JsonObject());
  ASSIGN_OR_ERROR(std::string reason, StringMember(body, "Reason", "blocked by an operator"));
  ASSIGN_OR_ERROR(catalog::RuntimeVersion v, d.rollout->Block(call.Label("Name"), reason));
  return Ok(VersionJson(d, v, d.regions->default_region()));
}

// GET /lambkin/v1/rollouts[?runtime=R]
HttpResponse GetRolloutStatus(const AdminApi::Deps& d, const Call& call) {
  return RolloutsOf(d, call.request.Query("runtime").value_or(""));
}

// POST /lambkin/v1/rollouts/<name>/{pause,resume,advance,abort,fast-track}
HttpResponse PauseRollout(const AdminApi::Deps& d, const Call& call) {
  return RolloutCommand(
      d, call, [&](const std::string& v, const std::string&) { return d.rollout->Pause(v); });
}
HttpResponse ResumeRollout(const AdminApi::Deps& d, const Call& call) {
  return RolloutCommand(d, call, [&](const std::string& v, const std::string& region) {
    return d.rollout->Resume(v, region);
  });
}
HttpResponse AdvanceRollout(const AdminApi::Deps& d, const Call& call) {
  return RolloutCommand(d, call, [&](const std::string& v, const std::string& region) {
    return d.rollout->Advance(v, region);
  });
}
HttpResponse AbortRollout(const AdminApi::Deps& d, const Call& call) {
  return RolloutCommand(
      d, call, [&](const std::string& v, const std::string&) { return d.rollout->Abort(v); });
}
HttpResponse FastTrackRollout(const AdminApi::Deps& d, const Call& call) {
  return RolloutCommand(
      d, call, [&](const std::string& v, const std::string&) { return d.rollout->FastTrack(v); });
}

// GET /lambkin/v1/history?function=F[&region=R][&qualifier=Q]
HttpResponse GetRuntimeHistory(const AdminApi::Deps& d, const Call& call) {
  const server::HttpRequest& request = call.request;
  std::optional<std::string> function = request.Query("function");
  if (!function || function->empty()) {
    return lambdaapi::ErrorResponse(InvalidParameter("function is required"));
  }
  ASSIGN_OR_ERROR(std::string region, RegionOf(d, request));
  std::optional<std::string> qualifier = request.Query("qualifier");
  functions::Scope scope{d.account, region};
  ASSIGN_OR_ERROR(auto history, d.functions->RuntimeVersionHistory(scope, *function));
  if (history.empty()) {
    return lambdaapi::ErrorResponse(
        NotFound(fmt::format("Function not found: {} (no runtime version history in {})",
                             functions::FunctionArn(scope, *function), region)));
  }
  json list = json::array();
  for (const auto& e : history) {
    if (qualifier && e.version != *qualifier) continue;
    auto name_of = [&](std::optional<int64_t> id) -> json {
      if (!id) return nullptr;
      auto v = d.catalog->Get(*id);
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
             {"Region", region},
             {"History", list}});
}

// GET /lambkin/v1/clock
HttpResponse GetClock(const AdminApi::Deps& d, const Call&) {
  int64_t now = d.clock->NowMillis();
  return Ok(
      {{"Now", FormatAwsTimestamp(now)}, {"NowMillis", now}, {"Simulated", d.simulated_clock}});
}

// POST /lambkin/v1/clock/advance {"Duration": "72h"} (simulated clock only)
HttpResponse AdvanceClock(const AdminApi::Deps& d, const Call& call) {
  std::optional<int64_t> ms;
  if (Result<std::reference_wrapper<const json>> body = call.JsonObject(); body.ok()) {
    const json& b = body->get();
    if (b.contains("Duration") && b["Duration"].is_string()) {
      ms = ParseDurationMillis(b["Duration"].get<std::string>());
    }
  }
  if (!ms) {
    return lambdaapi::ErrorResponse(
        InvalidParameter("Duration is required: a duration such as \"72h\", \"30m\", \"2d\""));
  }
  ASSIGN_OR_ERROR(int64_t now, d.rollout->AdvanceClock(*ms));
  return Ok({{"Now", FormatAwsTimestamp(now)}, {"NowMillis", now}, {"Simulated", true}});
}

// GET /lambkin/v1/code/<sha256 hex>?FunctionName=F[&Qualifier=Q]: the code package of the
// function version, as GetFunction's presigned Code.Location names it. The package must be
// that version's: a link made for one function never reads another's code.
HttpResponse GetFunctionCode(const AdminApi::Deps& d, const Call& call) {
  const std::string& sha = call.Label("Sha256");
  ASSIGN_OR_ERROR(lambdaapi::FunctionRef ref,
                  lambdaapi::ResolveFunction(call.request.Query("FunctionName").value_or(""),
                                             lambdaapi::shapes::kFunctionName, call.identity.scope,
                                             call.request.Query("Qualifier")));
  ASSIGN_OR_ERROR(functions::FunctionVersion v,
                  d.functions->GetFunctionVersion(call.identity.scope, ref.name, ref.qualifier));
  if (functions::CodeSha256Hex(v.config) != sha) {
    return lambdaapi::ErrorResponse(NotFound(
        fmt::format("The code package {} is not the code of {}", sha,
                    functions::FunctionArn(call.identity.scope, ref.name, ref.qualifier))));
  }
  ASSIGN_OR_ERROR(std::string zip, d.code->Get(sha));
  HttpResponse r;
  r.SetHeader("Content-Type", "application/zip");
  r.body = std::move(zip);
  return r;
}

// GET /lambkin/v1/layer-code/<sha256 hex>?LayerVersionArn=A: the archive of a layer version, as
// GetLayerVersion's presigned Content.Location names it, for a caller who may get that version.
HttpResponse GetLayerCode(const AdminApi::Deps& d, const Call& call) {
  const std::string& sha = call.Label("Sha256");
  std::string arn = call.request.Query("LayerVersionArn").value_or("");
  std::optional<functions::LayerVersionRef> ref = functions::ParseLayerVersionArn(arn);
  if (d.layers == nullptr || !ref) {
    return lambdaapi::ErrorResponse(NotFound("The resource you requested does not exist."));
  }
  ASSIGN_OR_ERROR(functions::LayerVersion v,
                  d.layers->Get(lambdaapi::LayerCallerOf(&call.identity, call.identity.scope),
                                ref->owner, ref->name, ref->version));
  if (v.code_sha256_hex != sha) {
    return lambdaapi::ErrorResponse(
        NotFound(fmt::format("The code package {} is not the archive of {}", sha, arn)));
  }
  ASSIGN_OR_ERROR(std::string zip, d.code->Get(sha));
  HttpResponse r;
  r.SetHeader("Content-Type", "application/zip");
  r.body = std::move(zip);
  return r;
}

// GET /lambkin/v1/insights/report?rule=N&period=S[&since=D | &start=MS&end=MS][&region=R][&max=N]:
// a Contributor Insights report with every metric.
HttpResponse GetInsightReport(const AdminApi::Deps& d, const Call& call) {
  const server::HttpRequest& request = call.request;
  auto fail = [](const Status& s) { return lambdaapi::ErrorResponse(s); };
  Result<std::string> region = RegionOf(d, request);
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
  std::optional<int64_t> end = number("end", d.clock->NowMillis());
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
  d.log_writer->Flush();
  Result<insights::Report> report = d.insights->GetReport({d.account, *region}, req);
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

// GET /lambkin/v1/iam: the directory, secrets left out.
HttpResponse GetIamDirectory(const AdminApi::Deps& d, const Call&) {
  ASSIGN_OR_ERROR(json directory, d.directory->Describe());
  return Ok(directory);
}

// POST /lambkin/v1/iam/apply: a declaration (docs/iam.md); answers with the directory.
HttpResponse ApplyIamDeclaration(const AdminApi::Deps& d, const Call& call) {
  ASSIGN_OR_ERROR(const json& body, call.JsonObject());
  RETURN_ERROR_IF(d.directory->Apply(body));
  return GetIamDirectory(d, call);
}

// POST /lambkin/v1/iam/access-keys {"Account", "User" | "Role" + "Session"}: a new key, the
// only time its secret is shown.
HttpResponse CreateAccessKey(const AdminApi::Deps& d, const Call& call) {
  ASSIGN_OR_ERROR(const json& body, call.JsonObject());
  ASSIGN_OR_ERROR(std::string account, StringMember(body, "Account", d.account));
  bool role = body.contains("Role");
  ASSIGN_OR_ERROR(std::string name, StringMember(body, role ? "Role" : "User"));
  ASSIGN_OR_ERROR(std::string session, StringMember(body, "Session"));
  ASSIGN_OR_ERROR(iam::NewAccessKey key,
                  d.directory->CreateAccessKey(account, role ? "role" : "user", name, session));
  return lambdaapi::JsonResponse(201, {{"AccessKeyId", key.id},
                                       {"SecretAccessKey", key.secret},
                                       {"Arn", key.caller.arn},
                                       {"Account", key.caller.account}});
}

// DELETE /lambkin/v1/iam/access-keys/<id>
HttpResponse DeleteAccessKey(const AdminApi::Deps& d, const Call& call) {
  return lambdaapi::StatusResponse(d.directory->DeleteAccessKey(call.Label("Id")));
}

}  // namespace ops

}  // namespace lambkin::admin

namespace lambkin::admin::ops {

namespace {

// A tag for the rebased image: the deployed tag (or "image") and the new base's name, in the
// tag grammar ([A-Za-z0-9_][A-Za-z0-9._-]{0,127}).
std::string RebasedTag(const oci::ImageReference& from, const std::string& base_name) {
  std::string tag =
      fmt::format("{}-rebased-{}", from.digest.empty() ? from.tag : "image", base_name);
  for (char& c : tag) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok) c = '-';
  }
  if (tag.size() > 128) tag.resize(128);
  return tag;
}

}  // namespace

// POST /lambkin/v1/functions/<name>/image-rebase?region=R  {"Publish": bool}
// Moves $LATEST of an image function from the runtime version its image was built FROM to its
// runtime's newest: the base layers swapped (oci/rebase.h), the result pushed to the function's
// repository and deployed as its new code, recorded with cause image-rebase.
HttpResponse RebaseFunctionImage(const AdminApi::Deps& d, const Call& call) {
  if (d.images == nullptr || d.blobs == nullptr || d.registry_credentials == nullptr) {
    return lambdaapi::ErrorResponse(InvalidParameter("This server runs no container images."));
  }
  ASSIGN_OR_ERROR(const json& body, call.JsonObject());
  bool publish =
      body.contains("Publish") && body["Publish"].is_boolean() && body["Publish"].get<bool>();
  ASSIGN_OR_ERROR(std::string region, RegionOf(d, call.request));
  functions::Scope scope{d.account, region};
  const std::string& name = call.Label("FunctionName");
  ASSIGN_OR_ERROR(functions::FunctionVersion latest,
                  d.functions->GetFunctionVersion(scope, name, ""));
  const functions::FunctionConfig& c = latest.config;
  if (c.package_type != functions::PackageType::kImage) {
    return lambdaapi::ErrorResponse(InvalidParameter(fmt::format(
        "{} is a .zip function: its runtime is patched by rollouts; rebase is for images.",
        functions::FunctionArn(scope, name))));
  }
  std::optional<catalog::RuntimeVersion> base = d.catalog->Get(c.image_base);
  if (!base) {
    return lambdaapi::ErrorResponse(InvalidParameter(fmt::format(
        "The image {} was not built FROM a runtime version Lambkin knows (no "
        "org.opencontainers.image.base.digest annotation naming one, and no runtime version's "
        "layers at its bottom): rebuild it from a Lambkin base image instead.",
        functions::ResolvedImageUri(c))));
  }
  std::optional<catalog::RuntimeVersion> newest = d.catalog->Newest(base->runtime);
  if (!newest || newest->number <= base->number) {
    return Ok({{"Rebased", false},
               {"FunctionArn", functions::FunctionArn(scope, name)},
               {"BaseRuntimeVersion", base->name},
               {"Message", fmt::format("{} is already built FROM {}, the newest version of {}.",
                                       name, base->name, base->runtime)}});
  }
  // The three images in this node's blob store: the function's (by digest) and both bases.
  ASSIGN_OR_ERROR(oci::ImageReference deployed,
                  oci::ParseImageReference(functions::ResolvedImageUri(c)));
  oci::Platform platform{
      "linux", std::string(oci::OciArchitecture(catalog::ArchitectureName(c.architecture))), ""};
  RETURN_ERROR_IF(d.images->Pull(deployed, platform).status());
  RETURN_ERROR_IF(d.catalog->EnsureImage(base->id));
  RETURN_ERROR_IF(d.catalog->EnsureImage(newest->id));
  std::string host = call.request.Header("host").value_or("");
  auto [repository, tag] = catalog::ImageRepositoryAndTag(newest->name);
  std::string base_name = host.empty() ? fmt::format("{}:{}", repository, tag)
                                       : fmt::format("{}/{}:{}", host, repository, tag);
  ASSIGN_OR_ERROR(
      oci::RebasedImage rebased,
      oci::Rebase(d.blobs, {c.image_digest, base->image_digest, newest->image_digest, base_name}));
  ASSIGN_OR_ERROR(oci::ImageReference written, oci::ParseImageReference(c.image_uri));
  oci::ImageReference dest{deployed.registry, deployed.repository,
                           RebasedTag(written, newest->name), ""};
  RETURN_ERROR_IF(oci::Push(dest, rebased.descriptor, *d.blobs, *d.registry_credentials));

  functions::UpdateCodeCommand cmd;
  cmd.image = functions::ImageCode{dest.ToString(), rebased.descriptor.digest, newest->id};
  cmd.revision_id = latest.revision_id;  // nobody changed it meanwhile
  cmd.publish = publish;
  cmd.cause = "image-rebase";
  ASSIGN_OR_ERROR(functions::WriteResult result,
                  d.functions->UpdateFunctionCode(scope, name, std::move(cmd)));
  json out = {{"Rebased", true},
              {"FunctionArn", functions::FunctionArn(scope, name)},
              {"From", base->name},
              {"To", newest->name},
              {"ImageUri", result.latest.config.image_uri},
              {"ResolvedImageUri", functions::ResolvedImageUri(result.latest.config)},
              {"CodeSha256", result.latest.config.code_sha256},
              {"ReplacedLayers", rebased.replaced_layers},
              {"RevisionId", result.latest.revision_id}};
  if (result.published) out["Version"] = result.published->version;
  return Ok(out);
}

}  // namespace lambkin::admin::ops
