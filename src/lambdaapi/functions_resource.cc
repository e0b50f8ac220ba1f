// The function resource: /2015-03-31/functions[/{FunctionName}[/configuration|/code|/versions]].
#include <algorithm>

#include <fmt/format.h>

#include "catalog/lifecycle.h"
#include "common/crypto.h"
#include "lambdaapi/api.h"
#include "lambdaapi/config_members.h"
#include "lambdaapi/errors.h"
#include "lambdaapi/names.h"
#include "lambdaapi/serialize.h"
#include "lambdaapi/validation.h"
#include "logs/log_store.h"

namespace lambkin::lambdaapi {

using functions::FunctionVersion;
using nlohmann::json;
using server::HttpResponse;

namespace {

// Lambkin writes a function's logs where its LoggingConfig says: whoever points them at a group
// other than the function's own must be allowed to write there (logs:PutLogEvents on it), so a
// function cannot be made to write lines into another function's group.
Status CheckLogGroupAllowed(const Call& call, const FeatureMembers& features,
                            std::string_view function_name) {
  if (!features.logging || features.logging->group.empty() ||
      features.logging->group == functions::DefaultLogGroupName(function_name) ||
      call.identity == nullptr) {
    return Status::Ok();
  }
  return call.identity->Allow("logs:PutLogEvents",
                              logs::LogGroupArn(call.scope, features.logging->group));
}

constexpr int kMaxPageItems = 50;
constexpr char kUnqualifiedOnly[] =
    "This operation is permitted on Lambda functions only. Aliases and versions do not support "
    "this operation. Please specify either a function name or an unqualified function ARN.";

// Runtimes AWS no longer accepts for new or updated functions.
constexpr std::string_view kDeprecatedRuntimes[] = {
    "python2.7",     "python3.6",     "python3.7",  "python3.8",  "nodejs",        "nodejs4.3",
    "nodejs6.10",    "nodejs8.10",    "nodejs10.x", "nodejs12.x", "nodejs14.x",    "nodejs16.x",
    "java8",         "go1.x",         "ruby2.5",    "ruby2.7",    "dotnetcore1.0", "dotnetcore2.0",
    "dotnetcore2.1", "dotnetcore3.1", "dotnet6",    "provided"};

// The runtimes AWS lists when it refuses an unknown one (recorded answer, its order).
constexpr std::string_view kAwsRuntimeEnum[] = {
    "nodejs20.x", "python3.14", "provided.al2023", "python3.12",   "python3.13",
    "nodejs24.x", "nodejs22.x", "java25",          "python3.10",   "python3.11",
    "java21",     "ruby3.3",    "ruby3.4",         "ruby3.2",      "python3.8",
    "python3.9",  "java17",     "nodejs16.x",      "dotnet10",     "dotnet8",
    "java11",     "dotnet6",    "nodejs18.x",      "provided.al2", "java8.al2"};

Status CheckRuntime(const ApiContext& ctx, const std::string& runtime) {
  if (ctx.catalog->HasRuntime(runtime)) return Status::Ok();
  if (std::find(std::begin(kDeprecatedRuntimes), std::end(kDeprecatedRuntimes), runtime) !=
      std::end(kDeprecatedRuntimes)) {
    return InvalidParameter(catalog::BlockedRuntimeMessage(runtime));
  }
  if (std::find(std::begin(kAwsRuntimeEnum), std::end(kAwsRuntimeEnum), runtime) !=
      std::end(kAwsRuntimeEnum)) {
    return InvalidParameter(fmt::format("Runtime {} is not available", runtime));
  }
  // AWS names the runtimes it accepts, in its own order (as recorded), whatever this
  // deployment's catalog offers.
  return InvalidParameter(fmt::format(
      "Value {} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: "
      "[{}] or be a valid ARN",
      runtime, fmt::join(kAwsRuntimeEnum, ", ")));
}

// In production, Lambda must be able to assume the function's role: a role of the directory, in
// the caller's account.
Status CheckRoleAssumable(const ApiContext& ctx, const Call& call, const std::string& role) {
  if (ctx.assumable_roles == nullptr) return Status::Ok();
  const iam::Snapshot::Role* found = ctx.assumable_roles->snapshot()->FindRole(role);
  if (found != nullptr && found->account == call.scope.account) return Status::Ok();
  return InvalidParameter("The role defined for the function cannot be assumed by Lambda.");
}

// Architectures: a list of exactly one of x86_64 / arm64.
Result<std::optional<catalog::Architecture>> ParseArchitectures(const Body& body, Validator& v) {
  LAMBKIN_ASSIGN_OR_RETURN(const json* list, body.Array("Architectures"));
  if (list == nullptr) return std::optional<catalog::Architecture>();
  std::vector<std::string> names;
  bool bad_member = false;
  for (const auto& item : *list) {
    names.push_back(item.is_string() ? item.get<std::string>() : item.dump());
    if (!item.is_string() || !catalog::ParseArchitecture(item.get<std::string>())) {
      bad_member = true;
    }
  }
  std::string text = fmt::format("'[{}]'", fmt::join(names, ", "));
  if (names.size() > 1) {
    v.Fail(text, "architectures", "Member must have length less than or equal to 1");
  }
  if (names.empty()) {
    v.Fail(text, "architectures", "Member must have length greater than or equal to 1");
  }
  if (bad_member) {
    v.Fail(text, "architectures",
           "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, "
           "arm64], Member must not be null]");
  }
  if (names.size() != 1 || bad_member) return std::optional<catalog::Architecture>();
  return catalog::ParseArchitecture(names[0]);
}

// Environment.Variables: names must match the model pattern; the whole map must fit in 4 KB.
// `raw` is the request's text: AWS's error quotes the map in the order the request wrote it.
Result<std::optional<std::map<std::string, std::string>>> ParseEnvironment(const Body& body,
                                                                           std::string_view raw,
                                                                           Validator& v) {
  using Vars = std::map<std::string, std::string>;
  LAMBKIN_ASSIGN_OR_RETURN(const json* env, body.Object("Environment"));
  if (env == nullptr) return std::optional<Vars>();
  Vars vars;
  if (env->contains("Variables") && !(*env)["Variables"].is_null()) {
    const json& m = (*env)["Variables"];
    if (!m.is_object()) return BadContent("member Environment.Variables must be a map");
    for (const auto& [k, val] : m.items()) {
      if (!val.is_string()) return BadContent("environment variable values must be strings");
      vars[k] = val.get<std::string>();
    }
    for (const auto& [k, val] : vars) {
      if (!MatchesPattern(shapes::kEnvironmentVariableName, k)) {
        v.Fail(fmt::format("'{}'", k), "environment.variables",
               fmt::format("Map keys must satisfy constraint: [Member must satisfy regular "
                           "expression pattern: {}]",
                           shapes::kEnvironmentVariableName.pattern));
      }
    }
    std::string measured = m.dump();
    if (measured.size() > 4096) {
      // Parsed again, keeping the request's order (the body parsed once already).
      nlohmann::ordered_json ordered = nlohmann::ordered_json::parse(raw, nullptr, false);
      if (ordered.is_object() && ordered.contains("Environment")) {
        measured = ordered["Environment"]["Variables"].dump();
      }
      return InvalidParameter(fmt::format(
          "Lambda was unable to configure your environment variables because the environment "
          "variables you have provided exceeded the 4KB limit. String measured: {}",
          measured));
    }
  }
  return std::optional<Vars>(std::move(vars));
}

// The common configuration members of CreateFunction and UpdateFunctionConfiguration.
struct ConfigMembers {
  std::optional<std::string> runtime, handler, description, role;
  std::optional<int64_t> memory_size, timeout, ephemeral_storage;
  std::optional<std::map<std::string, std::string>> environment;
};

Result<ConfigMembers> ParseConfigMembers(const Body& body, std::string_view raw, Validator& v) {
  ConfigMembers m;
  LAMBKIN_ASSIGN_OR_RETURN(m.runtime, body.String("Runtime"));
  LAMBKIN_ASSIGN_OR_RETURN(m.handler, body.String("Handler"));
  LAMBKIN_ASSIGN_OR_RETURN(m.description, body.String("Description"));
  LAMBKIN_ASSIGN_OR_RETURN(m.role, body.String("Role"));
  LAMBKIN_ASSIGN_OR_RETURN(m.memory_size, body.Int("MemorySize"));
  LAMBKIN_ASSIGN_OR_RETURN(m.timeout, body.Int("Timeout"));
  LAMBKIN_ASSIGN_OR_RETURN(const json* storage, body.Object("EphemeralStorage"));
  if (storage != nullptr) {
    if (!storage->contains("Size") || !(*storage)["Size"].is_number_integer()) {
      v.NotNull("ephemeralStorage.size");
    } else {
      m.ephemeral_storage = (*storage)["Size"].get<int64_t>();
      v.Range("ephemeralStorage.size", *m.ephemeral_storage, 512, 10240);
    }
  }
  if (m.role) v.String("role", *m.role, shapes::kRoleArn);
  if (m.handler) {
    v.String("handler", *m.handler, shapes::kHandler);
    // AWS checks the pattern on an empty handler too ([^\s]+ needs one character).
    if (m.handler->empty()) {
      v.Fail("''", "handler",
             fmt::format("Member must satisfy regular expression pattern: {}",
                         shapes::kHandler.pattern));
    }
  }
  if (m.description) v.String("description", *m.description, shapes::kDescription);
  if (m.memory_size) v.Range("memorySize", *m.memory_size, 128, 10240);
  if (m.timeout) v.Range("timeout", *m.timeout, 1, 900);
  LAMBKIN_ASSIGN_OR_RETURN(m.environment, ParseEnvironment(body, raw, v));
  return m;
}

// A string member of the Code object (CreateFunction) or of the body (UpdateFunctionCode).
std::optional<std::string> CodeString(const json& code, const char* key) {
  if (!code.contains(key) || code[key].is_null()) return std::nullopt;
  if (!code[key].is_string()) return std::string();
  return code[key].get<std::string>();
}

constexpr char kNoCodeSource[] = "Please provide a source for function code.";

// Code.ZipFile (base64 in JSON); S3 sources are answered as AWS would for this deployment,
// which has no S3. An ImageUri for a Zip function: AWS's words for an update, and for a create
// (where the image is simply not a source of a .zip package) row 7 of images.md §1.3.
Result<std::string> ParseZip(const Body& body, const json* code_object) {
  const json& code = code_object != nullptr ? *code_object : body.doc();
  auto str = [&](const char* key) { return CodeString(code, key); };
  if (str("ImageUri")) {
    if (code_object != nullptr) return InvalidParameter(kNoCodeSource);
    return InvalidParameter(
        "Please don't provide ImageUri when updating a function with "
        "packageType Zip.");
  }
  if (str("S3Bucket") || str("S3Key")) {
    return InvalidParameter(
        "Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error Message: The "
        "specified bucket does not exist");
  }
  auto zip64 = str("ZipFile");
  if (!zip64) {
    return InvalidParameter("Please provide a source for function code: Code.ZipFile.");
  }
  auto zip = Base64Decode(*zip64);
  if (!zip) return BadContent("member ZipFile is not valid base64");
  return std::move(*zip);
}

}  // namespace

Result<int> MaxItemsOf(const Call& call, Validator& v, int model_max) {
  auto raw = call.request.Query("MaxItems");
  if (!raw) return kMaxPageItems;
  int64_t n = 0;
  try {
    size_t used = 0;
    n = std::stoll(*raw, &used);
    if (used != raw->size()) throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    return BadContent(fmt::format("MaxItems '{}' is not an integer", *raw));
  }
  v.Range("maxItems", n, 1, model_max);
  return static_cast<int>(
      std::min<int64_t>(std::max<int64_t>(n, 1), std::min<int64_t>(kMaxPageItems, model_max)));
}

namespace {

Result<FunctionRef> Resolve(const Call& call, const StringShape& shape, bool with_qualifier) {
  return call.ResolveFunction(call.Label("FunctionName"), shape,
                              with_qualifier ? call.request.Query("Qualifier") : std::nullopt);
}

}  // namespace

Result<std::string> UnqualifiedFunctionName(const Call& call) {
  LAMBKIN_ASSIGN_OR_RETURN(FunctionRef ref, Resolve(call, shapes::kFunctionName, false));
  if (!ref.qualifier.empty()) return InvalidParameter(kUnqualifiedOnly);
  return ref.name;
}

namespace ops {

HttpResponse CreateFunction(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(const Body& body, call.JsonBody());
  Validator v;
  ASSIGN_OR_ERROR(auto name, body.String("FunctionName"));
  if (!name) {
    v.NotNull("functionName");
  } else {
    v.String("functionName", *name, shapes::kFunctionName);
  }
  ASSIGN_OR_ERROR(ConfigMembers m, ParseConfigMembers(body, call.request.body, v));
  if (!m.role) v.NotNull("role");
  ASSIGN_OR_ERROR(const json* code, body.Object("Code"));
  if (code == nullptr) v.NotNull("code");
  ASSIGN_OR_ERROR(auto package_type, body.String("PackageType"));
  if (package_type) v.Enum("packageType", *package_type, {"Zip", "Image"});
  ASSIGN_OR_ERROR(auto arch, ParseArchitectures(body, v));
  ASSIGN_OR_ERROR(auto publish, body.Bool("Publish"));
  ASSIGN_OR_ERROR(const json* tags, body.Object("Tags"));
  ASSIGN_OR_ERROR(FeatureMembers features, ParseFeatureMembers(body, v));
  ASSIGN_OR_ERROR(std::vector<std::string> layers, ParseLayersMember(body, v));
  RETURN_ERROR_IF(v.ToStatus());

  ASSIGN_OR_ERROR(auto image_config, ParseImageConfigMember(body, v));
  RETURN_ERROR_IF(v.ToStatus());
  const bool image = package_type == "Image";
  if (image && (m.runtime || m.handler || body.Has("Layers"))) {
    return ErrorResponse(InvalidParameter(
        "Please don't provide Handler or Runtime or Layer when the intended function PackageType "
        "is Image."));
  }
  if (!image && image_config) {
    return ErrorResponse(
        InvalidParameter("ImageConfig can only be set on a function with packageType Image."));
  }
  // The name may be given as an ARN; the function is created under its name part.
  ASSIGN_OR_ERROR(FunctionRef ref,
                  call.ResolveFunction(*name, shapes::kFunctionName, std::nullopt));
  if (!ref.qualifier.empty()) return ErrorResponse(InvalidParameter(kUnqualifiedOnly));
  RETURN_ERROR_IF(features.refused);
  RETURN_ERROR_IF(CheckLogGroupAllowed(call, features, ref.name));
  functions::CreateFunctionCommand cmd;
  cmd.name = ref.name;
  cmd.config.architecture = arch.value_or(catalog::Architecture::kX86_64);
  if (image) {
    RETURN_ERROR_IF(CheckRoleAssumable(ctx, call, *m.role));
    std::optional<std::string> uri = CodeString(*code, "ImageUri");
    if (!uri || CodeString(*code, "ZipFile") || CodeString(*code, "S3Bucket") ||
        CodeString(*code, "S3Key")) {
      return ErrorResponse(InvalidParameter(kNoCodeSource));
    }
    // A name in use is refused before anything is pulled.
    if (ctx.functions->GetFunction(call.scope, ref.name).ok()) {
      return ErrorResponse(Conflict(fmt::format("Function already exist: {}", ref.name)));
    }
    ASSIGN_OR_ERROR(functions::ImageCode pulled, PullImageCode(ctx, *uri, cmd.config.architecture));
    cmd.config.package_type = functions::PackageType::kImage;
    cmd.config.image_uri = pulled.uri;
    cmd.config.image_digest = pulled.digest;
    cmd.config.image_base = pulled.base;
    cmd.config.image_config = image_config;
  } else {
    if (!m.runtime || !m.handler) {
      return ErrorResponse(InvalidParameter(
          "Runtime and Handler are mandatory parameters for functions created with deployment "
          "packages."));
    }
    RETURN_ERROR_IF(CheckRuntime(ctx, *m.runtime));
    RETURN_ERROR_IF(CheckRoleAssumable(ctx, call, *m.role));
    ASSIGN_OR_ERROR(cmd.zip, ParseZip(body, code));
    cmd.config.runtime = *m.runtime;
    cmd.config.handler = *m.handler;
  }
  cmd.config.role = *m.role;
  cmd.config.description = m.description.value_or("");
  cmd.config.memory_size = m.memory_size.value_or(128);
  cmd.config.timeout = m.timeout.value_or(3);
  cmd.config.ephemeral_storage = m.ephemeral_storage.value_or(512);
  cmd.config.environment = m.environment;
  cmd.config.tracing_mode = features.tracing_mode.value_or("PassThrough");
  cmd.config.vpc_config = features.vpc_config;
  if (features.logging) cmd.config.logging = *features.logging;
  cmd.publish = publish.value_or(false);
  cmd.layers = std::move(layers);
  cmd.layer_caller = LayerCallerOf(call.identity, call.scope);
  ASSIGN_OR_ERROR(cmd.tags, ParseTags(tags));
  ASSIGN_OR_ERROR(functions::WriteResult result,
                  ctx.functions->CreateFunction(call.scope, std::move(cmd)));
  // With Publish, AWS answers the new version (Version "1") under the unqualified ARN.
  const FunctionVersion& shown = result.published ? *result.published : result.latest;
  return JsonResponse(201,
                      FunctionConfigurationJson(ctx, call.scope, shown, "", ConfigView::kCreated));
}

HttpResponse GetFunction(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(FunctionRef ref, Resolve(call, shapes::kNamespacedFunctionName, true));
  ASSIGN_OR_ERROR(FunctionVersion v,
                  ctx.functions->GetFunctionVersion(call.scope, ref.name, ref.qualifier));
  ASSIGN_OR_ERROR(functions::Function fn, ctx.functions->GetFunction(call.scope, ref.name));
  json code;
  if (v.config.package_type == functions::PackageType::kImage) {
    code = {{"ImageUri", v.config.image_uri},
            {"RepositoryType", "ECR"},
            {"ResolvedImageUri", functions::ResolvedImageUri(v.config)}};
  } else {
    code = {{"RepositoryType", "S3"},
            {"Location", CodeLocation(ctx, call, ref, functions::CodeSha256Hex(v.config))}};
  }
  json body = {{"Configuration",
                FunctionConfigurationJson(ctx, call.scope, v, ref.qualifier, ConfigView::kCurrent)},
               {"Code", std::move(code)}};
  ASSIGN_OR_ERROR(auto reserved, ctx.functions->GetReservedConcurrency(call.scope, ref.name));
  if (reserved) body["Concurrency"] = {{"ReservedConcurrentExecutions", *reserved}};
  if (!fn.tags.empty()) body["Tags"] = fn.tags;
  return JsonResponse(200, body);
}

HttpResponse GetFunctionConfiguration(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(FunctionRef ref, Resolve(call, shapes::kNamespacedFunctionName, true));
  ASSIGN_OR_ERROR(FunctionVersion v,
                  ctx.functions->GetFunctionVersion(call.scope, ref.name, ref.qualifier));
  return JsonResponse(
      200, FunctionConfigurationJson(ctx, call.scope, v, ref.qualifier, ConfigView::kCurrent));
}

HttpResponse ListFunctions(const ApiContext& ctx, const Call& call) {
  Validator v;
  auto version = call.request.Query("FunctionVersion");
  if (version) v.Enum("functionVersion", *version, {"ALL"});
  auto master = call.request.Query("MasterRegion");
  if (master) {
    // A shape of the table Compiled() knows: an ad-hoc one is not compiled and crashed here.
    v.String("masterRegion", *master, shapes::kMasterRegion);
  }
  ASSIGN_OR_ERROR(int max_items, MaxItemsOf(call, v));
  RETURN_ERROR_IF(v.ToStatus());
  bool all = version.has_value();
  if (master) {
    // Lambda@Edge replicas, filtered by the region of their master function (AWS's text names
    // the member MasterArn). Lambkin replicates nothing: the list is empty, as AWS's is for an
    // account without replicas.
    if (!all) {
      return ErrorResponse(InvalidParameter(
          fmt::format("The combination MasterArn={} and FunctionVersion=NULL is not supported. "
                      "Please see our documentation for valid combinations of ListFunctions "
                      "options.",
                      *master)));
    }
    return JsonResponse(200, {{"Functions", json::array()}});
  }
  ASSIGN_OR_ERROR(auto page,
                  ctx.functions->ListFunctions(
                      call.scope, all, call.request.Query("Marker").value_or(""), max_items));
  json items = json::array();
  for (const auto& fv : page.items) {
    items.push_back(FunctionConfigurationJson(ctx, call.scope, fv, all ? fv.version : "",
                                              ConfigView::kListItem));
  }
  json body = {{"Functions", items}};
  if (!page.next_marker.empty()) body["NextMarker"] = page.next_marker;
  return JsonResponse(200, body);
}

HttpResponse UpdateFunctionCode(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(std::string name, UnqualifiedFunctionName(call));
  ASSIGN_OR_ERROR(const Body& body, call.JsonBody());
  Validator v;
  ASSIGN_OR_ERROR(auto arch, ParseArchitectures(body, v));
  ASSIGN_OR_ERROR(auto publish, body.Bool("Publish"));
  ASSIGN_OR_ERROR(auto dry_run, body.Bool("DryRun"));
  ASSIGN_OR_ERROR(auto revision, body.String("RevisionId"));
  RETURN_ERROR_IF(v.ToStatus());
  RETURN_ERROR_IF(RefuseCodeFeatureMembers(body));
  functions::UpdateCodeCommand cmd;
  cmd.architecture = arch;
  cmd.publish = publish.value_or(false);
  cmd.dry_run = dry_run.value_or(false);
  cmd.revision_id = revision;
  // The package type decides which source is wanted (checked again when the change commits).
  ASSIGN_OR_ERROR(FunctionVersion current, ctx.functions->GetFunctionVersion(call.scope, name, ""));
  if (current.config.package_type == functions::PackageType::kImage) {
    std::optional<std::string> uri = CodeString(body.doc(), "ImageUri");
    if (!uri) {
      return ErrorResponse(InvalidParameter(
          "Please provide ImageUri when updating a function with packageType Image."));
    }
    if (revision && *revision != current.revision_id) {
      return ErrorResponse(
          {StatusCode::kPreconditionFailed,
           "The Revision Id provided does not match the latest Revision Id. Call the "
           "GetFunction/GetAlias API to retrieve the latest Revision Id"});
    }
    ASSIGN_OR_ERROR(cmd.image,
                    PullImageCode(ctx, *uri, arch.value_or(current.config.architecture)));
  } else {
    ASSIGN_OR_ERROR(cmd.zip, ParseZip(body, nullptr));
  }
  ASSIGN_OR_ERROR(functions::WriteResult result,
                  ctx.functions->UpdateFunctionCode(call.scope, name, std::move(cmd)));
  // With Publish, AWS answers the new version as it is being created, under its qualified ARN.
  if (result.published) {
    return JsonResponse(200,
                        FunctionConfigurationJson(ctx, call.scope, *result.published,
                                                  result.published->version, ConfigView::kCreated));
  }
  return JsonResponse(
      200, FunctionConfigurationJson(ctx, call.scope, result.latest, "", ConfigView::kUpdated));
}

HttpResponse UpdateFunctionConfiguration(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(std::string name, UnqualifiedFunctionName(call));
  ASSIGN_OR_ERROR(const Body& body, call.JsonBody());
  Validator v;
  ASSIGN_OR_ERROR(ConfigMembers m, ParseConfigMembers(body, call.request.body, v));
  ASSIGN_OR_ERROR(auto revision, body.String("RevisionId"));
  ASSIGN_OR_ERROR(auto image_config, ParseImageConfigMember(body, v));
  ASSIGN_OR_ERROR(FeatureMembers features, ParseFeatureMembers(body, v));
  ASSIGN_OR_ERROR(std::vector<std::string> layers, ParseLayersMember(body, v));
  RETURN_ERROR_IF(v.ToStatus());
  RETURN_ERROR_IF(features.refused);
  RETURN_ERROR_IF(CheckLogGroupAllowed(call, features, name));
  if (body.Has("Layers")) {
    ASSIGN_OR_ERROR(FunctionVersion current,
                    ctx.functions->GetFunctionVersion(call.scope, name, ""));
    if (current.config.package_type == functions::PackageType::kImage) {
      return ErrorResponse(InvalidParameter(
          "Please don't provide Handler or Runtime or Layer when the intended function "
          "PackageType is Image."));
    }
  }
  if (m.runtime) RETURN_ERROR_IF(CheckRuntime(ctx, *m.runtime));
  if (m.role) RETURN_ERROR_IF(CheckRoleAssumable(ctx, call, *m.role));
  functions::UpdateConfigurationCommand cmd{
      m.runtime,       m.handler,    m.description,         m.role,
      m.memory_size,   m.timeout,    m.ephemeral_storage,   m.environment,
      revision,        image_config, features.tracing_mode, features.vpc_config,
      features.logging};
  if (body.Has("Layers")) {
    cmd.layers = std::move(layers);
    cmd.layer_caller = LayerCallerOf(call.identity, call.scope);
  }
  ASSIGN_OR_ERROR(FunctionVersion latest,
                  ctx.functions->UpdateFunctionConfiguration(call.scope, name, cmd));
  return JsonResponse(200,
                      FunctionConfigurationJson(ctx, call.scope, latest, "", ConfigView::kUpdated));
}

HttpResponse PublishVersion(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(std::string name, UnqualifiedFunctionName(call));
  ASSIGN_OR_ERROR(const Body& body, call.JsonBody());
  Validator v;
  ASSIGN_OR_ERROR(auto sha, body.String("CodeSha256"));
  ASSIGN_OR_ERROR(auto description, body.String("Description"));
  ASSIGN_OR_ERROR(auto revision, body.String("RevisionId"));
  if (description) v.String("description", *description, shapes::kDescription);
  RETURN_ERROR_IF(v.ToStatus());
  RETURN_ERROR_IF(RefuseCodeFeatureMembers(body));
  ASSIGN_OR_ERROR(FunctionVersion published,
                  ctx.functions->PublishVersion(call.scope, name, {sha, description, revision}));
  return JsonResponse(201, FunctionConfigurationJson(ctx, call.scope, published, published.version,
                                                     ConfigView::kCurrent));
}

HttpResponse ListVersionsByFunction(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(FunctionRef ref, Resolve(call, shapes::kNamespacedFunctionName, false));
  Validator v;
  ASSIGN_OR_ERROR(int max_items, MaxItemsOf(call, v));
  RETURN_ERROR_IF(v.ToStatus());
  ASSIGN_OR_ERROR(
      auto page, ctx.functions->ListVersions(call.scope, ref.name,
                                             call.request.Query("Marker").value_or(""), max_items));
  json items = json::array();
  for (const auto& fv : page.items) {
    items.push_back(
        FunctionConfigurationJson(ctx, call.scope, fv, fv.version, ConfigView::kListItem));
  }
  json body = {{"Versions", items}};
  if (!page.next_marker.empty()) body["NextMarker"] = page.next_marker;
  return JsonResponse(200, body);
}

HttpResponse DeleteFunction(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(FunctionRef ref, Resolve(call, shapes::kNamespacedFunctionName, true));
  return StatusResponse(ctx.functions->DeleteFunction(call.scope, ref.name, ref.qualifier));
}

}  // namespace ops

}  // namespace lambkin::lambdaapi
