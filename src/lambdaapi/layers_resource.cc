// The layer resource: /2018-10-31/layers[/{LayerName}/versions[/{VersionNumber}[/policy[/{Sid}]]]]
// and GetLayerVersionByArn (/2018-10-31/layers?find=LayerVersion&Arn=...).
#include <charconv>

#include <fmt/format.h>

#include "common/crypto.h"
#include "lambdaapi/api.h"
#include "lambdaapi/errors.h"
#include "lambdaapi/serialize.h"
#include "lambdaapi/validation.h"

namespace lambkin::lambdaapi {

using functions::LayerVersion;
using nlohmann::json;
using server::HttpResponse;

namespace {

// The Runtime enum of the model: what CompatibleRuntimes members and filters may name.
constexpr std::string_view kRuntimeEnum[] = {
    "nodejs",          "nodejs4.3",     "nodejs6.10", "nodejs8.10",    "nodejs10.x",
    "nodejs12.x",      "nodejs14.x",    "nodejs16.x", "nodejs18.x",    "nodejs20.x",
    "nodejs22.x",      "nodejs24.x",    "java8",      "java8.al2",     "java11",
    "java17",          "java21",        "java25",     "python2.7",     "python3.6",
    "python3.7",       "python3.8",     "python3.9",  "python3.10",    "python3.11",
    "python3.12",      "python3.13",    "python3.14", "dotnetcore1.0", "dotnetcore2.0",
    "dotnetcore2.1",   "dotnetcore3.1", "dotnet6",    "dotnet8",       "dotnet10",
    "nodejs4.3-edge",  "go1.x",         "ruby2.5",    "ruby2.7",       "ruby3.2",
    "ruby3.3",         "ruby3.4",       "ruby4.0",    "provided",      "provided.al2",
    "provided.al2023", "nodejs26.x",    "python3.15", "java8.al2023",  "java11.al2023",
    "java17.al2023"};
// The enum sets AWS's messages quote (recorded answers), in AWS's own order.
constexpr char kPublishRuntimesMessage[] =
    "nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, nodejs24.x, nodejs22.x, "
    "java25, python3.10, python3.11, java21, ruby3.3, ruby3.4, ruby3.2, python3.8, python3.9, "
    "java17, nodejs16.x, dotnet10, dotnet8, java11, dotnet6, nodejs18.x, provided.al2, java8.al2";
constexpr char kFilterRuntimesMessage[] =
    "ruby3.5, ruby2.6, dotnetcore1.0, python3.7, nodejs8.10, nasa, ruby2.7, python2.7-greengrass, "
    "dotnetcore2.0, python3.8, java21, dotnet6, dotnetcore2.1, python3.9, java11, nodejs6.10, "
    "provided, dotnetcore3.1, dotnet8, java25, java17, nodejs, nodejs4.3, java8.al2, go1.x, "
    "dotnet10, nodejs20.x, go1.9, byol, nodejs10.x, provided.al2023, nodejs22.x, python3.10, "
    "java8, nodejs12.x, python3.11, nodejs24.x, nodejs8.x, python3.12, nodejs14.x, nodejs8.9, "
    "nodejs26.x, python3.13, python3.14, nodejs16.x, python3.15, provided.al2, nodejs4.3-edge, "
    "nodejs18.x, ruby3.2, python3.4, ruby3.3, ruby3.4, ruby2.5, python3.6, python2.7";

bool KnownRuntime(std::string_view r) {
  return std::find(std::begin(kRuntimeEnum), std::end(kRuntimeEnum), r) != std::end(kRuntimeEnum);
}
bool KnownArchitecture(std::string_view a) { return a == "x86_64" || a == "arm64"; }

// A list member of strings, checked against an enum as one constraint on the whole list.
Result<std::optional<std::vector<std::string>>> ParseEnumList(const Body& body, const char* key,
                                                              const char* path, size_t max,
                                                              bool (*known)(std::string_view),
                                                              std::string_view constraint,
                                                              Validator& v) {
  LAMBKIN_ASSIGN_OR_RETURN(const json* list, body.Array(key));
  if (list == nullptr) return std::optional<std::vector<std::string>>();
  std::vector<std::string> items;
  bool bad = false;
  for (const json& item : *list) {
    if (!item.is_string()) return BadContent(fmt::format("members of {} must be strings", key));
    items.push_back(item.get<std::string>());
    bad = bad || !known(items.back());
  }
  std::string text = fmt::format("'[{}]'", fmt::join(items, ", "));
  if (bad) v.Fail(text, path, constraint);
  if (items.size() > max) {
    v.Fail(text, path, fmt::format("Member must have length less than or equal to {}", max));
  }
  return std::optional<std::vector<std::string>>(std::move(items));
}

// {LayerName}: a name or a layer ARN (whose account and region own the layer).
struct LayerRef {
  functions::Scope owner;
  std::string name;
};

Result<LayerRef> ResolveLayer(const Call& call) {
  const std::string& raw = call.Label("LayerName");
  Validator v;
  v.String("layerName", raw, shapes::kLayerName);
  LAMBKIN_RETURN_IF_ERROR(v.ToStatus());
  if (!raw.starts_with("arn:")) return LayerRef{call.scope, raw};
  // arn:<partition>:lambda:<region>:<account>:layer:<name>
  std::optional<functions::LayerVersionRef> parsed = functions::ParseLayerVersionArn(raw + ":1");
  if (!parsed) return InvalidParameter(fmt::format("Invalid layer name: {}", raw));
  return LayerRef{parsed->owner, parsed->name};
}

// The owner's own layer: what every operation but reading a version requires.
Result<LayerRef> ResolveOwnLayer(const Call& call, std::string_view action) {
  LAMBKIN_ASSIGN_OR_RETURN(LayerRef ref, ResolveLayer(call));
  if (ref.owner.account != call.scope.account || ref.owner.region != call.scope.region) {
    std::string who = call.identity != nullptr && call.identity->caller != nullptr
                          ? call.identity->caller->arn
                          : call.scope.account;
    return Status(StatusCode::kAccessDenied,
                  fmt::format("User: {} is not authorized to perform: {} on resource: {} because "
                              "no resource-based policy allows the {} action",
                              who, action, functions::LayerArn(ref.owner, ref.name), action));
  }
  return ref;
}

// {VersionNumber}: a long of at least 1.
Result<int64_t> VersionOf(const Call& call) {
  const std::string& raw = call.Label("VersionNumber");
  int64_t n = 0;
  auto [p, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), n);
  if (ec != std::errc() || p != raw.data() + raw.size()) {
    return BadContent(fmt::format("VersionNumber '{}' is not a number", raw));
  }
  if (n < 1) return InvalidParameter("Layer Version Cannot be less than 1");
  return n;
}

// The members ListLayerVersions items and LatestMatchingVersion carry.
json VersionListItem(const LayerVersion& v) {
  json j = {{"LayerVersionArn", v.arn()},
            {"Version", v.version},
            {"Description", v.description},
            {"CreatedDate", FormatAwsTimestamp(v.created)}};
  if (v.compatible_runtimes) j["CompatibleRuntimes"] = *v.compatible_runtimes;
  if (v.license_info) j["LicenseInfo"] = *v.license_info;
  if (v.compatible_architectures) j["CompatibleArchitectures"] = *v.compatible_architectures;
  return j;
}

// Publish/GetLayerVersion(ByArn): the version with its Content and a link to its archive.
json VersionJson(const ApiContext& ctx, const Call& call, const LayerVersion& v) {
  json j = VersionListItem(v);
  j["LayerArn"] = functions::LayerArn(v.owner, v.name);
  j["Content"] = {{"Location", LayerCodeLocation(ctx, call, v.arn(), v.code_sha256_hex)},
                  {"CodeSha256", v.code_sha256},
                  {"CodeSize", v.code_size}};
  return j;
}

// The CompatibleRuntime / CompatibleArchitecture filters of the list operations.
Status ParseFilters(const Call& call, std::string& runtime, std::string& architecture,
                    Validator& v) {
  runtime = call.request.Query("CompatibleRuntime").value_or("");
  architecture = call.request.Query("CompatibleArchitecture").value_or("");
  if (!runtime.empty() && !KnownRuntime(runtime)) {
    v.Fail(fmt::format("'{}'", runtime), "compatibleRuntime",
           fmt::format("Member must satisfy enum value set: [{}]", kFilterRuntimesMessage));
  }
  if (!architecture.empty() && !KnownArchitecture(architecture)) {
    v.Fail(fmt::format("'{}'", architecture), "compatibleArchitecture",
           "Member must satisfy enum value set: [x86_64, arm64]");
  }
  return Status::Ok();
}

Result<int> LayerMaxItems(const Call& call, Validator& v) {
  auto raw = call.request.Query("MaxItems");
  if (!raw) return 50;
  int64_t n = 0;
  auto [p, ec] = std::from_chars(raw->data(), raw->data() + raw->size(), n);
  if (ec != std::errc() || p != raw->data() + raw->size()) {
    return BadContent(fmt::format("MaxItems '{}' is not an integer", *raw));
  }
  v.Range("maxItems", n, 1, 50);
  return static_cast<int>(std::clamp<int64_t>(n, 1, 50));
}

}  // namespace

