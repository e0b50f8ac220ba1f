// The compliance report: for every function version ($LATEST and published) in every region,
// who must act to keep it patched under the shared responsibility model
// (spec/compliance.md §1): its update mode, its runtime version and how far behind the newest
// released one it is (versions and days), its runtime's lifecycle, the rollout holds that keep
// it back, how its bundled packages sit against the runtime's (§3), and when it last ran and how
// often — with the reasons in words a function owner understands, sorted by urgency.
//
// Built from the store in one read (function versions, history edits, rollouts, lifecycles,
// activity) plus the catalogue and the package index; nothing is cached between reports.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "catalog/catalog.h"
#include "catalog/lifecycle.h"
#include "common/status.h"
#include "compliance/package_index.h"
#include "compliance/packages.h"
#include "store/database.h"

namespace lambkin::compliance {

enum class Actor { kNobody, kOperator, kFunctionOwner };
std::string_view ActorName(Actor actor);  // nobody, operator, function owner

struct ReportOptions {
  std::optional<std::string> region;
  std::optional<std::string> runtime;
  int64_t now_ms = 0;
  int soon_days = 180;  // a deprecation this close counts as soon
};

struct Reason {
  Actor actor = Actor::kNobody;
  int64_t urgency = 0;  // higher first
  std::string text;
};

struct ReportRow {
  std::string account, region, function, version;  // version: $LATEST or a number
  std::string package_type;                        // Zip or Image
  std::string runtime;                             // for an image: its base's runtime, if known
  std::string architecture;
  std::string update_mode;             // Auto, FunctionUpdate, Manual; Image for images
  std::string runtime_version;         // name (python:3.11.v3); for an image its base
  std::string newest_runtime_version;  // newest released in the region
  int64_t versions_behind = 0;
  int64_t days_behind = 0;    // since the first newer version was released there
  std::string release_state;  // GA or DEPRECATED
  std::optional<catalog::NextDate> next_lifecycle_date;
  Actor must_act = Actor::kNobody;
  int64_t urgency = 0;
  std::vector<Reason> reasons;  // most urgent first
  std::optional<int64_t> last_invoked_ms;
  int64_t invocations_30d = 0;
  std::optional<Row> dependency_row;  // zip functions
  std::vector<Finding> findings;
};

Result<std::vector<ReportRow>> BuildReport(store::Database* db, const catalog::Catalog& catalog,
                                           PackageIndex* packages, const ReportOptions& options);

nlohmann::json ReportRowToJson(const ReportRow& row);
// Dependency findings as the report and the package check write them.
nlohmann::json FindingsToJson(const std::vector<Finding>& findings);
// One line per row, with a header: what auditors import.
std::string ReportCsv(const std::vector<ReportRow>& rows);

}  // namespace lambkin::compliance
