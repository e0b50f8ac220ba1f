#include "cli/runtime_command.h"

#include <cstdio>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/http_client.h"

namespace lambkin::cli {

int RuntimePublish(const RuntimePublishOptions& o) {
  std::error_code ec;
  std::string bundle = std::filesystem::absolute(o.bundle, ec).string();
  nlohmann::json req = {{"Runtime", o.runtime}, {"Version", o.version},
                        {"Bundle", bundle},     {"Severity", o.severity},
                        {"Notes", o.notes},     {"FastTrack", o.fast_track}};
  Result<nlohmann::json> res = AdminCall(o.client, "/lambkin/v1/runtime-versions", req);
  if (!res.ok()) {
    std::fprintf(stderr, "lambkin runtime publish: %s\n", res.status().message().c_str());
    return 1;
  }
  const nlohmann::json& body = *res;
  if (o.json) {
    std::printf("%s\n", body.dump(2).c_str());
    return 0;
  }
  std::printf(
      "published %s (%s, severity %s)\n  digest %s\n  %s x86_64 %s\n  %s arm64  %s\n",
      body["Name"].get<std::string>().c_str(), body["Runtime"].get<std::string>().c_str(),
      body["Severity"].get<std::string>().c_str(), body["Digest"].get<std::string>().c_str(),
      body["Region"].get<std::string>().c_str(), body["Arns"]["x86_64"].get<std::string>().c_str(),
      body["Region"].get<std::string>().c_str(), body["Arns"]["arm64"].get<std::string>().c_str());
  return 0;
}

int RuntimeList(const RuntimeListOptions& options) {
  std::string path = "/lambkin/v1/runtime-versions";
  if (!options.region.empty()) path += "?region=" + options.region;
  Result<nlohmann::json> res = AdminCall(options.client, path);
  if (!res.ok()) {
    std::fprintf(stderr, "lambkin runtime list: %s\n", res.status().message().c_str());
    return 1;
  }
  const nlohmann::json& body = *res;
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
