// The function URL configuration resource: /2021-10-31/functions/{FunctionName}/url
// (Create/Get/Update/DeleteFunctionUrlConfig) and .../urls (ListFunctionUrlConfigs). A URL is
// for the function itself or an alias, never a version ($LATEST or a number fails the model's
// qualifier pattern, as on AWS). Serving the URLs is url_invoke.cc's.
#include <fmt/format.h>

#include "functions/function_urls.h"
#include "lambdaapi/api.h"
#include "lambdaapi/names.h"
#include "lambdaapi/serialize.h"
#include "lambdaapi/validation.h"

namespace lambkin::lambdaapi {

using nlohmann::json;
using nlohmann::ordered_json;
using server::HttpResponse;

namespace {

// The function (and alias) a URL call names; the ?Qualifier= checked against the URL
// qualifier's pattern first, as AWS does.
Result<FunctionRef> UrlTarget(const Call& call) {
  std::optional<std::string> qualifier = call.request.Query("Qualifier");
  if (qualifier) {
    Validator v;
    v.String("qualifier", *qualifier, shapes::kFunctionUrlQualifier);
    LAMBKIN_RETURN_IF_ERROR(v.ToStatus());
  }
  return call.ResolveFunction(call.Label("FunctionName"), shapes::kFunctionUrlFunctionName,
                              qualifier);
}

// "2024-01-31T12:00:00.123000Z": ISO-8601 with microseconds, as AWS writes a URL's times.
std::string UrlTimestamp(int64_t millis) {
  std::string aws = FormatAwsTimestamp(millis);  // 2024-01-31T12:00:00.123+0000
  return aws.substr(0, aws.size() - 5) + "000Z";
}

// The Cors object of a request, checked against the model, as the JSON text stored.
Result<std::optional<std::string>> ParseCors(const Body& body, Validator& v) {
  LAMBKIN_ASSIGN_OR_RETURN(const json* cors, body.Object("Cors"));
  if (cors == nullptr) return std::optional<std::string>();
  ordered_json out = ordered_json::object();
  auto strings = [&](const char* member, const char* path, size_t max_items,
                     size_t max_length) -> Status {
    auto it = cors->find(member);
    if (it == cors->end() || it->is_null()) return Status::Ok();
    if (!it->is_array()) return BadContent(fmt::format("member {} must be a list", member));
    if (it->size() > max_items) {
      v.Fail(it->dump(), path,
             fmt::format("Member must have length less than or equal to {}", max_items));
    }
    for (const json& s : *it) {
      if (!s.is_string()) return BadContent(fmt::format("member {} must hold strings", member));
      if (s.get_ref<const std::string&>().size() > max_length) {
        v.Fail(s.get<std::string>(), path,
               fmt::format("Member must have length less than or equal to {}", max_length));
      }
    }
    out[member] = *it;
    return Status::Ok();
  };
  if (auto it = cors->find("AllowCredentials"); it != cors->end() && !it->is_null()) {
    if (!it->is_boolean()) return BadContent("member AllowCredentials must be a boolean");
    out["AllowCredentials"] = it->get<bool>();
  }
  LAMBKIN_RETURN_IF_ERROR(strings("AllowHeaders", "cors.allowHeaders", 100, 1024));
  LAMBKIN_RETURN_IF_ERROR(strings("AllowMethods", "cors.allowMethods", 6, 6));
  LAMBKIN_RETURN_IF_ERROR(strings("AllowOrigins", "cors.allowOrigins", 100, 253));
  LAMBKIN_RETURN_IF_ERROR(strings("ExposeHeaders", "cors.exposeHeaders", 100, 1024));
  if (auto it = cors->find("MaxAge"); it != cors->end() && !it->is_null()) {
    if (!it->is_number_integer()) return BadContent("member MaxAge must be an integer");
    v.Range("cors.maxAge", it->get<int64_t>(), 0, 86400);
    out["MaxAge"] = it->get<int64_t>();
  }
  for (const auto& [k, val] : cors->items()) {
    if (!out.contains(k) && !val.is_null()) {
      return BadContent(fmt::format("Unknown member Cors.{}", k));
    }
  }
  return std::optional<std::string>(out.dump());
}

// AuthType and InvokeMode of a body; RESPONSE_STREAM is refused (Lambkin buffers).
Status ParseModes(const Body& body, Validator& v, std::optional<std::string>& auth_type,
                  std::optional<std::string>& invoke_mode) {
  LAMBKIN_ASSIGN_OR_RETURN(auth_type, body.String("AuthType"));
  LAMBKIN_ASSIGN_OR_RETURN(invoke_mode, body.String("InvokeMode"));
  if (auth_type) v.Enum("authType", *auth_type, {"NONE", "AWS_IAM"});
  if (invoke_mode) v.Enum("invokeMode", *invoke_mode, {"BUFFERED", "RESPONSE_STREAM"});
  return Status::Ok();
}

Status RefuseStreaming(const std::optional<std::string>& invoke_mode) {
  if (invoke_mode == "RESPONSE_STREAM") {
    return InvalidParameter(
        "InvokeMode RESPONSE_STREAM is not supported by Lambkin: function URLs answer BUFFERED.");
  }
  return Status::Ok();
}

// The members a URL configuration is answered with, in AWS's order. `with` picks the optional
// ones: Create answers no LastModifiedTime, Update and Create InvokeMode only when sent.
enum UrlMembers { kLastModified = 1, kInvokeMode = 2 };
json UrlConfigJson(const ApiContext& ctx, const functions::FunctionUrlConfig& c, int with) {
  json j = {{"FunctionUrl", FunctionUrlOf(ctx, c)},
            {"FunctionArn", functions::FunctionArn(c.scope, c.function_name, c.qualifier)},
            {"AuthType", c.auth_type},
            {"CreationTime", UrlTimestamp(c.creation_time)}};
  if (!c.cors.empty()) j["Cors"] = json::parse(c.cors);
  if ((with & kLastModified) != 0) j["LastModifiedTime"] = UrlTimestamp(c.last_modified);
  if ((with & kInvokeMode) != 0) j["InvokeMode"] = c.invoke_mode;
  return j;
}

}  // namespace

std::string FunctionUrlOf(const ApiContext& ctx, const functions::FunctionUrlConfig& c) {
  const FunctionUrlSettings& s =
      ctx.url_settings != nullptr ? *ctx.url_settings : FunctionUrlSettings{};
  std::string port = s.port != 0 ? fmt::format(":{}", s.port) : "";
  return fmt::format("http://{}.lambda-url.{}.{}{}/", c.url_id, c.scope.region, s.domain, port);
}

namespace ops {

HttpResponse CreateFunctionUrlConfig(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(FunctionRef ref, UrlTarget(call));
  ASSIGN_OR_ERROR(const Body& body, call.JsonBody());
  Validator v;
  std::optional<std::string> auth_type;
  std::optional<std::string> invoke_mode;
  RETURN_ERROR_IF(ParseModes(body, v, auth_type, invoke_mode));
  if (!auth_type) v.NotNull("authType");
  ASSIGN_OR_ERROR(auto cors, ParseCors(body, v));
  RETURN_ERROR_IF(v.ToStatus());
  RETURN_ERROR_IF(RefuseStreaming(invoke_mode));
  functions::FunctionUrlConfig config;
  config.scope = call.scope;
  config.function_name = ref.name;
  config.qualifier = ref.qualifier;
  config.auth_type = *auth_type;
  config.cors = cors.value_or("");
  config.invoke_mode = invoke_mode.value_or("BUFFERED");
  ASSIGN_OR_ERROR(functions::FunctionUrlConfig created, ctx.urls->Create(std::move(config)));
  return JsonResponse(201, UrlConfigJson(ctx, created, invoke_mode ? kInvokeMode : 0));
}

HttpResponse GetFunctionUrlConfig(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(FunctionRef ref, UrlTarget(call));
  ASSIGN_OR_ERROR(functions::FunctionUrlConfig c,
                  ctx.urls->Get(call.scope, ref.name, ref.qualifier));
  return JsonResponse(200, UrlConfigJson(ctx, c, kLastModified | kInvokeMode));
}

HttpResponse UpdateFunctionUrlConfig(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(FunctionRef ref, UrlTarget(call));
  ASSIGN_OR_ERROR(const Body& body, call.JsonBody());
  Validator v;
  functions::FunctionUrlUpdate update;
  RETURN_ERROR_IF(ParseModes(body, v, update.auth_type, update.invoke_mode));
  ASSIGN_OR_ERROR(update.cors, ParseCors(body, v));
  RETURN_ERROR_IF(v.ToStatus());
  RETURN_ERROR_IF(RefuseStreaming(update.invoke_mode));
  ASSIGN_OR_ERROR(functions::FunctionUrlConfig c,
                  ctx.urls->Update(call.scope, ref.name, ref.qualifier, update));
  return JsonResponse(
      200, UrlConfigJson(ctx, c, kLastModified | (update.invoke_mode ? kInvokeMode : 0)));
}

HttpResponse DeleteFunctionUrlConfig(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(FunctionRef ref, UrlTarget(call));
  RETURN_ERROR_IF(ctx.urls->Delete(call.scope, ref.name, ref.qualifier));
  HttpResponse r;
  r.status = 204;
  return r;
}

HttpResponse ListFunctionUrlConfigs(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(FunctionRef ref,
                  call.ResolveFunction(call.Label("FunctionName"), shapes::kFunctionUrlFunctionName,
                                       std::nullopt));
  Validator v;
  ASSIGN_OR_ERROR(int max_items, MaxItemsOf(call, v));
  RETURN_ERROR_IF(v.ToStatus());
  ASSIGN_OR_ERROR(auto page, ctx.urls->List(call.scope, ref.name,
                                            call.request.Query("Marker").value_or(""), max_items));
  json items = json::array();
  for (const auto& c : page.first)
    items.push_back(UrlConfigJson(ctx, c, kLastModified | kInvokeMode));
  json body = {{"FunctionUrlConfigs", items}};
  if (!page.second.empty()) body["NextMarker"] = page.second;
  return JsonResponse(200, body);
}

}  // namespace ops

}  // namespace lambkin::lambdaapi
