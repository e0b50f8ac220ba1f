// The function policy resource: /2015-03-31/functions/{FunctionName}/policy (AddPermission,
// GetPolicy) and .../policy/{StatementId} (RemovePermission). The statement AddPermission
// answers and stores is written member for member as AWS writes it (the recorded answers in
// docs/behaviour.md).
#include <fmt/format.h>

#include "catalog/regions.h"
#include "functions/function_policies.h"
#include "lambdaapi/api.h"
#include "lambdaapi/names.h"
#include "lambdaapi/serialize.h"
#include "lambdaapi/validation.h"

namespace lambkin::lambdaapi {

using nlohmann::json;
using nlohmann::ordered_json;
using server::HttpResponse;

namespace {

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A service principal: a host name under amazonaws.com (or amazon.com, as Alexa's is).
bool IsServicePrincipal(std::string_view p) {
  bool host = !p.empty() && std::all_of(p.begin(), p.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
  });
  return host && (p.ends_with(".amazonaws.com") || p.ends_with(".amazon.com"));
}

// The Principal element AWS writes for AddPermission's Principal.
Result<ordered_json> PrincipalElement(const functions::Scope& scope, const std::string& p) {
  if (p == "*") return ordered_json("*");
  if (AllDigits(p) && p.size() == 12) {
    return ordered_json{
        {"AWS", fmt::format("arn:{}:iam::{}:root", catalog::PartitionOf(scope.region), p)}};
  }
  if (p.starts_with("arn:") &&
      (p.find(":iam::") != std::string::npos || p.find(":sts::") != std::string::npos)) {
    return ordered_json{{"AWS", p}};
  }
  if (IsServicePrincipal(p)) return ordered_json{{"Service", p}};
  return InvalidParameter(
      "The provided principal was invalid. Please check the principal and try again.");
}

}  // namespace

namespace ops {

HttpResponse AddPermission(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(const Body& body, call.JsonBody());
  ASSIGN_OR_ERROR(auto sid, body.String("StatementId"));
  ASSIGN_OR_ERROR(auto action, body.String("Action"));
  ASSIGN_OR_ERROR(auto principal, body.String("Principal"));
  ASSIGN_OR_ERROR(auto source_arn, body.String("SourceArn"));
  ASSIGN_OR_ERROR(auto source_account, body.String("SourceAccount"));
  ASSIGN_OR_ERROR(auto event_source_token, body.String("EventSourceToken"));
  ASSIGN_OR_ERROR(auto org_id, body.String("PrincipalOrgID"));
  ASSIGN_OR_ERROR(auto url_auth_type, body.String("FunctionUrlAuthType"));
  ASSIGN_OR_ERROR(auto via_url, body.Bool("InvokedViaFunctionUrl"));
  ASSIGN_OR_ERROR(auto revision_id, body.String("RevisionId"));
  Validator v;
  if (sid) v.String("statementId", *sid, shapes::kStatementId);
  if (action) v.String("action", *action, shapes::kAction);
  if (principal) v.String("principal", *principal, shapes::kPrincipal);
  if (source_arn) v.String("sourceArn", *source_arn, shapes::kSourceArn);
  if (source_account) v.String("sourceAccount", *source_account, shapes::kSourceOwner);
  if (event_source_token)
    v.String("eventSourceToken", *event_source_token, shapes::kEventSourceToken);
  if (org_id) v.String("principalOrgID", *org_id, shapes::kPrincipalOrgId);
  if (url_auth_type) v.Enum("functionUrlAuthType", *url_auth_type, {"NONE", "AWS_IAM"});
  if (!sid) v.NotNull("statementId");
  if (!action) v.NotNull("action");
  if (!principal) v.NotNull("principal");
  RETURN_ERROR_IF(v.ToStatus());
  ASSIGN_OR_ERROR(FunctionRef ref,
                  call.ResolveFunction(call.Label("FunctionName"), shapes::kNamespacedFunctionName,
                                       call.request.Query("Qualifier")));
  ASSIGN_OR_ERROR(ordered_json principal_element, PrincipalElement(call.scope, *principal));

  ordered_json statement = {
      {"Sid", *sid},
      {"Effect", "Allow"},
      {"Principal", principal_element},
      {"Action", *action},
      {"Resource", functions::FunctionArn(call.scope, ref.name, ref.qualifier)},
  };
  ordered_json string_equals = ordered_json::object();
  if (source_account) string_equals["AWS:SourceAccount"] = *source_account;
  if (event_source_token) string_equals["lambda:EventSourceToken"] = *event_source_token;
  if (url_auth_type) string_equals["lambda:FunctionUrlAuthType"] = *url_auth_type;
  if (org_id) string_equals["aws:PrincipalOrgID"] = *org_id;
  ordered_json condition = ordered_json::object();
  if (!string_equals.empty()) condition["StringEquals"] = string_equals;
  if (source_arn) condition["ArnLike"] = {{"AWS:SourceArn", *source_arn}};
  if (via_url) {
    condition["Bool"] = {{"lambda:InvokedViaFunctionUrl", *via_url ? "true" : "false"}};
  }
  if (!condition.empty()) statement["Condition"] = condition;
  std::string text = statement.dump();
  RETURN_ERROR_IF(ctx.policies->Add(call.scope, ref.name, ref.qualifier, *sid, text, revision_id));
  return JsonResponse(201, {{"Statement", text}});
}

HttpResponse RemovePermission(const ApiContext& ctx, const Call& call) {
  const std::string& sid = call.Label("StatementId");
  Validator v;
  v.String("statementId", sid, shapes::kNamespacedStatementId);
  RETURN_ERROR_IF(v.ToStatus());
  ASSIGN_OR_ERROR(FunctionRef ref,
                  call.ResolveFunction(call.Label("FunctionName"), shapes::kNamespacedFunctionName,
                                       call.request.Query("Qualifier")));
  RETURN_ERROR_IF(ctx.policies->Remove(call.scope, ref.name, ref.qualifier, sid,
                                       call.request.Query("RevisionId")));
  HttpResponse r;
  r.status = 204;
  return r;
}

HttpResponse GetPolicy(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(FunctionRef ref,
                  call.ResolveFunction(call.Label("FunctionName"), shapes::kNamespacedFunctionName,
                                       call.request.Query("Qualifier")));
  ASSIGN_OR_ERROR(functions::FunctionPolicy policy,
                  ctx.policies->Get(call.scope, ref.name, ref.qualifier));
  return JsonResponse(200, {{"Policy", policy.document}, {"RevisionId", policy.revision_id}});
}

}  // namespace ops

}  // namespace lambkin::lambdaapi
