#include "lambdaapi/serialize.h"

#include <fmt/format.h>

#include "common/crypto.h"
#include "lambdaapi/errors.h"

namespace lambkin::lambdaapi {

using nlohmann::json;

nlohmann::json FunctionConfigurationJson(const ApiContext& ctx, const functions::Scope& scope,
                                         const functions::FunctionVersion& v,
                                         std::string_view arn_qualifier, ConfigView view) {
  const functions::FunctionConfig& c = v.config;
  json j = json::object();
  j["Architectures"] = json::array({catalog::ArchitectureName(c.architecture)});
  j["CodeSha256"] = c.code_sha256;
  j["CodeSize"] = c.code_size;
  j["Description"] = c.description;
  if (c.environment) j["Environment"] = {{"Variables", *c.environment}};
  j["EphemeralStorage"] = {{"Size", c.ephemeral_storage}};
  j["FunctionArn"] = functions::FunctionArn(scope, v.function_name, arn_qualifier);
  j["FunctionName"] = v.function_name;
  const bool image = c.package_type == functions::PackageType::kImage;
  if (!image) j["Handler"] = c.handler;
  if (image && c.image_config && view != ConfigView::kListItem) {
    json ic = json::object();
    if (c.image_config->command) ic["Command"] = *c.image_config->command;
    if (c.image_config->entry_point) ic["EntryPoint"] = *c.image_config->entry_point;
    if (c.image_config->working_directory) {
      ic["WorkingDirectory"] = *c.image_config->working_directory;
    }
    j["ImageConfigResponse"] = {{"ImageConfig", std::move(ic)}};
  }
  j["LastModified"] = FormatAwsTimestamp(v.last_modified);
  if (view == ConfigView::kUpdated) {
    j["LastUpdateStatus"] = "InProgress";
    j["LastUpdateStatusReason"] = "The function is being created.";
    j["LastUpdateStatusReasonCode"] = "Creating";
  } else if (view == ConfigView::kCurrent) {
    j["LastUpdateStatus"] = "Successful";
  }
  if (!c.layers.empty()) {
    json layers = json::array();
    for (const functions::FunctionLayer& l : c.layers) {
      layers.push_back({{"Arn", l.arn}, {"CodeSize", l.code_size}});
    }
    j["Layers"] = std::move(layers);
  }
  j["LoggingConfig"] = {{"LogFormat", c.logging.Json() ? "JSON" : "Text"},
                        {"LogGroup", functions::LogGroupName(c, v.function_name)}};
  if (c.logging.Json()) {
    j["LoggingConfig"]["ApplicationLogLevel"] = c.logging.application_level;
    j["LoggingConfig"]["SystemLogLevel"] = c.logging.system_level;
  }
  j["MemorySize"] = c.memory_size;
  j["PackageType"] = functions::PackageTypeName(c.package_type);
  // A write's answer describes the version while the work is in progress. AWS issues a new
  // RevisionId when it finishes, so the answer's is never the one a later read shows; Lambkin
  // finishes before answering, so the answer's RevisionId is one no precondition will match.
  const bool in_progress = view == ConfigView::kCreated || view == ConfigView::kUpdated;
  j["RevisionId"] = in_progress ? RandomUuid() : v.revision_id;
  j["Role"] = c.role;
  if (!image) j["Runtime"] = c.runtime;
  if (!image && view != ConfigView::kListItem) {
    j["RuntimeVersionConfig"] = {{"RuntimeVersionArn", ctx.functions->RuntimeVersionArn(scope, v)}};
  }
  j["SnapStart"] = {{"ApplyOn", "None"}, {"OptimizationStatus", "Off"}};
  if (view == ConfigView::kCreated) {
    j["State"] = "Pending";
    j["StateReason"] = "The function is being created.";
    j["StateReasonCode"] = "Creating";
  } else if (view != ConfigView::kListItem) {
    j["State"] = "Active";
  }
  j["Timeout"] = c.timeout;
  j["TracingConfig"] = {{"Mode", c.tracing_mode}};
  j["Version"] = v.version;
  if (c.vpc_config) {
    j["VpcConfig"] = {{"Ipv6AllowedForDualStack", false},
                      {"SecurityGroupIds", json::array()},
                      {"SubnetIds", json::array()},
                      {"VpcId", ""}};
  }
  return j;
}

nlohmann::json AliasJson(const functions::Scope& scope, const functions::Alias& a) {
  json j = {{"AliasArn", functions::FunctionArn(scope, a.function_name, a.name)},
            {"Name", a.name},
            {"FunctionVersion", a.function_version},
            {"Description", a.description},
            {"RevisionId", a.revision_id}};
  if (a.routing) {
    j["RoutingConfig"] = {{"AdditionalVersionWeights", a.routing->additional_version_weights}};
  }
  return j;
}

server::HttpResponse JsonResponse(int status, const nlohmann::json& body) {
  server::HttpResponse r;
  r.status = status;
  r.SetHeader("Content-Type", "application/json");
  r.body = DumpJson(body);
  return r;
}

server::HttpResponse StatusResponse(const Status& status) {
  if (status.ok()) {
    server::HttpResponse r;
    r.status = 204;
    return r;
  }
  return ErrorResponse(status);
}

Status BadContent(std::string_view detail) {
  return {StatusCode::kInvalidRequestContent,
          fmt::format("Could not parse request body into json: {}", detail)};
}

Result<std::reference_wrapper<const Body>> Call::JsonBody() const {
  if (!parsed_body) parsed_body = Body::Parse(request.body);
  if (!parsed_body->ok()) return parsed_body->status();
  return std::cref(parsed_body->value());
}

Result<FunctionRef> Call::ResolveFunction(std::string_view raw, const StringShape& shape,
                                          const std::optional<std::string>& query_qualifier) const {
  if (!resolved || resolved->raw != raw || resolved->shape != &shape ||
      resolved->query_qualifier != query_qualifier) {
    resolved = Resolved{std::string(raw), &shape, query_qualifier,
                        lambdaapi::ResolveFunction(raw, shape, scope, query_qualifier)};
  }
  return resolved->ref;
}

Result<Body> Body::Parse(const std::string& text) {
  Body b;
  if (text.empty()) {
    b.json_ = json::object();
    return b;
  }
  b.json_ = json::parse(text, nullptr, false);
  if (b.json_.is_discarded()) return BadContent("Could not parse payload into json");
  if (!b.json_.is_object()) return BadContent("the payload is not a JSON object");
  return b;
}

namespace {

Status WrongType(const char* key, const char* expected) {
  return BadContent(fmt::format("member {} must be {}", key, expected));
}

}  // namespace

Result<std::optional<std::string>> Body::String(const char* key) const {
  if (!Has(key)) return std::optional<std::string>();
  if (!json_[key].is_string()) return WrongType(key, "a string");
  return std::optional<std::string>(json_[key].get<std::string>());
}

Result<std::optional<int64_t>> Body::Int(const char* key) const {
  if (!Has(key)) return std::optional<int64_t>();
  const json& v = json_[key];
  if (!v.is_number_integer()) return WrongType(key, "an integer");
  return std::optional<int64_t>(v.get<int64_t>());
}

Result<std::optional<bool>> Body::Bool(const char* key) const {
  if (!Has(key)) return std::optional<bool>();
  if (!json_[key].is_boolean()) return WrongType(key, "a boolean");
  return std::optional<bool>(json_[key].get<bool>());
}

Result<const nlohmann::json*> Body::Object(const char* key) const {
  if (!Has(key)) return static_cast<const json*>(nullptr);
  if (!json_[key].is_object()) return WrongType(key, "an object");
  return &json_[key];
}

Result<const nlohmann::json*> Body::Array(const char* key) const {
  if (!Has(key)) return static_cast<const json*>(nullptr);
  if (!json_[key].is_array()) return WrongType(key, "a list");
  return &json_[key];
}

}  // namespace lambkin::lambdaapi
