// AdminApi: Lambkin's operator HTTP API under /lambkin/v1/ (what the `lambkin` verbs call).
//
// Operators are principals like every other caller: each request but GET /lambkin/v1/health is
// authenticated with SigV4 exactly as the AWS APIs are (iam::Authenticator, credential scope
// service `lambkin`) and authorised for the route's own IAM action (`lambkin:AdvanceClock`,
// `lambkin:ApplyIamDeclaration`, ...) on its resource, under the caller's identity policies and
// the account's SCPs. A refusal is the AWS 403 (MissingAuthenticationTokenException,
// InvalidSignatureException, UnrecognizedClientException, AccessDeniedException) in the Lambda
// API's error shape, and changes nothing. routes.cc holds every route with its action and
// resource; docs/iam.md lists them for users. Under iam::AuthMode::kNone everything is open.
//
// Thread-safe; holds no per-request state.
#pragma once

#include <optional>
#include <string>

#include "catalog/catalog.h"
#include "catalog/regions.h"
#include "common/clock.h"
#include "compliance/package_index.h"
#include "functions/code_package.h"
#include "functions/function_service.h"
#include "iam/authenticator.h"
#include "iam/directory.h"
#include "insights/insight_rules.h"
#include "logs/log_writer.h"
#include "oci/registry_client.h"
#include "rollout/engine.h"
#include "server/request.h"

namespace lambkin::images {
class ImageStore;
}  // namespace lambkin::images

namespace lambkin::admin {

// The SigV4 credential scope's service name for the operator API.
constexpr char kSigningService[] = "lambkin";

class AdminApi {
 public:
  struct Deps {
    catalog::Catalog* catalog;
    const catalog::RegionSet* regions;
    functions::CodePackageStore* code;
    functions::FunctionService* functions;
    rollout::RolloutEngine* rollout;
    insights::InsightRules* insights;
    logs::LogWriter* log_writer;  // flushed before a report
    const Clock* clock;
    bool simulated_clock;
    std::string account;
    iam::Directory* directory;
    const iam::Authenticator* auth;  // who is calling
    // Image functions (`lambkin image rebase`): where images are pulled to, and the
    // operator's registry credentials the rebased image is pushed with. Null: no rebase.
    images::ImageStore* images = nullptr;
    oci::BlobStore* blobs = nullptr;  // the store `images` pulls into
    const oci::RegistryCredentials* registry_credentials = nullptr;
    // Layer archives (GetLayerVersion's Content.Location).
    functions::LayerService* layers = nullptr;
    // The store (runtime lifecycles, the compliance report) and what packages bundle.
    store::Database* db = nullptr;
    compliance::PackageIndex* packages = nullptr;
  };
  explicit AdminApi(Deps deps) : d_(std::move(deps)) {}
  // nullopt when the request is not for the admin API (its path is not under /lambkin/v1/).
  std::optional<server::HttpResponse> Handle(const server::HttpRequest& request) const;

 private:
  Deps d_;
};

}  // namespace lambkin::admin
