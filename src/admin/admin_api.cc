#include "admin/admin_api.h"

#include <algorithm>

#include <fmt/format.h>
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

std::optional<HttpResponse> AdminApi::Handle(const server::HttpRequest& request) const {
  const auto& p = request.path;
  if (p.size() < 3 || p[0] != "lambkin" || p[1] != "v1") return std::nullopt;
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
    for (const auto& v : catalog_->List()) {
      list.push_back({{"Runtime", v.runtime},
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
                        {"arm64", catalog_->Arn(v, region, catalog::Architecture::kArm64)}}}});
    }
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
