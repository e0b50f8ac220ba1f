// LambdaApi: the Lambda REST API (rest-json, 2015-03-31 and friends) over FunctionService.
//
// Each API resource has one file that turns a request into a typed command (or a validation
// error), calls the domain and writes the AWS response; all routes sit in one table in
// routes.cc. Every request is authenticated first (iam::Authenticator): the caller's scope is
// the verified access key's account and the credential scope's region; then authorised for the
// route's IAM action on the function it names (routes.cc). Thread-safe: the API
// holds no per-request state.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json_fwd.hpp>

#include "catalog/catalog.h"
#include "catalog/regions.h"
#include "common/clock.h"
#include "common/status.h"
#include "exec/event_queue.h"
#include "exec/invoker.h"
#include "functions/function_policies.h"
#include "functions/function_service.h"
#include "functions/function_urls.h"
#include "iam/authenticator.h"
#include "lambdaapi/body.h"
#include "lambdaapi/names.h"
#include "lambdaapi/validation.h"
#include "server/request.h"

namespace lambkin::cluster {
class Cluster;
class Forwarder;
}  // namespace lambkin::cluster
namespace lambkin::images {
class ImageStore;
}  // namespace lambkin::images

namespace lambkin::lambdaapi {

// Where function URLs are served: http://<url-id>.lambda-url.<region>.<domain>[:<port>]/ on the
// server's own listener (docs/function-urls.md).
struct FunctionUrlSettings {
  std::string domain = "localhost";  // *.localhost resolves to loopback in curl and browsers
  uint16_t port = 0;                 // the listener's; 0: none written
};

struct ApiContext {
  functions::FunctionService* functions;
  catalog::Catalog* catalog;
  const catalog::RegionSet* regions;
  const iam::Authenticator* auth;  // who is calling (SigV4)
  exec::Invoker* invoker = nullptr;
  exec::EventQueue* events = nullptr;
  // Production (`lambkin serve --production`): a function's Role must be a role of this
  // directory in the caller's account, one Lambda could assume. Null: any well-formed role ARN.
  const iam::Directory* assumable_roles = nullptr;
  // The real time, also under a simulated clock: presigned links are checked against it.
  const Clock* wall_clock = nullptr;
  // Several nodes on one store: a synchronous invoke runs on its function's home node, where
  // the warm environments are; other nodes forward it there.
  const cluster::Cluster* cluster = nullptr;
  cluster::Forwarder* forwarder = nullptr;
  // Container images: pulled (verified, into the blob store) when a function is created or its
  // code updated. Null: PackageType Image is refused.
  images::ImageStore* images = nullptr;
  // Refuse image indexes as AWS does (1.3 row 11) instead of resolving them to the function's
  // architecture (`images.strict_index`).
  bool strict_image_index = false;
  // Runs work that blocks for long (pulling an image) off the server's I/O threads; null: in
  // place.
  std::function<void(std::function<void()>)> offload;
  functions::LayerService* layers = nullptr;
  // Asynchronous invocation configurations (PutFunctionEventInvokeConfig and friends); null:
  // those operations answer UnknownOperationException.
  const exec::EventInvokeConfigStore* event_invoke_configs = nullptr;
  // Function policies (AddPermission…), also consulted by authorisation; function URLs.
  functions::FunctionPolicies* policies = nullptr;
  functions::FunctionUrls* urls = nullptr;
  const FunctionUrlSettings* url_settings = nullptr;
};

// One matched request: the HTTP request, the caller's scope and the URI labels.
struct Call {
  const server::HttpRequest& request;
  functions::Scope scope;  // the caller's account and the request's region
  std::map<std::string, std::string> labels;
  const iam::Identity* identity = nullptr;  // who is calling

  const std::string& Label(const std::string& name) const { return labels.at(name); }
  // The request's JSON body, parsed once for the call (authorisation reads CreateFunction's and
  // TagResource's before the operation does), or kInvalidRequestContent.
  Result<std::reference_wrapper<const Body>> JsonBody() const;
  // lambdaapi::ResolveFunction within the call's scope. The last answer is kept: authorisation
  // and then the operation resolve the same name, and validating it is not free.
  Result<FunctionRef> ResolveFunction(std::string_view raw, const StringShape& shape,
                                      const std::optional<std::string>& query_qualifier) const;

