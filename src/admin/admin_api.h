// AdminApi: Lambkin's operator HTTP API under /lambkin/v1/ (what the `lambkin` verbs call).
//
//   GET /lambkin/v1/health                      liveness; also the trivial baseline for benches
//   GET /lambkin/v1/runtime-versions?region=R   the catalogue, with each version's ARNs in R
//   POST /lambkin/v1/runtime-versions           publish a bundle as a new runtime version
//   GET /lambkin/v1/code/<sha256 hex>           a stored code package (GetFunction's Location)
//
// Thread-safe; holds no per-request state.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "catalog/catalog.h"
#include "catalog/regions.h"
#include "functions/code_package.h"
#include "server/request.h"

namespace lambkin::admin {

class AdminApi {
 public:
  AdminApi(catalog::Catalog* catalog, const catalog::RegionSet* regions,
           functions::CodePackageStore* code)
      : catalog_(catalog), regions_(regions), code_(code) {}
  // nullopt when the request is not for the admin API.
  std::optional<server::HttpResponse> Handle(const server::HttpRequest& request) const;

 private:
  server::HttpResponse PublishRuntimeVersion(const server::HttpRequest& request) const;
  nlohmann::json VersionJson(const catalog::RuntimeVersion& v, const std::string& region) const;

  catalog::Catalog* catalog_;
  const catalog::RegionSet* regions_;
  functions::CodePackageStore* code_;
};

}  // namespace lambkin::admin
