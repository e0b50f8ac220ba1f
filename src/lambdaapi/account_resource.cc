// The account and the tooling calls around a function:
// /2016-08-19/account-settings and /2020-06-30/functions/{FunctionName}/code-signing-config.
#include "lambdaapi/api.h"
#include "lambdaapi/names.h"
#include "lambdaapi/serialize.h"
#include "lambdaapi/validation.h"

namespace lambkin::lambdaapi {

using nlohmann::json;
using server::HttpResponse;

namespace {

// Whether the function a code-signing-config call names exists (an unqualified "Function not
// found" otherwise, as AWS answers).
Status CheckFunctionExists(const ApiContext& ctx, const Call& call) {
  LAMBKIN_ASSIGN_OR_RETURN(FunctionRef ref,
                           call.ResolveFunction(call.Label("FunctionName"),
                                                shapes::kNamespacedFunctionName, std::nullopt));
  return ctx.functions->GetFunction(call.scope, ref.name).status();
}

}  // namespace

namespace ops {

HttpResponse GetAccountSettings(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(functions::AccountUsage usage, ctx.functions->GetAccountUsage(call.scope));
  const functions::AccountLimits& limits = ctx.functions->account_limits();
  json body = {
      {"AccountLimit",
       {{"TotalCodeSize", limits.total_code_size},
        {"CodeSizeUnzipped", limits.code_size_unzipped},
        {"CodeSizeZipped", limits.code_size_zipped},
        {"ConcurrentExecutions", limits.concurrent_executions},
        {"UnreservedConcurrentExecutions",
         limits.concurrent_executions - usage.reserved_concurrency}}},
      {"AccountUsage",
       {{"TotalCodeSize", usage.total_code_size}, {"FunctionCount", usage.function_count}}}};
  return JsonResponse(200, body);
}

// Lambkin has no code signing configurations, so no function has one: AWS then answers 200
// with neither member.
HttpResponse GetFunctionCodeSigningConfig(const ApiContext& ctx, const Call& call) {
  RETURN_ERROR_IF(CheckFunctionExists(ctx, call));
  return JsonResponse(200, json::object());
}

// Nothing to detach: 204 for an existing function, as AWS answers one without a config.
HttpResponse DeleteFunctionCodeSigningConfig(const ApiContext& ctx, const Call& call) {
  RETURN_ERROR_IF(CheckFunctionExists(ctx, call));
  return StatusResponse(Status::Ok());
}

}  // namespace ops

}  // namespace lambkin::lambdaapi