  mutable std::optional<Result<Body>> parsed_body = std::nullopt;  // JsonBody()'s
  struct Resolved {
    std::string raw;
    const StringShape* shape;
    std::optional<std::string> query_qualifier;
    Result<FunctionRef> ref;
  };
  mutable std::optional<Resolved> resolved = std::nullopt;  // ResolveFunction()'s last
};

using Operation = server::HttpResponse (*)(const ApiContext&, const Call&);
// An operation that answers later (Invoke waits for the function).
using AsyncOperation = void (*)(const ApiContext&, const Call&, server::Respond);

// The {FunctionName} label of an operation that acts on a function itself (never on a version
// or alias), validated against the FunctionName shape and resolved within the caller's scope.
Result<std::string> UnqualifiedFunctionName(const Call& call);

// GetFunction's Code.Location: the operator API's link to the code package `sha256_hex` of
// the function version `ref` addresses, presigned (SigV4 query form, credential scope service
// `lambkin`) with the caller's own access key and session token, valid for 10 minutes, like
// AWS's presigned S3 URL. Whoever uses it is that caller, who must still be allowed
// lambda:GetFunction on the function. Under AuthMode::kNone it is signed with the development
// key, which nothing checks.
std::string CodeLocation(const ApiContext& ctx, const Call& call, const FunctionRef& ref,
                         std::string_view sha256_hex);

// PublishLayerVersion's and GetLayerVersion's Content.Location: like CodeLocation, a presigned
// operator API link to the layer version's archive, for whoever may get that layer version.
std::string LayerCodeLocation(const ApiContext& ctx, const Call& call,
                              std::string_view layer_version_arn, std::string_view sha256_hex);
// The caller as a layer's permissions see them (their account's organization from the
// directory, their ARN for AccessDenied messages).
functions::LayerCaller LayerCallerOf(const iam::Identity* identity, const functions::Scope& scope);
// The layer (version) ARN a layer route names, for authorisation; nullopt for other routes.
std::optional<std::string> LayerResource(const Call& call);
// The Layers member of CreateFunction / UpdateFunctionConfiguration (each checked against the
// LayerVersionArn pattern into `v`); empty when absent.
Result<std::vector<std::string>> ParseLayersMember(const Body& body, Validator& v);

// The Tags of a CreateFunction or TagResource body, validated as Lambda does (keys 1-128
// characters not starting with "aws:", values up to 256, at most 50).
Result<std::map<std::string, std::string>> ParseTags(const nlohmann::json* tags);

// Code.ImageUri (CreateFunction) or ImageUri (UpdateFunctionCode): checked as AWS checks an
// image URI (a registry host and a tag or digest written out), pulled for `arch` with every blob
// verified (an index resolved to the architecture unless strict), and its base recognised among
// the runtime versions. Errors are AWS's (images.md §1.3).
Result<functions::ImageCode> PullImageCode(const ApiContext& ctx, std::string_view uri,
                                           catalog::Architecture arch);
// ImageConfig {EntryPoint, Command, WorkingDirectory} of a CreateFunction or
// UpdateFunctionConfiguration body (nullopt when absent), constraints checked into `v`.
Result<std::optional<functions::ImageConfigOverrides>> ParseImageConfigMember(const Body& body,
                                                                              Validator& v);

// The page size a list operation returns: ?MaxItems= (validated into `v`, 1 to the model's
// `model_max`), capped at 50 as AWS caps it.
Result<int> MaxItemsOf(const Call& call, Validator& v, int model_max = 10000);

// The URL a function URL configuration is called at (its FunctionUrl).
std::string FunctionUrlOf(const ApiContext& ctx, const functions::FunctionUrlConfig& config);

class LambdaApi {
 public:
  explicit LambdaApi(ApiContext ctx) : ctx_(std::move(ctx)) {}
  // Routes a request and answers it through `respond`; false (and `respond` untouched) when no
  // Lambda route matches, so another API may take it.
  bool Handle(const server::HttpRequest& request, server::Respond& respond) const;
  // Serves a function URL request (url_invoke.cc): false when the request is not for one (its
  // Host is no <url-id>.lambda-url.<region>.<domain>, its path not /lambda-url/…).
  bool HandleFunctionUrl(const server::HttpRequest& request, server::Respond& respond) const;