functions::LayerCaller LayerCallerOf(const iam::Identity* identity, const functions::Scope& scope) {
  functions::LayerCaller caller;
  caller.account = scope.account;
  caller.arn = scope.account;
  if (identity != nullptr) {
    if (identity->caller != nullptr) caller.arn = identity->caller->arn;
    if (identity->snapshot != nullptr) {
      if (const auto* account = identity->snapshot->FindAccount(scope.account)) {
        caller.organization_id = account->organization_id;
      }
    }
  }
  return caller;
}

std::optional<std::string> LayerResource(const Call& call) {
  if (auto arn = call.request.Query("Arn"); arn && call.labels.empty()) return *arn;
  auto name = call.labels.find("LayerName");
  if (name == call.labels.end()) return std::nullopt;
  Result<LayerRef> ref = ResolveLayer(call);
  // A name the operation will refuse is still authorised, as written.
  LayerRef named = ref.ok() ? *ref : LayerRef{call.scope, name->second};
  std::string arn = functions::LayerArn(named.owner, named.name);
  if (auto version = call.labels.find("VersionNumber"); version != call.labels.end()) {
    arn += ":" + version->second;
  }
  return arn;
}

Result<std::vector<std::string>> ParseLayersMember(const Body& body, Validator& v) {
  LAMBKIN_ASSIGN_OR_RETURN(const json* list, body.Array("Layers"));
  std::vector<std::string> arns;
  if (list == nullptr) return arns;
  bool bad = false;
  for (const json& item : *list) {
    if (!item.is_string()) return BadContent("members of Layers must be strings");
    arns.push_back(item.get<std::string>());
    bad = bad || !MatchesPattern(shapes::kLayerVersionArn, arns.back()) ||
          arns.back().size() > shapes::kLayerVersionArn.max_length;
  }
  if (bad) {
    v.Fail(fmt::format("'[{}]'", fmt::join(arns, ", ")), "layers",
           fmt::format("Member must satisfy constraint: [Member must have length less than or "
                       "equal to {}, Member must have length greater than or equal to 1, Member "
                       "must satisfy regular expression pattern: {}, Member must not be null]",
                       shapes::kLayerVersionArn.max_length, shapes::kLayerVersionArn.pattern));
  }
  return arns;
}

