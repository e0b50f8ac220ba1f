// The runtime management config resource:
// /2021-07-20/functions/{FunctionName}/runtime-management-config?Qualifier=
#include "lambdaapi/api.h"
#include "lambdaapi/names.h"
#include "lambdaapi/serialize.h"
#include "lambdaapi/validation.h"

namespace lambkin::lambdaapi {

using nlohmann::json;
using server::HttpResponse;

namespace {

HttpResponse ConfigResponse(const Call& call, const FunctionRef& ref,
                            const functions::RuntimeManagementConfig& cfg) {
  // $LATEST (or no qualifier) answers with the unqualified ARN, a version with its own.
  std::string arn_qualifier =
      ref.qualifier.empty() || ref.qualifier == functions::kLatest ? "" : ref.qualifier;
  json body = {{"UpdateRuntimeOn", functions::UpdateModeName(cfg.update_mode)},
               {"FunctionArn", functions::FunctionArn(call.scope, ref.name, arn_qualifier)}};
  if (cfg.runtime_version_arn) body["RuntimeVersionArn"] = *cfg.runtime_version_arn;
  return JsonResponse(200, body);
}

}  // namespace

namespace ops {

HttpResponse GetRuntimeManagementConfig(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(FunctionRef ref,
                  call.ResolveFunction(call.Label("FunctionName"), shapes::kNamespacedFunctionName,
                                       call.request.Query("Qualifier")));
  ASSIGN_OR_ERROR(auto cfg,
                  ctx.functions->GetRuntimeManagementConfig(call.scope, ref.name, ref.qualifier));
  return ConfigResponse(call, ref, cfg);
}

HttpResponse PutRuntimeManagementConfig(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(FunctionRef ref,
                  call.ResolveFunction(call.Label("FunctionName"), shapes::kNamespacedFunctionName,
                                       call.request.Query("Qualifier")));
  ASSIGN_OR_ERROR(const Body& body, call.JsonBody());
  ASSIGN_OR_ERROR(auto mode, body.String("UpdateRuntimeOn"));
  ASSIGN_OR_ERROR(auto arn, body.String("RuntimeVersionArn"));
  Validator v;
  if (!mode) {
    v.NotNull("updateRuntimeOn");
  } else {
    v.Enum("updateRuntimeOn", *mode, {"Auto", "Manual", "FunctionUpdate"});
  }
  if (arn) v.String("runtimeVersionArn", *arn, shapes::kRuntimeVersionArn);
  RETURN_ERROR_IF(v.ToStatus());
  functions::RuntimeManagementConfig cfg{*functions::ParseUpdateMode(*mode), arn};
  ASSIGN_OR_ERROR(auto result, ctx.functions->PutRuntimeManagementConfig(call.scope, ref.name,
                                                                         ref.qualifier, cfg));
  return ConfigResponse(call, ref, result);
}

}  // namespace ops

}  // namespace lambkin::lambdaapi
