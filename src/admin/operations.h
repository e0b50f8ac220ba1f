// The operator API's operations, one per route of routes.cc, and the matched call they read.
// Internal to admin: other subsystems use AdminApi.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "admin/admin_api.h"
#include "common/status.h"
#include "iam/authenticator.h"
#include "server/request.h"

namespace lambkin::admin {

// One authenticated request matched to its route.
struct Call {
  const server::HttpRequest& request;
  std::map<std::string, std::string> labels;  // the route's {Label}s, decoded
  const iam::Identity& identity;

  const std::string& Label(const std::string& name) const { return labels.at(name); }
  // The body as a JSON object (an empty body is `{}`), parsed once for the call: authorisation
  // reads some bodies before the operation does. kInvalidRequestContent when it is not one.
  Result<std::reference_wrapper<const nlohmann::json>> JsonObject() const;

  mutable std::optional<Result<nlohmann::json>> parsed_body = std::nullopt;  // JsonObject()'s
};

using Operation = server::HttpResponse (*)(const AdminApi::Deps&, const Call&);

// The region a call names with ?region= (or the server's default); kInvalidParameterValue for
// one not served here.
Result<std::string> RegionOf(const AdminApi::Deps& d, const server::HttpRequest& request);

namespace ops {
server::HttpResponse Health(const AdminApi::Deps&, const Call&);
server::HttpResponse ListRuntimeVersions(const AdminApi::Deps&, const Call&);
server::HttpResponse PublishRuntimeVersion(const AdminApi::Deps&, const Call&);
server::HttpResponse GetRuntimeVersion(const AdminApi::Deps&, const Call&);
server::HttpResponse DiffRuntimeVersions(const AdminApi::Deps&, const Call&);
server::HttpResponse DeprecateRuntimeVersion(const AdminApi::Deps&, const Call&);
server::HttpResponse BlockRuntimeVersion(const AdminApi::Deps&, const Call&);
server::HttpResponse GetRolloutStatus(const AdminApi::Deps&, const Call&);
server::HttpResponse PauseRollout(const AdminApi::Deps&, const Call&);
server::HttpResponse ResumeRollout(const AdminApi::Deps&, const Call&);
server::HttpResponse AdvanceRollout(const AdminApi::Deps&, const Call&);
server::HttpResponse AbortRollout(const AdminApi::Deps&, const Call&);
server::HttpResponse FastTrackRollout(const AdminApi::Deps&, const Call&);
server::HttpResponse GetRuntimeHistory(const AdminApi::Deps&, const Call&);
server::HttpResponse GetClock(const AdminApi::Deps&, const Call&);
server::HttpResponse AdvanceClock(const AdminApi::Deps&, const Call&);
server::HttpResponse GetFunctionCode(const AdminApi::Deps&, const Call&);
server::HttpResponse GetLayerCode(const AdminApi::Deps&, const Call&);
server::HttpResponse GetInsightReport(const AdminApi::Deps&, const Call&);
server::HttpResponse GetIamDirectory(const AdminApi::Deps&, const Call&);
server::HttpResponse ApplyIamDeclaration(const AdminApi::Deps&, const Call&);
server::HttpResponse CreateAccessKey(const AdminApi::Deps&, const Call&);
server::HttpResponse DeleteAccessKey(const AdminApi::Deps&, const Call&);
server::HttpResponse RebaseFunctionImage(const AdminApi::Deps&, const Call&);
// compliance_operations.cc
server::HttpResponse ListRuntimes(const AdminApi::Deps&, const Call&);
server::HttpResponse PutRuntimeLifecycle(const AdminApi::Deps&, const Call&);
server::HttpResponse GetComplianceReport(const AdminApi::Deps&, const Call&);
server::HttpResponse CheckPackage(const AdminApi::Deps&, const Call&);
}  // namespace ops

}  // namespace lambkin::admin
