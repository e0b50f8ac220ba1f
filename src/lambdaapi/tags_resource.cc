// The tags resource: /2017-03-31/tags/{ARN} (TagResource, UntagResource, ListTags), and the
// tag validation CreateFunction shares.
#include <fmt/format.h>

#include "lambdaapi/api.h"
#include "lambdaapi/names.h"
#include "lambdaapi/serialize.h"
#include "lambdaapi/validation.h"

namespace lambkin::lambdaapi {

using nlohmann::json;
using server::HttpResponse;

namespace {

// The function a tags call names: a function ARN, never a version or alias. Other taggable
// resources (the model's TaggableResource) do not exist in Lambkin: AWS's not-found for them.
Result<std::string> TaggedFunction(const Call& call) {
  const std::string& raw = call.Label("ARN");
  Validator v;
  v.String("resource", raw, shapes::kTaggableResource);
  LAMBKIN_RETURN_IF_ERROR(v.ToStatus());
  // arn:<partition>:lambda:<region>:<account>:<type>:... (the pattern has matched)
  std::string_view rest = raw;
  for (int i = 0; i < 5; ++i) rest = rest.substr(rest.find(':') + 1);
  std::string_view type = rest.substr(0, rest.find(':'));
  if (type == "event-source-mapping") {
    return NotFound(fmt::format("Event source mapping not found: {}", raw));
  }
  if (type == "capacity-provider") {
    return NotFound(fmt::format("Capacity provider not found: {}", raw));
  }
  if (type != "function") return NotFound(fmt::format("Resource not found: {}", raw));
  LAMBKIN_ASSIGN_OR_RETURN(
      FunctionRef ref, call.ResolveFunction(raw, shapes::kNamespacedFunctionName, std::nullopt));
  if (!ref.qualifier.empty()) {
    return InvalidParameter(
        "Tags on function aliases and versions are not supported. Please specify a function ARN.");
  }
  return ref.name;
}

}  // namespace

Result<std::map<std::string, std::string>> ParseTags(const json* tags) {
  std::map<std::string, std::string> out;
  if (tags == nullptr) return out;
  Validator v;
  for (const auto& [k, val] : tags->items()) {
    if (!val.is_string()) {
      return Status(StatusCode::kInvalidRequestContent,
                    "Could not parse request body into json: tag values must be strings");
    }
    if (k.empty() || k.size() > 128) {
      v.Fail(k, "tags",
             "Map keys must satisfy constraint: [Member must have length less than or "
             "equal to 128, Member must have length greater than or equal to 1]");
    }
    if (val.get_ref<const std::string&>().size() > 256) {
      v.Fail(val.get<std::string>(), "tags",
             "Map value must satisfy constraint: [Member must have length less than or equal to "
             "256]");
    }
    out[k] = val.get<std::string>();
  }
  LAMBKIN_RETURN_IF_ERROR(v.ToStatus());
  for (const auto& [k, val] : out) {
    if (k.starts_with("aws:")) {
      return InvalidParameter(fmt::format("Tag keys starting with 'aws:' are reserved: {}", k));
    }
  }
  if (out.size() > functions::kMaxTags) {
    return InvalidParameter("Number of tags exceeds resource tag limit.");
  }
  return out;
}

namespace ops {

HttpResponse TagResource(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(std::string name, TaggedFunction(call));
  ASSIGN_OR_ERROR(const Body& body, call.JsonBody());
  ASSIGN_OR_ERROR(const json* tags, body.Object("Tags"));
  if (tags == nullptr) RETURN_ERROR_IF(ValidationError("null", "tags", "Member must not be null"));
  if (tags->empty()) {
    return ErrorResponse(
        InvalidParameter("An error occurred and the request cannot be processed."));
  }
  ASSIGN_OR_ERROR(auto parsed, ParseTags(tags));
  return StatusResponse(ctx.functions->TagFunction(call.scope, name, parsed, {}));
}

HttpResponse UntagResource(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(std::string name, TaggedFunction(call));
  std::vector<std::string> keys;
  for (const auto& [k, v] : call.request.query) {
    if (k == "tagKeys") keys.push_back(v);
  }
  if (keys.empty()) {
    RETURN_ERROR_IF(ValidationError("null", "tagKeys", "Member must not be null"));
  }
  return StatusResponse(ctx.functions->TagFunction(call.scope, name, {}, keys));
}

HttpResponse ListTags(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(std::string name, TaggedFunction(call));
  ASSIGN_OR_ERROR(functions::Function fn, ctx.functions->GetFunction(call.scope, name));
  return JsonResponse(200, {{"Tags", fn.tags}});
}

}  // namespace ops

}  // namespace lambkin::lambdaapi