 private:
  ApiContext ctx_;
};

// Operations, one per AWS operation (defined in the resource files).
namespace ops {
server::HttpResponse CreateFunction(const ApiContext&, const Call&);
server::HttpResponse GetFunction(const ApiContext&, const Call&);
server::HttpResponse GetFunctionConfiguration(const ApiContext&, const Call&);
server::HttpResponse ListFunctions(const ApiContext&, const Call&);
server::HttpResponse UpdateFunctionCode(const ApiContext&, const Call&);
server::HttpResponse UpdateFunctionConfiguration(const ApiContext&, const Call&);
server::HttpResponse PublishVersion(const ApiContext&, const Call&);
server::HttpResponse ListVersionsByFunction(const ApiContext&, const Call&);
server::HttpResponse DeleteFunction(const ApiContext&, const Call&);
server::HttpResponse CreateAlias(const ApiContext&, const Call&);
server::HttpResponse GetAlias(const ApiContext&, const Call&);
server::HttpResponse UpdateAlias(const ApiContext&, const Call&);
server::HttpResponse DeleteAlias(const ApiContext&, const Call&);
server::HttpResponse ListAliases(const ApiContext&, const Call&);
server::HttpResponse GetRuntimeManagementConfig(const ApiContext&, const Call&);
server::HttpResponse PutRuntimeManagementConfig(const ApiContext&, const Call&);
void Invoke(const ApiContext&, const Call&, server::Respond);
server::HttpResponse InvokeAsync(const ApiContext&, const Call&);
server::HttpResponse PutFunctionEventInvokeConfig(const ApiContext&, const Call&);
server::HttpResponse UpdateFunctionEventInvokeConfig(const ApiContext&, const Call&);
server::HttpResponse GetFunctionEventInvokeConfig(const ApiContext&, const Call&);
server::HttpResponse DeleteFunctionEventInvokeConfig(const ApiContext&, const Call&);
server::HttpResponse ListFunctionEventInvokeConfigs(const ApiContext&, const Call&);
server::HttpResponse PutFunctionConcurrency(const ApiContext&, const Call&);
server::HttpResponse GetFunctionConcurrency(const ApiContext&, const Call&);
server::HttpResponse DeleteFunctionConcurrency(const ApiContext&, const Call&);
server::HttpResponse TagResource(const ApiContext&, const Call&);
server::HttpResponse UntagResource(const ApiContext&, const Call&);
server::HttpResponse ListTags(const ApiContext&, const Call&);
server::HttpResponse PublishLayerVersion(const ApiContext&, const Call&);
server::HttpResponse GetLayerVersion(const ApiContext&, const Call&);
server::HttpResponse GetLayerVersionByArn(const ApiContext&, const Call&);
server::HttpResponse ListLayers(const ApiContext&, const Call&);
server::HttpResponse ListLayerVersions(const ApiContext&, const Call&);
server::HttpResponse DeleteLayerVersion(const ApiContext&, const Call&);
server::HttpResponse AddLayerVersionPermission(const ApiContext&, const Call&);
server::HttpResponse RemoveLayerVersionPermission(const ApiContext&, const Call&);
server::HttpResponse GetLayerVersionPolicy(const ApiContext&, const Call&);
server::HttpResponse GetAccountSettings(const ApiContext&, const Call&);
server::HttpResponse GetFunctionCodeSigningConfig(const ApiContext&, const Call&);
server::HttpResponse DeleteFunctionCodeSigningConfig(const ApiContext&, const Call&);
server::HttpResponse AddPermission(const ApiContext&, const Call&);
server::HttpResponse RemovePermission(const ApiContext&, const Call&);
server::HttpResponse GetPolicy(const ApiContext&, const Call&);
server::HttpResponse CreateFunctionUrlConfig(const ApiContext&, const Call&);
server::HttpResponse GetFunctionUrlConfig(const ApiContext&, const Call&);
server::HttpResponse UpdateFunctionUrlConfig(const ApiContext&, const Call&);
server::HttpResponse DeleteFunctionUrlConfig(const ApiContext&, const Call&);
server::HttpResponse ListFunctionUrlConfigs(const ApiContext&, const Call&);
}  // namespace ops

}  // namespace lambkin::lambdaapi
