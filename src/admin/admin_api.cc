#include "admin/admin_api.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "lambdaapi/errors.h"
#include "lambdaapi/serialize.h"

namespace lambkin::admin {

using nlohmann::json;
using server::HttpResponse;

namespace {

bool IsSha256Hex(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

json AdminApi::VersionJson(const catalog::RuntimeVersion& v, const std::string& region) const {
  return {{"Runtime", v.runtime},
          {"Version", v.number},
          {"Name", v.name},
          {"Digest", v.digest},
          {"State", catalog::RuntimeVersionStateName(v.state)},
          {"Severity", v.severity},
          {"Notes", v.notes},
          {"PublishedAt", FormatAwsTimestamp(v.published_at)},
          {"Region", region},
          {"Arns",
           {{"x86_64", catalog_->Arn(v, region, catalog::Architecture::kX86_64)},
            {"arm64", catalog_->Arn(v, region, catalog::Architecture::kArm64)}}}};
}

// POST /lambkin/v1/runtime-versions {"Runtime", "Version", "Bundle" (a directory on the
// server's machine), "Severity", "Notes"}: publishes the bundle as a new runtime version.
HttpResponse AdminApi::PublishRuntimeVersion(const server::HttpRequest& request) const {
  json body = json::parse(request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return lambdaapi::ErrorResponse({StatusCode::kInvalidRequestContent, "body is not JSON"});
  }
  catalog::PublishRequest req;
  try {
    req.runtime = body.at("Runtime").get<std::string>();
    req.number = body.at("Version").get<int64_t>();
    req.bundle_dir = body.at("Bundle").get<std::string>();
    req.severity = body.value("Severity", "low");
    req.notes = body.value("Notes", "");
  } catch (const json::exception&) {
    return lambdaapi::ErrorResponse(
        InvalidParameter("Runtime (string), Version (integer) and Bundle (string) are required"));
  }
  // Operators publish new versions of runtimes the catalogue already offers.
  if (!catalog_->HasRuntime(req.runtime)) {
    return lambdaapi::ErrorResponse(
        NotFound(fmt::format("Unknown runtime {}; the catalogue offers [{}]", req.runtime,
                             fmt::join(catalog_->Runtimes(), ", "))));
  }
  Result<catalog::RuntimeVersion> v = catalog_->Publish(req);
  if (!v.ok()) return lambdaapi::ErrorResponse(v.status());
  return lambdaapi::JsonResponse(201, VersionJson(*v, regions_->default_region()));
}

std::optional<HttpResponse> AdminApi::Handle(const server::HttpRequest& request) const {
  const auto& p = request.path;
  if (p.size() < 3 || p[0] != "lambkin" || p[1] != "v1") return std::nullopt;
  if (request.method == "POST" && p.size() == 3 && p[2] == "runtime-versions") {
    return PublishRuntimeVersion(request);
  }
  if (request.method != "GET") {
    return lambdaapi::ErrorResponse(
        {StatusCode::kNotImplemented,
         fmt::format("No admin operation {} {}", request.method, request.raw_path)});
  }
  if (p.size() == 3 && p[2] == "health") {
    return lambdaapi::JsonResponse(200, {{"status", "ok"}});
  }
  if (p.size() == 3 && p[2] == "runtime-versions") {
    std::string region = request.Query("region").value_or(regions_->default_region());
    if (regions_->Find(region) == nullptr) {
      return lambdaapi::ErrorResponse(InvalidParameter(fmt::format("Unknown region {}", region)));
    }
    json list = json::array();
    for (const auto& v : catalog_->List()) list.push_back(VersionJson(v, region));
    return lambdaapi::JsonResponse(200, {{"RuntimeVersions", list}});
  }
  if (p.size() == 4 && p[2] == "code" && IsSha256Hex(p[3])) {
    Result<std::string> zip = code_->Get(p[3]);
    if (!zip.ok()) return lambdaapi::ErrorResponse(zip.status());
    HttpResponse r;
    r.SetHeader("Content-Type", "application/zip");
    r.body = std::move(*zip);
    return r;
  }
  return lambdaapi::ErrorResponse(
      {StatusCode::kNotImplemented, fmt::format("No admin operation GET {}", request.raw_path)});
}

}  // namespace lambkin::admin
