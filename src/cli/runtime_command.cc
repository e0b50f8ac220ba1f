#include "cli/runtime_command.h"

#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/http_client.h"

namespace lambkin::cli {

int RuntimeList(const RuntimeListOptions& options) {
  std::string path = "/lambkin/v1/runtime-versions";
  if (!options.region.empty()) path += "?region=" + options.region;
  Result<ClientResponse> res = HttpGet(options.endpoint, path);
  if (!res.ok()) {
    std::fprintf(stderr, "lambkin runtime list: %s\n", res.status().message().c_str());
    return 1;
  }
  nlohmann::json body = nlohmann::json::parse(res->body, nullptr, false);
  if (res->status != 200 || body.is_discarded()) {
    std::fprintf(stderr, "lambkin runtime list: server answered %d: %s\n", res->status,
                 res->body.c_str());
    return 1;
  }
  if (options.json) {
    std::printf("%s\n", body.dump(2).c_str());
    return 0;
  }
  const auto& list = body["RuntimeVersions"];
  if (list.empty()) {
    std::printf("No runtime versions.\n");
    return 0;
  }
  std::string region = list[0]["Region"];
  std::printf("%-16s %-20s %-10s %-8s %-7s %s\n", "RUNTIME", "VERSION", "STATE", "SEVERITY", "ARCH",
              fmt::format("ARN in {}", region).c_str());
  for (const auto& v : list) {
    std::string runtime = v["Runtime"], name = v["Name"], state = v["State"],
                severity = v["Severity"];
    for (const char* arch : {"x86_64", "arm64"}) {
      std::string arn = v["Arns"][arch];
      std::printf("%-16s %-20s %-10s %-8s %-7s %s\n", runtime.c_str(), name.c_str(), state.c_str(),
                  severity.c_str(), arch, arn.c_str());
    }
  }
  return 0;
}

}  // namespace lambkin::cli
