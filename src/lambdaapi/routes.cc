// Every Lambda API route in one table, and the dispatch from a request to its operation.

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "iam/authenticator.h"
#include "lambdaapi/api.h"
#include "lambdaapi/errors.h"
#include "lambdaapi/names.h"

namespace lambkin::lambdaapi {

namespace {

struct Route {
  std::string_view method;
  std::string_view pattern;  // segments; {Label} captures one decoded segment
  std::string_view action;   // the IAM action the caller must be allowed
  Operation operation;
  AsyncOperation async_operation = nullptr;
  // Whether this call may block for long (it pulls an container image): it then runs through
  // ApiContext::offload, off the I/O threads.
  bool (*blocks)(const Call&) = nullptr;
  // A query parameter the request must carry ("find=LayerVersion"), empty for none.
  std::string_view query = {};
};

bool MatchesQuery(const Route& route, const server::HttpRequest& request) {
  if (route.query.empty()) return true;
  size_t eq = route.query.find('=');
  return request.Query(route.query.substr(0, eq)) == route.query.substr(eq + 1);
}

// CreateFunction of an image, UpdateFunctionCode with an ImageUri: both pull the image.
bool PullsImage(const Call& call) {
  Result<std::reference_wrapper<const Body>> body = call.JsonBody();
  if (!body.ok()) return false;
  const nlohmann::json& doc = body->get().doc();
  auto it = doc.find("PackageType");
  return doc.contains("ImageUri") ||
         (it != doc.end() && it->is_string() && it->get<std::string>() == "Image");
}

constexpr Route kRoutes[] = {
    {"POST", "/2015-03-31/functions", "lambda:CreateFunction", ops::CreateFunction, nullptr,
     PullsImage},
    {"GET", "/2015-03-31/functions", "lambda:ListFunctions", ops::ListFunctions},
    {"GET", "/2015-03-31/functions/{FunctionName}", "lambda:GetFunction", ops::GetFunction},
    {"DELETE", "/2015-03-31/functions/{FunctionName}", "lambda:DeleteFunction",
     ops::DeleteFunction},
    {"GET", "/2015-03-31/functions/{FunctionName}/configuration", "lambda:GetFunctionConfiguration",
     ops::GetFunctionConfiguration},
    {"PUT", "/2015-03-31/functions/{FunctionName}/configuration",
     "lambda:UpdateFunctionConfiguration", ops::UpdateFunctionConfiguration},
    {"PUT", "/2015-03-31/functions/{FunctionName}/code", "lambda:UpdateFunctionCode",
     ops::UpdateFunctionCode, nullptr, PullsImage},
    {"POST", "/2015-03-31/functions/{FunctionName}/versions", "lambda:PublishVersion",
     ops::PublishVersion},
    {"GET", "/2015-03-31/functions/{FunctionName}/versions", "lambda:ListVersionsByFunction",
     ops::ListVersionsByFunction},
    {"POST", "/2015-03-31/functions/{FunctionName}/aliases", "lambda:CreateAlias",
     ops::CreateAlias},
    {"GET", "/2015-03-31/functions/{FunctionName}/aliases", "lambda:ListAliases", ops::ListAliases},
    {"GET", "/2015-03-31/functions/{FunctionName}/aliases/{Name}", "lambda:GetAlias",
     ops::GetAlias},
    {"PUT", "/2015-03-31/functions/{FunctionName}/aliases/{Name}", "lambda:UpdateAlias",
     ops::UpdateAlias},
    {"DELETE", "/2015-03-31/functions/{FunctionName}/aliases/{Name}", "lambda:DeleteAlias",
     ops::DeleteAlias},
    {"GET", "/2021-07-20/functions/{FunctionName}/runtime-management-config",
     "lambda:GetRuntimeManagementConfig", ops::GetRuntimeManagementConfig},
    {"PUT", "/2021-07-20/functions/{FunctionName}/runtime-management-config",
     "lambda:PutRuntimeManagementConfig", ops::PutRuntimeManagementConfig},
    {"POST", "/2015-03-31/functions/{FunctionName}/invocations", "lambda:InvokeFunction", nullptr,
     ops::Invoke},
    // InvokeAsync (deprecated) needs lambda:InvokeFunction, as AWS documents; the SDKs send the
    // path with or without its trailing slash.
    {"POST", "/2014-11-13/functions/{FunctionName}/invoke-async", "lambda:InvokeFunction",
     ops::InvokeAsync},
    {"POST", "/2014-11-13/functions/{FunctionName}/invoke-async/", "lambda:InvokeFunction",
     ops::InvokeAsync},
    {"PUT", "/2019-09-25/functions/{FunctionName}/event-invoke-config",
     "lambda:PutFunctionEventInvokeConfig", ops::PutFunctionEventInvokeConfig},
    {"POST", "/2019-09-25/functions/{FunctionName}/event-invoke-config",
     "lambda:UpdateFunctionEventInvokeConfig", ops::UpdateFunctionEventInvokeConfig},
    {"GET", "/2019-09-25/functions/{FunctionName}/event-invoke-config",
     "lambda:GetFunctionEventInvokeConfig", ops::GetFunctionEventInvokeConfig},
    {"DELETE", "/2019-09-25/functions/{FunctionName}/event-invoke-config",
     "lambda:DeleteFunctionEventInvokeConfig", ops::DeleteFunctionEventInvokeConfig},
    {"GET", "/2019-09-25/functions/{FunctionName}/event-invoke-config/list",
     "lambda:ListFunctionEventInvokeConfigs", ops::ListFunctionEventInvokeConfigs},
    {"PUT", "/2017-10-31/functions/{FunctionName}/concurrency", "lambda:PutFunctionConcurrency",
     ops::PutFunctionConcurrency},
    {"GET", "/2019-09-30/functions/{FunctionName}/concurrency", "lambda:GetFunctionConcurrency",
     ops::GetFunctionConcurrency},
    {"DELETE", "/2017-10-31/functions/{FunctionName}/concurrency",
     "lambda:DeleteFunctionConcurrency", ops::DeleteFunctionConcurrency},
    {"POST", "/2017-03-31/tags/{ARN}", "lambda:TagResource", ops::TagResource},
    {"DELETE", "/2017-03-31/tags/{ARN}", "lambda:UntagResource", ops::UntagResource},
    {"GET", "/2017-03-31/tags/{ARN}", "lambda:ListTags", ops::ListTags},
    {"GET", "/2018-10-31/layers", "lambda:GetLayerVersion", ops::GetLayerVersionByArn, nullptr,
     nullptr, "find=LayerVersion"},
    {"GET", "/2018-10-31/layers", "lambda:ListLayers", ops::ListLayers},
    {"POST", "/2018-10-31/layers/{LayerName}/versions", "lambda:PublishLayerVersion",
     ops::PublishLayerVersion},
    {"GET", "/2018-10-31/layers/{LayerName}/versions", "lambda:ListLayerVersions",
     ops::ListLayerVersions},
    {"GET", "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}", "lambda:GetLayerVersion",
     ops::GetLayerVersion},
    {"DELETE", "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}",
     "lambda:DeleteLayerVersion", ops::DeleteLayerVersion},
    {"POST", "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy",
     "lambda:AddLayerVersionPermission", ops::AddLayerVersionPermission},
    {"GET", "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy",
     "lambda:GetLayerVersionPolicy", ops::GetLayerVersionPolicy},
    {"DELETE", "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy/{StatementId}",
     "lambda:RemoveLayerVersionPermission", ops::RemoveLayerVersionPermission},
    // The JS SDK sends no trailing slash, botocore sends one.
    {"GET", "/2016-08-19/account-settings", "lambda:GetAccountSettings", ops::GetAccountSettings},
    {"GET", "/2016-08-19/account-settings/", "lambda:GetAccountSettings", ops::GetAccountSettings},
    {"GET", "/2020-06-30/functions/{FunctionName}/code-signing-config",
     "lambda:GetFunctionCodeSigningConfig", ops::GetFunctionCodeSigningConfig},
    {"DELETE", "/2020-06-30/functions/{FunctionName}/code-signing-config",
     "lambda:DeleteFunctionCodeSigningConfig", ops::DeleteFunctionCodeSigningConfig},
    {"POST", "/2015-03-31/functions/{FunctionName}/policy", "lambda:AddPermission",
     ops::AddPermission},
    {"GET", "/2015-03-31/functions/{FunctionName}/policy", "lambda:GetPolicy", ops::GetPolicy},
    {"DELETE", "/2015-03-31/functions/{FunctionName}/policy/{StatementId}",
     "lambda:RemovePermission", ops::RemovePermission},
    {"POST", "/2021-10-31/functions/{FunctionName}/url", "lambda:CreateFunctionUrlConfig",
     ops::CreateFunctionUrlConfig},
    {"GET", "/2021-10-31/functions/{FunctionName}/url", "lambda:GetFunctionUrlConfig",
     ops::GetFunctionUrlConfig},
    {"PUT", "/2021-10-31/functions/{FunctionName}/url", "lambda:UpdateFunctionUrlConfig",
     ops::UpdateFunctionUrlConfig},
    {"DELETE", "/2021-10-31/functions/{FunctionName}/url", "lambda:DeleteFunctionUrlConfig",
     ops::DeleteFunctionUrlConfig},
    {"GET", "/2021-10-31/functions/{FunctionName}/urls", "lambda:ListFunctionUrlConfigs",
     ops::ListFunctionUrlConfigs},
};

// The actions a function policy may grant another account (Lambda's list of the operations
// resource-based policies apply to). Addressed by a full or partial ARN of another account,
// these act on that account's function when the caller's identity policy and the function's
// policy both allow it; every other operation stays within the caller's account.
constexpr std::string_view kCrossAccountActions[] = {
    "lambda:InvokeFunction",
    "lambda:GetFunction",
    "lambda:GetFunctionConfiguration",
    "lambda:UpdateFunctionCode",
    "lambda:DeleteFunction",
    "lambda:PublishVersion",
    "lambda:ListVersionsByFunction",
    "lambda:CreateAlias",
    "lambda:GetAlias",
    "lambda:ListAliases",
    "lambda:UpdateAlias",
    "lambda:DeleteAlias",
    "lambda:GetPolicy",
    "lambda:PutFunctionConcurrency",
    "lambda:DeleteFunctionConcurrency",
    "lambda:ListTags",
    "lambda:TagResource",
    "lambda:UntagResource",
};

// The scope a request acts in: the caller's, or the account its function ARN names when the
// operation may be granted across accounts.
functions::Scope TargetScope(const Route& route, const std::map<std::string, std::string>& labels,
                             functions::Scope scope) {
  if (std::find(std::begin(kCrossAccountActions), std::end(kCrossAccountActions), route.action) ==
      std::end(kCrossAccountActions)) {
    return scope;
  }
  auto it = labels.find("FunctionName");
  if (it == labels.end()) it = labels.find("ARN");
  if (it == labels.end()) return scope;
  if (std::optional<std::string> account = AccountOf(it->second)) scope.account = *account;
  return scope;
}

// The policy of the function (version, alias) `ref` names, read from the store when the
// decision needs it.
iam::ResourcePolicy FunctionResourcePolicy(const ApiContext& ctx, const functions::Scope& scope,
                                           const FunctionRef& ref) {
  std::string qualifier = ref.qualifier == "$LATEST" ? "" : ref.qualifier;
  iam::ResourcePolicy policy{scope.account, functions::FunctionArn(scope, ref.name, qualifier),
                             nullptr};
  policy.load = [&ctx, scope, name = ref.name, qualifier]() -> Result<std::optional<iam::Policy>> {
    if (ctx.policies == nullptr) return std::optional<iam::Policy>();
    LAMBKIN_ASSIGN_OR_RETURN(std::optional<std::string> doc,
                             ctx.policies->Document(scope, name, qualifier));
    if (!doc) return std::optional<iam::Policy>();
    LAMBKIN_ASSIGN_OR_RETURN(iam::Policy p, iam::Policy::ParseResourcePolicy(*doc, SIZE_MAX));
    return std::optional<iam::Policy>(std::move(p));
  };
  return policy;
}

// Whether the caller may make this call: the route's action on the function it names
// (qualified when a qualifier or alias is given; `*` for ListFunctions and GetAccountSettings),
// with the function's tags as aws:ResourceTag/<key> and, for tagging calls, the tags asked for as
// aws:RequestTag/<key> and aws:TagKeys.
Status Authorise(const ApiContext& ctx, const Route& route, const Call& call,
                 const iam::Identity& identity) {
  if (!identity.authorises()) return Status::Ok();  // --auth none: nothing to prepare
  iam::RequestContext request;
  request.action = std::string(route.action);
  const server::HttpRequest& http = call.request;
  // Layer routes name a layer (version); the rest a function.
  if (route.pattern.starts_with("/2018-10-31/layers")) {
    if (std::optional<std::string> layer = LayerResource(call)) request.resource = *layer;
    return identity.Allow(request);
  }
  std::optional<iam::ResourcePolicy> resource_policy;
  std::optional<std::string> named_function;  // the function's name, when it resolved
  std::optional<std::string> raw;
  if (auto it = call.labels.find("FunctionName"); it != call.labels.end()) raw = it->second;
  if (auto it = call.labels.find("ARN"); it != call.labels.end()) raw = it->second;
  // CreateFunction names its function, and the tagging calls their tags, in the body.
  const nlohmann::json* body = nullptr;
  bool tagging = route.action == "lambda:TagResource" || route.action == "lambda:CreateFunction";
  if (tagging) {
    if (Result<std::reference_wrapper<const Body>> parsed = call.JsonBody(); parsed.ok()) {
      body = &parsed->get().doc();
    }
  }
  if (route.action == "lambda:CreateFunction" && body != nullptr &&
      body->value("FunctionName", nlohmann::json()).is_string()) {
    raw = (*body)["FunctionName"].get<std::string>();
  }
  if (raw) {
    std::optional<std::string> qualifier = http.Query("Qualifier");
    if (auto alias = call.labels.find("Name"); alias != call.labels.end()) {
      qualifier = alias->second;
    }
    Result<FunctionRef> ref =
        call.ResolveFunction(*raw, shapes::kNamespacedFunctionName, qualifier);
    // A name (or qualifier) that fails both of the model's function name patterns fails every
    // operation's validation, whichever pattern it checks: AWS answers that ValidationException
    // before looking at the caller's permissions, and nothing is read or changed.
    if (!ref.ok() && ref.status().code() == StatusCode::kValidation) {
      Result<FunctionRef> plain = call.ResolveFunction(*raw, shapes::kFunctionName, qualifier);
      if (!plain.ok() && plain.status().code() == StatusCode::kValidation) return Status::Ok();
    }
    // A name the operation may still refuse is authorised, as written: never a way around a
    // policy.
    FunctionRef named = ref.ok() ? *ref : FunctionRef{*raw, ""};
    request.resource = functions::FunctionArn(call.scope, named.name, named.qualifier);
    request.Set("lambda:FunctionArn", {functions::FunctionArn(call.scope, named.name)});
    if (ref.ok() && route.action != "lambda:CreateFunction") {
      resource_policy = FunctionResourcePolicy(ctx, call.scope, *ref);
    }
    if (ref.ok()) {
      named_function = ref->name;
      request.resource_tags = [&ctx, &call, name = ref->name] {
        Result<functions::Function> fn = ctx.functions->GetFunction(call.scope, name);
        return fn.ok() ? fn->tags : std::map<std::string, std::string>();
      };
    }
  }
  std::vector<std::string> tag_keys;
  if (body != nullptr && body->value("Tags", nlohmann::json()).is_object()) {
    for (const auto& [k, v] : (*body)["Tags"].items()) {
      tag_keys.push_back(k);
      if (v.is_string()) request.Set(fmt::format("aws:RequestTag/{}", k), {v.get<std::string>()});
    }
  }
  if (route.action == "lambda:UntagResource") {
    for (const auto& [k, v] : http.query) {
      if (k == "tagKeys") tag_keys.push_back(v);
    }
  }
  if (!tag_keys.empty()) request.Set("aws:TagKeys", std::move(tag_keys));
  if (!resource_policy && call.scope.account != identity.scope.account) {
    // Another account's resource that has no policy to consult: nothing grants it.
    resource_policy = iam::ResourcePolicy{
        call.scope.account, request.resource,
        [] { return Result<std::optional<iam::Policy>>(std::optional<iam::Policy>()); }};
  }
  Status allowed = identity.Allow(request, resource_policy ? &*resource_policy : nullptr);
  if (!allowed.ok() && allowed.code() == StatusCode::kAccessDenied &&
      call.scope.account != identity.scope.account && named_function &&
      !ctx.functions->GetFunction(call.scope, *named_function).ok()) {
    // Another account's function that does not exist: AWS's 403 says nothing (Message null),
    // so a denial never tells whether a function exists in an account.
    return Status(StatusCode::kAccessDenied, "");
  }
  return allowed;
}

}  // namespace

bool LambdaApi::Handle(const server::HttpRequest& request, server::Respond& respond) const {
  for (const Route& route : kRoutes) {
    std::map<std::string, std::string> labels;
    if (!server::MatchRoute(route.pattern, request.path, labels)) continue;
    if (route.method != request.method || !MatchesQuery(route, request)) continue;
    Result<iam::Identity> identity = ctx_.auth->Authenticate(request, "lambda");
    if (!identity.ok()) {
      respond(ErrorResponse(identity.status()));
      return true;
    }
    functions::Scope scope = TargetScope(route, labels, identity->scope);
    Call call{request, std::move(scope), std::move(labels), &*identity};
    if (Status allowed = Authorise(ctx_, route, call, *identity); !allowed.ok()) {
      respond(ErrorResponse(allowed));
      return true;
    }
    if (route.async_operation != nullptr) {
      route.async_operation(ctx_, call, std::move(respond));
    } else if (route.blocks != nullptr && ctx_.offload && route.blocks(call)) {
      // The request, the caller and the labels go with the work; nothing refers back here.
      ctx_.offload([ctx = ctx_, operation = route.operation, request = request,
                    identity = *identity, scope = call.scope, labels = call.labels,
                    respond = std::move(respond)] {
        Call moved{request, scope, labels, &identity};
        respond(operation(ctx, moved));
      });
    } else {
      respond(route.operation(ctx_, call));
    }
    return true;
  }
  return false;
}

}  // namespace lambkin::lambdaapi
