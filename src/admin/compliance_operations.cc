// The operator API's runtime lifecycle and compliance operations: runtimes with their release
// lifecycle (GET /lambkin/v1/runtimes, PUT /lambkin/v1/runtimes/<runtime>/lifecycle), the
// compliance report (GET /lambkin/v1/compliance/report, JSON or CSV) and the check of a
// deployment package against a runtime (POST /lambkin/v1/compliance/check-package).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "admin/operations.h"
#include "catalog/lifecycle.h"
#include "compliance/packages.h"
#include "compliance/report.h"
#include "lambdaapi/errors.h"
#include "lambdaapi/serialize.h"

namespace lambkin::admin {

using nlohmann::json;
using server::HttpResponse;

namespace {

json LifecycleJson(const catalog::RuntimeLifecycle& l, int64_t now_ms) {
  auto date = [](const std::optional<std::string>& d) { return d ? json(*d) : json(nullptr); };
  json out = {{"ReleaseState", catalog::ReleaseState(l, now_ms)},
              {"DeprecationDate", date(l.deprecation_date)},
              {"FunctionCreateBlockDate", date(l.create_block_date)},
              {"FunctionUpdateBlockDate", date(l.update_block_date)}};
  std::optional<catalog::NextDate> next = catalog::NextLifecycleDate(l, now_ms);
  out["NextLifecycleDate"] =
      next ? json{{"Event", next->what}, {"Date", next->date}} : json(nullptr);
  out["CreateBlocked"] = catalog::Blocks(l, catalog::LifecycleGate::kCreate, now_ms);
  out["UpdateBlocked"] = catalog::Blocks(l, catalog::LifecycleGate::kUpdate, now_ms);
  return out;
}

json RuntimeJson(const AdminApi::Deps& d, const std::string& runtime,
                 const catalog::RuntimeLifecycle& l, int64_t now_ms) {
  std::optional<catalog::RuntimeVersion> newest = d.catalog->Newest(runtime);
  return {{"Runtime", runtime},
          {"NewestRuntimeVersion", newest ? json(newest->name) : json(nullptr)},
          {"ReleaseLifecycle", LifecycleJson(l, now_ms)}};
}

// A date member into `date`: absent keeps it, null removes it, a string (YYYY-MM-DD) sets it.
Status DateMember(const json& body, const char* key, std::optional<std::string>* date) {
  auto it = body.find(key);
  if (it == body.end()) return Status::Ok();
  if (it->is_null()) {
    date->reset();
    return Status::Ok();
  }
  if (!it->is_string()) {
    return InvalidParameter(fmt::format("{} must be a date in the form YYYY-MM-DD", key));
  }
  *date = it->get<std::string>();
  return Status::Ok();
}

}  // namespace

namespace ops {

// GET /lambkin/v1/runtimes: every runtime of the catalogue with its release lifecycle.
HttpResponse ListRuntimes(const AdminApi::Deps& d, const Call&) {
  const int64_t now = d.clock->NowMillis();
  std::map<std::string, catalog::RuntimeLifecycle> all;
  for (const std::string& r : d.catalog->Runtimes()) all[r].runtime = r;
  Status s = d.db->Read([&](store::Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(std::vector<catalog::RuntimeLifecycle> stored,
                             catalog::LoadLifecycles(txn));
    for (auto& l : stored) all[l.runtime] = std::move(l);
    return Status::Ok();
  });
  if (!s.ok()) return lambdaapi::ErrorResponse(s);
  json list = json::array();
  for (const auto& [runtime, l] : all) list.push_back(RuntimeJson(d, runtime, l, now));
  return lambdaapi::JsonResponse(200, {{"Runtimes", list}});
}

// PUT /lambkin/v1/runtimes/<runtime>/lifecycle {"DeprecationDate", "FunctionCreateBlockDate",
// "FunctionUpdateBlockDate"} (also accepted inside "ReleaseLifecycle"): each date given is set
// (YYYY-MM-DD) or removed (null); dates not given stay.
HttpResponse PutRuntimeLifecycle(const AdminApi::Deps& d, const Call& call) {
  const std::string& runtime = call.Label("Runtime");
  if (!d.catalog->HasRuntime(runtime)) {
    return lambdaapi::ErrorResponse(NotFound(fmt::format("No runtime named {}", runtime)));
  }
  ASSIGN_OR_ERROR(const json& outer, call.JsonObject());
  const json& body = outer.contains("ReleaseLifecycle") && outer["ReleaseLifecycle"].is_object()
                         ? outer["ReleaseLifecycle"]
                         : outer;
  catalog::RuntimeLifecycle l;
  l.runtime = runtime;
  Status s = d.db->Transact([&](store::Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(std::optional<catalog::RuntimeLifecycle> stored,
                             catalog::LoadLifecycle(txn, runtime));
    if (stored) l = *stored;
    LAMBKIN_RETURN_IF_ERROR(DateMember(body, "DeprecationDate", &l.deprecation_date));
    LAMBKIN_RETURN_IF_ERROR(DateMember(body, "FunctionCreateBlockDate", &l.create_block_date));
    LAMBKIN_RETURN_IF_ERROR(DateMember(body, "FunctionUpdateBlockDate", &l.update_block_date));
    return catalog::StoreLifecycle(txn, l);
  });
  if (!s.ok()) return lambdaapi::ErrorResponse(s);
  return lambdaapi::JsonResponse(200, RuntimeJson(d, runtime, l, d.clock->NowMillis()));
}

// GET /lambkin/v1/compliance/report?region=R&runtime=R&format=json|csv: the compliance report
// of every function version (of one region and one runtime, when asked), most urgent first.
HttpResponse GetComplianceReport(const AdminApi::Deps& d, const Call& call) {
  const server::HttpRequest& r = call.request;
  compliance::ReportOptions o;
  o.now_ms = d.clock->NowMillis();
  if (auto region = r.Query("region"); region && !region->empty()) {
    ASSIGN_OR_ERROR(o.region, RegionOf(d, r));
  }
  if (auto runtime = r.Query("runtime"); runtime && !runtime->empty()) o.runtime = *runtime;
  std::string format = r.Query("format").value_or("json");
  if (format != "json" && format != "csv") {
    return lambdaapi::ErrorResponse(InvalidParameter("format must be json or csv"));
  }
  // The last second's invocations count too.
  if (Status s = d.rollout->health()->Flush(); !s.ok()) return lambdaapi::ErrorResponse(s);
  ASSIGN_OR_ERROR(std::vector<compliance::ReportRow> rows,
                  compliance::BuildReport(d.db, *d.catalog, d.packages, o));
  if (format == "csv") {
    HttpResponse res;
    res.status = 200;
    res.headers.emplace_back("Content-Type", "text/csv; charset=utf-8");
    res.headers.emplace_back("Content-Disposition",
                             "attachment; filename=\"lambkin-compliance.csv\"");
    res.body = compliance::ReportCsv(rows);
    return res;
  }
  json list = json::array();
  for (const auto& row : rows) list.push_back(compliance::ReportRowToJson(row));
  return lambdaapi::JsonResponse(
      200, {{"GeneratedAt", FormatAwsTimestamp(o.now_ms)}, {"FunctionVersions", list}});
}

// POST /lambkin/v1/compliance/check-package?runtime=R&region=R with a zip as the body: how the
// packages it bundles sit against the runtime's newest version released in the region, and
// against every newer version already published (what a rollout will bring).
HttpResponse CheckPackage(const AdminApi::Deps& d, const Call& call) {
  const server::HttpRequest& r = call.request;
  std::string runtime = r.Query("runtime").value_or("");
  if (runtime.empty() || !d.catalog->HasRuntime(runtime)) {
    return lambdaapi::ErrorResponse(
        InvalidParameter(runtime.empty() ? std::string("runtime is required")
                                         : fmt::format("Runtime {} is not available", runtime)));
  }
  ASSIGN_OR_ERROR(std::string region, RegionOf(d, r));
  ASSIGN_OR_ERROR(std::vector<catalog::BomEntry> bundled, compliance::InspectPackages(r.body));
  // What CreateFunction would give the package today in this region.
  std::optional<int64_t> current_id;
  Status s = d.db->Read([&](store::Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(current_id, catalog::Catalog::NewestReleased(
                                             txn, runtime, region, catalog::ReleaseStage::kPhase1));
    return Status::Ok();
  });
  if (!s.ok()) return lambdaapi::ErrorResponse(s);
  std::optional<catalog::RuntimeVersion> current =
      current_id ? d.catalog->Get(*current_id) : d.catalog->Newest(runtime);
  if (!current) {
    return lambdaapi::ErrorResponse(NotFound(fmt::format("No version of {} is released", runtime)));
  }
  compliance::Analysis analysis = compliance::Analyze(*current->bom, bundled);
  json bundled_json = catalog::BomToJson(bundled);
  json upcoming = json::array();
  for (const catalog::RuntimeVersion& v : d.catalog->List()) {
    if (v.runtime != runtime || v.number <= current->number ||
        v.state == catalog::RuntimeVersionState::kBlocked) {
      continue;
    }
    std::vector<compliance::Finding> breaks = compliance::Predict(*v.bom, bundled);
    upcoming.push_back(
        {{"RuntimeVersion", v.name}, {"Breaks", compliance::FindingsToJson(breaks)}});
  }
  bool ok = analysis.row != compliance::Row::kRuntimeWithBundled;
  for (const compliance::Finding& f : analysis.findings) {
    // A requirement the copies in effect do not meet, or a coupled pair split between the
    // deployment and the runtime.
    if (!f.satisfied || (f.coupled && f.row == compliance::Row::kBundledWithRuntime)) ok = false;
  }
  for (const json& u : upcoming) {
    if (!u["Breaks"].empty()) ok = false;
  }
  return lambdaapi::JsonResponse(200, {{"Runtime", runtime},
                                       {"Region", region},
                                       {"RuntimeVersion", current->name},
                                       {"Bundled", bundled_json},
                                       {"DependencyRow", compliance::RowName(analysis.row)},
                                       {"Findings", compliance::FindingsToJson(analysis.findings)},
                                       {"Upcoming", upcoming},
                                       {"Compatible", ok}});
}

}  // namespace ops

}  // namespace lambkin::admin
