// The asynchronous invocation configuration resource:
// /2019-09-25/functions/{FunctionName}/event-invoke-config?Qualifier= (Put, Update, Get,
// Delete) and .../event-invoke-config/list. Errors and their texts are AWS's recorded ones
// (TestLambdaEventInvokeConfig); destinations are Lambda functions of the caller's account and
// region, other services' ARNs are refused (Lambkin has none of them).
#include <fmt/format.h>

#include "exec/event_invoke_config.h"
#include "lambdaapi/api.h"
#include "lambdaapi/names.h"
#include "lambdaapi/serialize.h"
#include "lambdaapi/validation.h"

namespace lambkin::lambdaapi {

using nlohmann::json;
using server::HttpResponse;

namespace {

constexpr int kMaxListItems = 50;  // MaxFunctionEventInvokeConfigListItems

Status FunctionDoesNotExist() { return NotFound("The function doesn't exist."); }

Status NoConfig(const Call& call, const FunctionRef& ref) {
  return NotFound(fmt::format(
      "The function {} doesn't have an EventInvokeConfig",
      functions::FunctionArn(call.scope, ref.name, exec::ConfigQualifier(ref.qualifier))));
}

int64_t NowMillis(const ApiContext& ctx) {
  if (ctx.wall_clock != nullptr) return ctx.wall_clock->NowMillis();
  return SystemClock().NowMillis();
}

// The members of a Put or Update body. A destination member (OnSuccess, OnFailure) that is
// given holds its Destination, "" when it names none.
struct EventConfigMembers {
  std::optional<int64_t> retries;
  std::optional<int64_t> max_age;
  bool destination_config = false;
  std::optional<std::string> on_success;
  std::optional<std::string> on_failure;
};

// OnSuccess / OnFailure of DestinationConfig.
Result<std::optional<std::string>> DestinationMember(const json& config, const char* member,
                                                     std::string_view path, Validator& v) {
  auto it = config.find(member);
  if (it == config.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_object())
    return BadContent(fmt::format("DestinationConfig.{} must be an object", member));
  auto dest = it->find("Destination");
  if (dest == it->end() || dest->is_null()) return std::optional<std::string>("");
  if (!dest->is_string())
    return BadContent(fmt::format("DestinationConfig.{}.Destination must be a string", member));
  std::string arn = dest->get<std::string>();
  v.String(path, arn, shapes::kDestinationArn);
  return std::optional<std::string>(std::move(arn));
}

Result<EventConfigMembers> ParseMembers(const Call& call) {
  LAMBKIN_ASSIGN_OR_RETURN(const Body& body, call.JsonBody());
  EventConfigMembers m;
  Validator v;
  LAMBKIN_ASSIGN_OR_RETURN(m.retries, body.Int("MaximumRetryAttempts"));
  if (m.retries) v.Range("maximumRetryAttempts", *m.retries, 0, 2);
  LAMBKIN_ASSIGN_OR_RETURN(m.max_age, body.Int("MaximumEventAgeInSeconds"));
  if (m.max_age) v.Range("maximumEventAgeInSeconds", *m.max_age, 60, 21600);
  LAMBKIN_ASSIGN_OR_RETURN(const json* config, body.Object("DestinationConfig"));
  if (config != nullptr) {
    m.destination_config = true;
    LAMBKIN_ASSIGN_OR_RETURN(
        m.on_success,
        DestinationMember(*config, "OnSuccess", "destinationConfig.onSuccess.destination", v));
    LAMBKIN_ASSIGN_OR_RETURN(
        m.on_failure,
        DestinationMember(*config, "OnFailure", "destinationConfig.onFailure.destination", v));
  }
  LAMBKIN_RETURN_IF_ERROR(v.ToStatus());
  if (!m.retries && !m.max_age && !m.destination_config) {
    return InvalidParameter(
        "You must specify at least one of error handling or destination setting.");
  }
  return m;
}

// AWS's rendering of the request's DestinationConfig in its "is invalid" message.
std::string DescribeDestinations(const EventConfigMembers& m) {
  auto member = [](std::string_view type, const std::optional<std::string>& arn) -> std::string {
    if (!arn) return "null";
    return fmt::format("{}(destination={})", type, arn->empty() ? "null" : *arn);
  };
  return fmt::format("DestinationConfig(onSuccess={}, onFailure={})",
                     member("OnSuccess", m.on_success), member("OnFailure", m.on_failure));
}

// A destination must be another existing function of the caller's account and region. ARNs of
// the services AWS also delivers to are refused by name: Lambkin runs none of them.
Status CheckDestination(const ApiContext& ctx, const Call& call, const std::string& function,
                        const EventConfigMembers& m, std::string_view member,
                        const std::string& arn) {
  if (arn.empty()) return Status::Ok();
  std::string_view service;
  if (arn.starts_with("arn:")) {
    std::string_view rest = std::string_view(arn).substr(arn.find(':', 4) + 1);
    service = rest.substr(0, rest.find(':'));
  }
  if (service == "sqs" || service == "sns" || service == "events" || service == "s3") {
    return InvalidParameter(fmt::format(
        "The destination ARN {} in DestinationConfig.{}.Destination is not supported: Lambkin "
        "delivers invocation records only to Lambda functions.",
        arn, member));
  }
  if (service != "lambda") {
    return InvalidParameter(
        fmt::format("The provided destination config {} is invalid.", DescribeDestinations(m)));
  }
  Status invalid = InvalidParameter(fmt::format("The destination ARN {} is invalid.", arn));
  std::optional<exec::FunctionDestination> target = exec::ParseFunctionDestination(arn);
  if (!target || target->scope.account != call.scope.account ||
      target->scope.region != call.scope.region ||
      functions::FunctionArn(target->scope, target->function, target->qualifier) != arn) {
    return invalid;
  }
  if (target->function == function) {
    return InvalidParameter("You can't specify the function as a destination for itself.");
  }
  Result<functions::FunctionVersion> exists =
      ctx.functions->GetFunctionVersion(call.scope, target->function, target->qualifier);
  if (!exists.ok()) {
    return exists.status().code() == StatusCode::kResourceNotFound ? invalid : exists.status();
  }
  return Status::Ok();
}

// The function (and the version or alias) a Put or Update names exists, and so do its
// destinations.
Status CheckTargets(const ApiContext& ctx, const Call& call, const FunctionRef& ref,
                    const EventConfigMembers& m) {
  Result<functions::FunctionVersion> version =
      ctx.functions->GetFunctionVersion(call.scope, ref.name, ref.qualifier);
  if (!version.ok()) {
    return version.status().code() == StatusCode::kResourceNotFound ? FunctionDoesNotExist()
                                                                    : version.status();
  }
  if (m.on_success) {
    LAMBKIN_RETURN_IF_ERROR(CheckDestination(ctx, call, ref.name, m, "OnSuccess", *m.on_success));
  }
  if (m.on_failure) {
    LAMBKIN_RETURN_IF_ERROR(CheckDestination(ctx, call, ref.name, m, "OnFailure", *m.on_failure));
  }
  return Status::Ok();
}

json ConfigJson(const Call& call, const std::string& function, const exec::EventInvokeConfig& c) {
  auto destination = [](const std::optional<std::string>& arn) {
    json d = json::object();
    if (arn) d["Destination"] = *arn;
    return d;
  };
  // LastModified is a timestamp member: epoch seconds in rest-json.
  json body = {
      {"LastModified", static_cast<double>(c.last_modified_ms) / 1000.0},
      {"FunctionArn", functions::FunctionArn(call.scope, function, c.qualifier)},
      {"DestinationConfig",
       {{"OnSuccess", destination(c.on_success)}, {"OnFailure", destination(c.on_failure)}}},
  };
  if (c.maximum_retry_attempts) body["MaximumRetryAttempts"] = *c.maximum_retry_attempts;
  if (c.maximum_event_age_seconds) {
    body["MaximumEventAgeInSeconds"] = *c.maximum_event_age_seconds;
  }
  return body;
}

Result<FunctionRef> QualifiedRef(const Call& call) {
  return call.ResolveFunction(call.Label("FunctionName"), shapes::kNamespacedFunctionName,
                              call.request.Query("Qualifier"));
}

Status Unconfigured(const ApiContext& ctx) {
  if (ctx.event_invoke_configs != nullptr) return Status::Ok();
  return {StatusCode::kNotImplemented, "This server does not run functions"};
}

}  // namespace

namespace ops {

HttpResponse PutFunctionEventInvokeConfig(const ApiContext& ctx, const Call& call) {
  RETURN_ERROR_IF(Unconfigured(ctx));
  ASSIGN_OR_ERROR(FunctionRef ref, QualifiedRef(call));
  ASSIGN_OR_ERROR(EventConfigMembers m, ParseMembers(call));
  RETURN_ERROR_IF(CheckTargets(ctx, call, ref, m));
  exec::EventInvokeConfig config{exec::ConfigQualifier(ref.qualifier),
                                 m.retries,
                                 m.max_age,
                                 m.on_success,
                                 m.on_failure,
                                 NowMillis(ctx)};
  if (config.on_success && config.on_success->empty()) config.on_success.reset();
  if (config.on_failure && config.on_failure->empty()) config.on_failure.reset();
  RETURN_ERROR_IF(ctx.event_invoke_configs->Put(call.scope, ref.name, config));
  return JsonResponse(200, ConfigJson(call, ref.name, config));
}

HttpResponse UpdateFunctionEventInvokeConfig(const ApiContext& ctx, const Call& call) {
  RETURN_ERROR_IF(Unconfigured(ctx));
  ASSIGN_OR_ERROR(FunctionRef ref, QualifiedRef(call));
  ASSIGN_OR_ERROR(EventConfigMembers m, ParseMembers(call));
  RETURN_ERROR_IF(CheckTargets(ctx, call, ref, m));
  exec::EventInvokeConfigUpdate update{m.retries, m.max_age, m.on_success, m.on_failure};
  ASSIGN_OR_ERROR(auto config, ctx.event_invoke_configs->Update(
                                   call.scope, ref.name, exec::ConfigQualifier(ref.qualifier),
                                   update, NowMillis(ctx)));
  if (!config) return ErrorResponse(NoConfig(call, ref));
  return JsonResponse(200, ConfigJson(call, ref.name, *config));
}

HttpResponse GetFunctionEventInvokeConfig(const ApiContext& ctx, const Call& call) {
  RETURN_ERROR_IF(Unconfigured(ctx));
  ASSIGN_OR_ERROR(FunctionRef ref, QualifiedRef(call));
  ASSIGN_OR_ERROR(auto config, ctx.event_invoke_configs->Get(call.scope, ref.name,
                                                             exec::ConfigQualifier(ref.qualifier)));
  if (!config) return ErrorResponse(NoConfig(call, ref));
  return JsonResponse(200, ConfigJson(call, ref.name, *config));
}

HttpResponse DeleteFunctionEventInvokeConfig(const ApiContext& ctx, const Call& call) {
  RETURN_ERROR_IF(Unconfigured(ctx));
  ASSIGN_OR_ERROR(FunctionRef ref, QualifiedRef(call));
  ASSIGN_OR_ERROR(bool deleted, ctx.event_invoke_configs->Delete(
                                    call.scope, ref.name, exec::ConfigQualifier(ref.qualifier)));
  if (!deleted) return ErrorResponse(NoConfig(call, ref));
  HttpResponse r;
  r.status = 204;
  return r;
}

HttpResponse ListFunctionEventInvokeConfigs(const ApiContext& ctx, const Call& call) {
  RETURN_ERROR_IF(Unconfigured(ctx));
  ASSIGN_OR_ERROR(FunctionRef ref,
                  call.ResolveFunction(call.Label("FunctionName"), shapes::kNamespacedFunctionName,
                                       std::nullopt));
  Validator v;
  ASSIGN_OR_ERROR(int max_items, MaxItemsOf(call, v, kMaxListItems));
  RETURN_ERROR_IF(v.ToStatus());
  Result<functions::Function> function = ctx.functions->GetFunction(call.scope, ref.name);
  if (!function.ok()) {
    return ErrorResponse(function.status().code() == StatusCode::kResourceNotFound
                             ? FunctionDoesNotExist()
                             : function.status());
  }
  // One more than the page: whether there is a next one.
  ASSIGN_OR_ERROR(auto configs, ctx.event_invoke_configs->List(
                                    call.scope, ref.name, call.request.Query("Marker").value_or(""),
                                    max_items + 1));
  json items = json::array();
  for (size_t i = 0; i < configs.size() && i < static_cast<size_t>(max_items); ++i) {
    items.push_back(ConfigJson(call, ref.name, configs[i]));
  }
  json body = {{"FunctionEventInvokeConfigs", items}};
  if (configs.size() > static_cast<size_t>(max_items)) {
    body["NextMarker"] = configs[static_cast<size_t>(max_items) - 1].qualifier;
  }
  return JsonResponse(200, body);
}

}  // namespace ops

}  // namespace lambkin::lambdaapi