namespace ops {

HttpResponse PublishLayerVersion(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(LayerRef ref, ResolveOwnLayer(call, "lambda:PublishLayerVersion"));
  ASSIGN_OR_ERROR(const Body& body, call.JsonBody());
  Validator v;
  ASSIGN_OR_ERROR(auto description, body.String("Description"));
  ASSIGN_OR_ERROR(auto license, body.String("LicenseInfo"));
  ASSIGN_OR_ERROR(const json* content, body.Object("Content"));
  if (content == nullptr) v.NotNull("content");
  if (description) v.String("description", *description, shapes::kDescription);
  if (license) v.String("licenseInfo", *license, shapes::kLicenseInfo);
  ASSIGN_OR_ERROR(
      auto runtimes,
      ParseEnumList(
          body, "CompatibleRuntimes", "compatibleRuntimes", 15, KnownRuntime,
          fmt::format("Member must satisfy enum value set: [{}]", kPublishRuntimesMessage), v));
  ASSIGN_OR_ERROR(auto architectures,
                  ParseEnumList(body, "CompatibleArchitectures", "compatibleArchitectures", 2,
                                KnownArchitecture,
                                "Member must satisfy constraint: [Member must satisfy enum value "
                                "set: [x86_64, arm64], Member must not be null]",
                                v));
  RETURN_ERROR_IF(v.ToStatus());
  // Only an uploaded archive: this deployment has no S3 to read one from.
  for (const char* member : {"S3Bucket", "S3Key", "S3ObjectVersion", "S3ObjectStorageMode"}) {
    if (content->contains(member) && !(*content)[member].is_null()) {
      return ErrorResponse(InvalidParameter(fmt::format(
          "Content.{} is not supported: Lambkin has no Amazon S3. Upload the layer archive as "
          "Content.ZipFile.",
          member)));
    }
  }
  auto zip64 = content->find("ZipFile");
  if (zip64 == content->end() || !zip64->is_string()) {
    return ErrorResponse(
        InvalidParameter("Please provide a source for the layer: Content.ZipFile."));
  }
  auto zip = Base64Decode(zip64->get<std::string>());
  if (!zip) return ErrorResponse(BadContent("member ZipFile is not valid base64"));
  functions::PublishLayerVersionCommand cmd{
      ref.name, std::move(*zip),     description.value_or(""),
      license,  std::move(runtimes), std::move(architectures)};
  ASSIGN_OR_ERROR(LayerVersion published, ctx.layers->Publish(ref.owner, std::move(cmd)));
  return JsonResponse(201, VersionJson(ctx, call, published));
}

HttpResponse GetLayerVersion(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(LayerRef ref, ResolveLayer(call));
  ASSIGN_OR_ERROR(int64_t version, VersionOf(call));
  ASSIGN_OR_ERROR(LayerVersion v, ctx.layers->Get(LayerCallerOf(call.identity, call.scope),
                                                  ref.owner, ref.name, version));
  return JsonResponse(200, VersionJson(ctx, call, v));
}

HttpResponse GetLayerVersionByArn(const ApiContext& ctx, const Call& call) {
  std::optional<std::string> arn = call.request.Query("Arn");
  Validator v;
  if (!arn) {
    v.NotNull("arn");
  } else {
    v.String("arn", *arn, shapes::kLayerVersionArn);
  }
  RETURN_ERROR_IF(v.ToStatus());
  std::optional<functions::LayerVersionRef> ref = functions::ParseLayerVersionArn(*arn);
  if (!ref) return ErrorResponse(NotFound("The resource you requested does not exist."));
  if (ref->version < 1) {
    return ErrorResponse(InvalidParameter("Layer Version Cannot be less than 1"));
  }
  ASSIGN_OR_ERROR(LayerVersion found, ctx.layers->Get(LayerCallerOf(call.identity, call.scope),
                                                      ref->owner, ref->name, ref->version));
  return JsonResponse(200, VersionJson(ctx, call, found));
}

HttpResponse ListLayers(const ApiContext& ctx, const Call& call) {
  Validator v;
  std::string runtime, architecture;
  RETURN_ERROR_IF(ParseFilters(call, runtime, architecture, v));
  ASSIGN_OR_ERROR(int max_items, LayerMaxItems(call, v));
  RETURN_ERROR_IF(v.ToStatus());
  ASSIGN_OR_ERROR(auto page,
                  ctx.layers->ListLayers(call.scope, runtime, architecture,
                                         call.request.Query("Marker").value_or(""), max_items));
  json items = json::array();
  for (const LayerVersion& latest : page.items) {
    items.push_back({{"LayerName", latest.name},
                     {"LayerArn", functions::LayerArn(latest.owner, latest.name)},
                     {"LatestMatchingVersion", VersionListItem(latest)}});
  }
  json body = {{"Layers", items}};
  if (!page.next_marker.empty()) body["NextMarker"] = page.next_marker;
  return JsonResponse(200, body);
}

HttpResponse ListLayerVersions(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(LayerRef ref, ResolveOwnLayer(call, "lambda:ListLayerVersions"));
  Validator v;
  std::string runtime, architecture;
  RETURN_ERROR_IF(ParseFilters(call, runtime, architecture, v));
  ASSIGN_OR_ERROR(int max_items, LayerMaxItems(call, v));
  RETURN_ERROR_IF(v.ToStatus());
  ASSIGN_OR_ERROR(auto page,
                  ctx.layers->ListVersions(ref.owner, ref.name, runtime, architecture,
                                           call.request.Query("Marker").value_or(""), max_items));
  json items = json::array();
  for (const LayerVersion& lv : page.items) items.push_back(VersionListItem(lv));
  json body = {{"LayerVersions", items}};
  if (!page.next_marker.empty()) body["NextMarker"] = page.next_marker;
  return JsonResponse(200, body);
}

HttpResponse DeleteLayerVersion(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(LayerRef ref, ResolveOwnLayer(call, "lambda:DeleteLayerVersion"));
  ASSIGN_OR_ERROR(int64_t version, VersionOf(call));
  return StatusResponse(ctx.layers->Delete(ref.owner, ref.name, version));
}

HttpResponse AddLayerVersionPermission(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(LayerRef ref, ResolveOwnLayer(call, "lambda:AddLayerVersionPermission"));
  ASSIGN_OR_ERROR(int64_t version, VersionOf(call));
  ASSIGN_OR_ERROR(const Body& body, call.JsonBody());
  Validator v;
  ASSIGN_OR_ERROR(auto sid, body.String("StatementId"));
  ASSIGN_OR_ERROR(auto action, body.String("Action"));
  ASSIGN_OR_ERROR(auto principal, body.String("Principal"));
  ASSIGN_OR_ERROR(auto organization, body.String("OrganizationId"));
  if (!sid) {
    v.NotNull("statementId");
  } else {
    v.String("statementId", *sid, shapes::kStatementId);
  }
  if (!action) {
    v.NotNull("action");
  } else {
    v.String("action", *action, shapes::kLayerAction);
  }
  if (!principal) {
    v.NotNull("principal");
  } else {
    v.String("principal", *principal, shapes::kLayerPrincipal);
  }
  if (organization) v.String("organizationId", *organization, shapes::kOrganizationId);
  RETURN_ERROR_IF(v.ToStatus());
  if (organization && *principal != "*") {
    return ErrorResponse(
        InvalidParameter("OrganizationId can only be specified when the principal is \"*\"."));
  }
  functions::AddLayerPermissionCommand cmd{*sid, *action, *principal, organization,
                                           call.request.Query("RevisionId")};
  ASSIGN_OR_ERROR(functions::LayerPolicy added,
                  ctx.layers->AddPermission(ref.owner, ref.name, version, cmd));
  return JsonResponse(201, {{"Statement", added.document}, {"RevisionId", added.revision_id}});
}

HttpResponse RemoveLayerVersionPermission(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(LayerRef ref, ResolveOwnLayer(call, "lambda:RemoveLayerVersionPermission"));
  ASSIGN_OR_ERROR(int64_t version, VersionOf(call));
  Validator v;
  v.String("statementId", call.Label("StatementId"), shapes::kStatementId);
  RETURN_ERROR_IF(v.ToStatus());
  return StatusResponse(ctx.layers->RemovePermission(
      ref.owner, ref.name, version, call.Label("StatementId"), call.request.Query("RevisionId")));
}

HttpResponse GetLayerVersionPolicy(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(LayerRef ref, ResolveOwnLayer(call, "lambda:GetLayerVersionPolicy"));
  ASSIGN_OR_ERROR(int64_t version, VersionOf(call));
  ASSIGN_OR_ERROR(functions::LayerPolicy policy,
                  ctx.layers->GetPolicy(ref.owner, ref.name, version));
  return JsonResponse(200, {{"Policy", policy.document}, {"RevisionId", policy.revision_id}});
}

}  // namespace ops

}  // namespace lambkin::lambdaapi
