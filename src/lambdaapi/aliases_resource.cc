// The alias resource: /2015-03-31/functions/{FunctionName}/aliases[/{Name}].
#include <cmath>

#include <fmt/format.h>

#include "lambdaapi/api.h"
#include "lambdaapi/serialize.h"
#include "lambdaapi/validation.h"

namespace lambkin::lambdaapi {

using nlohmann::json;
using server::HttpResponse;

namespace {

// Weights as Java prints doubles in AWS's messages: 2.0, 0.25, -1.0.
std::string JavaDouble(double d) {
  if (std::isfinite(d) && d == std::floor(d)) return fmt::format("{:.1f}", d);
  return fmt::format("{}", d);
}

// RoutingConfig.AdditionalVersionWeights: keys are version numbers, values within [0, 1].
Result<std::optional<functions::RoutingConfig>> ParseRouting(const Body& body, Validator& v) {
  LAMBKIN_ASSIGN_OR_RETURN(const json* routing, body.Object("RoutingConfig"));
  if (routing == nullptr) return std::optional<functions::RoutingConfig>();
  functions::RoutingConfig rc;
  if (!routing->contains("AdditionalVersionWeights") ||
      (*routing)["AdditionalVersionWeights"].is_null()) {
    return std::optional<functions::RoutingConfig>(rc);
  }
  const json& weights = (*routing)["AdditionalVersionWeights"];
  if (!weights.is_object()) return BadContent("member AdditionalVersionWeights must be a map");
  std::vector<std::string> shown;
  bool bad_key = false, bad_value = false;
  for (const auto& [k, w] : weights.items()) {
    if (!w.is_number()) return BadContent("routing weights must be numbers");
    double d = w.get<double>();
    shown.push_back(fmt::format("{}={}", k, JavaDouble(d)));
    if (!MatchesPattern(shapes::kAdditionalVersion, k) || k.size() > 1024) bad_key = true;
    if (!(d >= 0.0 && d <= 1.0)) bad_value = true;
    rc.additional_version_weights[k] = d;
  }
  std::string text = fmt::format("'{{{}}}'", fmt::join(shown, ", "));
  if (bad_key) {
    v.Fail(text, "routingConfig.additionalVersionWeights",
           "Map keys must satisfy constraint: [Member must have length less than or equal to "
           "1024, Member must have length greater than or equal to 1, Member must satisfy "
           "regular expression pattern: [0-9]+]");
  }
  if (bad_value) {
    v.Fail(text, "routingConfig.additionalVersionWeights",
           "Map value must satisfy constraint: [Member must have value less than or equal to "
           "1.0, Member must have value greater than or equal to 0.0, Member must not be null]");
  }
  return std::optional<functions::RoutingConfig>(std::move(rc));
}

Result<functions::AliasCommand> ParseAlias(const Call& call, bool create) {
  LAMBKIN_ASSIGN_OR_RETURN(const Body& body, call.JsonBody());
  Validator v;
  functions::AliasCommand cmd;
  if (create) {
    LAMBKIN_ASSIGN_OR_RETURN(auto name, body.String("Name"));
    if (!name) {
      v.NotNull("name");
    } else {
      v.String("name", *name, shapes::kAlias);
      cmd.name = *name;
    }
  } else {
    cmd.name = call.Label("Name");
    v.String("name", cmd.name, shapes::kAlias);
  }
  LAMBKIN_ASSIGN_OR_RETURN(cmd.function_version, body.String("FunctionVersion"));
  if (cmd.function_version) {
    v.String("functionVersion", *cmd.function_version, shapes::kAliasFunctionVersion);
  } else if (create) {
    v.NotNull("functionVersion");
  }
  LAMBKIN_ASSIGN_OR_RETURN(cmd.description, body.String("Description"));
  if (cmd.description) v.String("description", *cmd.description, shapes::kDescription);
  LAMBKIN_ASSIGN_OR_RETURN(cmd.routing, ParseRouting(body, v));
  LAMBKIN_ASSIGN_OR_RETURN(cmd.revision_id, body.String("RevisionId"));
  LAMBKIN_RETURN_IF_ERROR(v.ToStatus());
  return cmd;
}

Status ValidateAliasLabel(const Call& call) {
  Validator v;
  v.String("name", call.Label("Name"), shapes::kAlias);
  return v.ToStatus();
}

}  // namespace

namespace ops {

HttpResponse CreateAlias(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(std::string function, UnqualifiedFunctionName(call));
  ASSIGN_OR_ERROR(functions::AliasCommand cmd, ParseAlias(call, true));
  if (cmd.function_version == functions::kLatest && cmd.routing &&
      !cmd.routing->additional_version_weights.empty()) {
    // AWS's answer to this one carries no Type.
    return ErrorResponse(
        InvalidParameter("$LATEST is not supported for an alias pointing to more than 1 version"),
        false);
  }
  ASSIGN_OR_ERROR(functions::Alias a, ctx.functions->CreateAlias(call.scope, function, cmd));
  return JsonResponse(201, AliasJson(call.scope, a));
}

HttpResponse GetAlias(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(std::string function, UnqualifiedFunctionName(call));
  RETURN_ERROR_IF(ValidateAliasLabel(call));
  ASSIGN_OR_ERROR(functions::Alias a,
                  ctx.functions->GetAlias(call.scope, function, call.Label("Name")));
  return JsonResponse(200, AliasJson(call.scope, a));
}

HttpResponse UpdateAlias(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(std::string function, UnqualifiedFunctionName(call));
  ASSIGN_OR_ERROR(functions::AliasCommand cmd, ParseAlias(call, false));
  ASSIGN_OR_ERROR(functions::Alias a, ctx.functions->UpdateAlias(call.scope, function, cmd));
  return JsonResponse(200, AliasJson(call.scope, a));
}

HttpResponse DeleteAlias(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(std::string function, UnqualifiedFunctionName(call));
  RETURN_ERROR_IF(ValidateAliasLabel(call));
  return StatusResponse(ctx.functions->DeleteAlias(call.scope, function, call.Label("Name")));
}

HttpResponse ListAliases(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(std::string function, UnqualifiedFunctionName(call));
  Validator v;
  auto version = call.request.Query("FunctionVersion");
  if (version) v.String("functionVersion", *version, shapes::kAliasFunctionVersion);
  ASSIGN_OR_ERROR(int max_items, MaxItemsOf(call, v));
  RETURN_ERROR_IF(v.ToStatus());
  ASSIGN_OR_ERROR(auto page,
                  ctx.functions->ListAliases(call.scope, function, version,
                                             call.request.Query("Marker").value_or(""), max_items));
  json items = json::array();
  for (const auto& a : page.items) items.push_back(AliasJson(call.scope, a));
  json body = {{"Aliases", items}};
  if (!page.next_marker.empty()) body["NextMarker"] = page.next_marker;
  return JsonResponse(200, body);
}

}  // namespace ops

}  // namespace lambkin::lambdaapi
