// Every operator API route in one table, each with its IAM action and resource, and the dispatch
// from a request to its operation: authenticate (SigV4, service `lambkin`), authorise, act.

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "admin/admin_api.h"
#include "admin/operations.h"
#include "iam/authenticator.h"
#include "lambdaapi/errors.h"
#include "lambdaapi/names.h"
#include "lambdaapi/validation.h"

namespace lambkin::admin {

namespace {

// The resource a call acts on, as policies name it.
using Resource = std::string (*)(const AdminApi::Deps&, const Call&);

struct Route {
  std::string_view method;
  std::string_view pattern;  // segments; {Label} captures one decoded segment
  std::string_view action;   // the IAM action the caller must be allowed; empty: open to anyone
  Operation operation;
  Resource resource = nullptr;  // nullptr: "*"
};

// Operator resources belong to the whole server, in no region and no account, like S3 buckets:
// arn:aws:lambkin:::runtime/<runtime>, ...:runtime-version/<name>, ...:rollout/<name>,
// ...:clock.
constexpr std::string_view kServerArn = "arn:aws:lambkin:::";

// A runtime version as the call names it ({Name}: a name or an ARN), written as its name when
// the catalogue knows it, else as written.
std::string VersionName(const AdminApi::Deps& d, const Call& call) {
  const std::string& named = call.Label("Name");
  std::optional<catalog::RuntimeVersion> v = d.catalog->Find(named);
  return v ? v->name : named;
}

std::string RuntimeResource(const AdminApi::Deps&, const Call& call) {
  Result<std::reference_wrapper<const nlohmann::json>> body = call.JsonObject();
  if (!body.ok()) return "*";
  auto runtime = body->get().find("Runtime");
  if (runtime == body->get().end() || !runtime->is_string()) return "*";
  return fmt::format("{}runtime/{}", kServerArn, runtime->get<std::string>());
}

std::string LifecycleResource(const AdminApi::Deps&, const Call& call) {
  return fmt::format("{}runtime/{}", kServerArn, call.Label("Runtime"));
}

std::string CheckPackageResource(const AdminApi::Deps&, const Call& call) {
  return fmt::format("{}runtime/{}", kServerArn, call.request.Query("runtime").value_or(""));
}

std::string RuntimeVersionResource(const AdminApi::Deps& d, const Call& call) {
  return fmt::format("{}runtime-version/{}", kServerArn, VersionName(d, call));
}

std::string RolloutResource(const AdminApi::Deps& d, const Call& call) {
  return fmt::format("{}rollout/{}", kServerArn, VersionName(d, call));
}

std::string ClockResource(const AdminApi::Deps&, const Call&) {
  return fmt::format("{}clock", kServerArn);
}

// The function whose runtime version history is asked for (in the server's account).
std::string HistoryResource(const AdminApi::Deps& d, const Call& call) {
  const server::HttpRequest& r = call.request;
  functions::Scope scope{d.account, r.Query("region").value_or(d.regions->default_region())};
  return functions::FunctionArn(scope, r.Query("function").value_or(""),
                                r.Query("qualifier").value_or(""));
}

// The function a code link was made for, in the caller's account and region, as GetFunction
// authorised it: qualified when it was addressed with a qualifier.
std::string CodeResource(const AdminApi::Deps&, const Call& call) {
  const server::HttpRequest& r = call.request;
  std::string raw = r.Query("FunctionName").value_or("");
  std::optional<std::string> qualifier = r.Query("Qualifier");
  Result<lambdaapi::FunctionRef> ref = lambdaapi::ResolveFunction(
      raw, lambdaapi::shapes::kFunctionName, call.identity.scope, qualifier);
  // A name the operation will refuse is still authorised, as written.
  lambdaapi::FunctionRef named = ref.ok() ? *ref : lambdaapi::FunctionRef{raw, ""};
  return functions::FunctionArn(call.identity.scope, named.name, named.qualifier);
}

// The layer version a layer archive link was made for (GetLayerVersion authorised it).
std::string LayerCodeResource(const AdminApi::Deps&, const Call& call) {
  return call.request.Query("LayerVersionArn").value_or("");
}

std::string InsightRuleResource(const AdminApi::Deps& d, const Call& call) {
  const server::HttpRequest& r = call.request;
  return fmt::format("arn:aws:cloudwatch:{}:{}:insight-rule/{}",
                     r.Query("region").value_or(d.regions->default_region()), d.account,
                     r.Query("rule").value_or(""));
}

// The user or role a new key is for.
std::string NewKeyOwnerResource(const AdminApi::Deps& d, const Call& call) {
  Result<std::reference_wrapper<const nlohmann::json>> parsed = call.JsonObject();
  if (!parsed.ok()) return "*";
  const nlohmann::json& body = parsed->get();
  bool role = body.contains("Role");
  auto string = [&body](const char* key, const std::string& fallback) {
    auto it = body.find(key);
    return it != body.end() && it->is_string() ? it->get<std::string>() : fallback;
  };
  return iam::PrincipalArn(string("Account", d.account), role ? "role" : "user",
                           string(role ? "Role" : "User", ""));
}

// The user or role that owns the key being deleted; "*" for a key nobody owns.
std::string KeyOwnerResource(const AdminApi::Deps&, const Call& call) {
  const iam::Snapshot::Key* key = call.identity.snapshot->FindKey(call.Label("Id"));
  return key != nullptr ? key->caller.principal_arn : "*";
}

// The image function a rebase acts on (in the server's account, in ?region=).
std::string RebaseResource(const AdminApi::Deps& d, const Call& call) {
  functions::Scope scope{d.account,
                         call.request.Query("region").value_or(d.regions->default_region())};
  return functions::FunctionArn(scope, call.Label("FunctionName"));
}

constexpr Route kRoutes[] = {
    {"GET", "/lambkin/v1/health", "", ops::Health},
    {"GET", "/lambkin/v1/runtime-versions", "lambkin:ListRuntimeVersions",
     ops::ListRuntimeVersions},
    {"POST", "/lambkin/v1/runtime-versions", "lambkin:PublishRuntimeVersion",
     ops::PublishRuntimeVersion, RuntimeResource},
    {"GET", "/lambkin/v1/runtime-versions/{Name}", "lambkin:GetRuntimeVersion",
     ops::GetRuntimeVersion, RuntimeVersionResource},
    {"GET", "/lambkin/v1/runtime-versions/{Name}/diff/{Other}", "lambkin:GetRuntimeVersion",
     ops::DiffRuntimeVersions, RuntimeVersionResource},
    {"POST", "/lambkin/v1/runtime-versions/{Name}/deprecate", "lambkin:DeprecateRuntimeVersion",
     ops::DeprecateRuntimeVersion, RuntimeVersionResource},
    {"POST", "/lambkin/v1/runtime-versions/{Name}/block", "lambkin:BlockRuntimeVersion",
     ops::BlockRuntimeVersion, RuntimeVersionResource},
    {"GET", "/lambkin/v1/rollouts", "lambkin:GetRolloutStatus", ops::GetRolloutStatus},
    {"POST", "/lambkin/v1/rollouts/{Name}/pause", "lambkin:PauseRollout", ops::PauseRollout,
     RolloutResource},
    {"POST", "/lambkin/v1/rollouts/{Name}/resume", "lambkin:ResumeRollout", ops::ResumeRollout,
     RolloutResource},
    {"POST", "/lambkin/v1/rollouts/{Name}/advance", "lambkin:AdvanceRollout", ops::AdvanceRollout,
     RolloutResource},
    {"POST", "/lambkin/v1/rollouts/{Name}/abort", "lambkin:AbortRollout", ops::AbortRollout,
     RolloutResource},
    {"POST", "/lambkin/v1/rollouts/{Name}/fast-track", "lambkin:FastTrackRollout",
     ops::FastTrackRollout, RolloutResource},
    {"GET", "/lambkin/v1/history", "lambkin:GetRuntimeHistory", ops::GetRuntimeHistory,
     HistoryResource},
    {"GET", "/lambkin/v1/clock", "lambkin:GetClock", ops::GetClock, ClockResource},
    {"POST", "/lambkin/v1/clock/advance", "lambkin:AdvanceClock", ops::AdvanceClock, ClockResource},
    // GetFunction's Code.Location, presigned by the caller's key: the caller must still be
    // allowed to get the function when the link is used.
    {"GET", "/lambkin/v1/code/{Sha256}", "lambda:GetFunction", ops::GetFunctionCode, CodeResource},
    // GetLayerVersion's Content.Location, likewise.
    {"GET", "/lambkin/v1/layer-code/{Sha256}", "lambda:GetLayerVersion", ops::GetLayerCode,
     LayerCodeResource},
    {"GET", "/lambkin/v1/insights/report", "lambkin:GetInsightReport", ops::GetInsightReport,
     InsightRuleResource},
    {"POST", "/lambkin/v1/functions/{FunctionName}/image-rebase", "lambkin:RebaseFunctionImage",
     ops::RebaseFunctionImage, RebaseResource},
    {"GET", "/lambkin/v1/runtimes", "lambkin:ListRuntimes", ops::ListRuntimes},
    {"PUT", "/lambkin/v1/runtimes/{Runtime}/lifecycle", "lambkin:PutRuntimeLifecycle",
     ops::PutRuntimeLifecycle, LifecycleResource},
    {"GET", "/lambkin/v1/compliance/report", "lambkin:GetComplianceReport",
     ops::GetComplianceReport},
    {"POST", "/lambkin/v1/compliance/check-package", "lambkin:CheckPackage", ops::CheckPackage,
     CheckPackageResource},
    {"GET", "/lambkin/v1/iam", "lambkin:GetIamDirectory", ops::GetIamDirectory},
    {"POST", "/lambkin/v1/iam/apply", "lambkin:ApplyIamDeclaration", ops::ApplyIamDeclaration},
    {"POST", "/lambkin/v1/iam/access-keys", "lambkin:CreateAccessKey", ops::CreateAccessKey,
     NewKeyOwnerResource},
    {"DELETE", "/lambkin/v1/iam/access-keys/{Id}", "lambkin:DeleteAccessKey", ops::DeleteAccessKey,
     KeyOwnerResource},
};

Status Authorise(const AdminApi::Deps& d, const Route& route, const Call& call) {
  if (!call.identity.authorises()) return Status::Ok();  // --auth none
  iam::RequestContext request;
  request.action = std::string(route.action);
  if (route.resource != nullptr) request.resource = route.resource(d, call);
  return call.identity.Allow(request);
}

}  // namespace

std::optional<server::HttpResponse> AdminApi::Handle(const server::HttpRequest& request) const {
  const auto& p = request.path;
  if (p.size() < 2 || p[0] != "lambkin" || p[1] != "v1") return std::nullopt;
  for (const Route& route : kRoutes) {
    std::map<std::string, std::string> labels;
    if (!server::MatchRoute(route.pattern, request.path, labels)) continue;
    if (route.method != request.method) continue;
    if (route.action.empty()) {
      const iam::Identity nobody{nullptr, {}, nullptr};
      return route.operation(d_, Call{request, std::move(labels), nobody});
    }
    Result<iam::Identity> identity = d_.auth->Authenticate(request, kSigningService);
    if (!identity.ok()) return lambdaapi::ErrorResponse(identity.status());
    Call call{request, std::move(labels), *identity};
    if (Status allowed = Authorise(d_, route, call); !allowed.ok()) {
      return lambdaapi::ErrorResponse(allowed);
    }
    return route.operation(d_, call);
  }
  // Nothing is said about the operator API to a caller who is not authenticated.
  Result<iam::Identity> identity = d_.auth->Authenticate(request, kSigningService);
  if (!identity.ok()) return lambdaapi::ErrorResponse(identity.status());
  return lambdaapi::ErrorResponse(
      {StatusCode::kNotImplemented,
       fmt::format("No operator API operation {} {}", request.method, request.raw_path)});
}

}  // namespace lambkin::admin
