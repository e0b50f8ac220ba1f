#include "cli/runtime_command.h"

#include <cstdio>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/http_client.h"
#include "runtimes/builder.h"
#include "runtimes/definition.h"

namespace lambkin::cli {

int RuntimePublish(const RuntimePublishOptions& o) {
  std::string image = o.image;
  if (image.starts_with("oci:")) {
    // The layout is read by the server: send an absolute path (the reference after the last
    // ':' stays as given).
    std::string rest = image.substr(4);
    size_t colon = rest.rfind(':');
    std::string dir = colon == std::string::npos ? rest : rest.substr(0, colon);
    std::string ref = colon == std::string::npos ? "" : rest.substr(colon);
    std::error_code ec;
    image = "oci:" + std::filesystem::absolute(dir, ec).lexically_normal().string() + ref;
  }
  nlohmann::json req = {{"Runtime", o.runtime},
                        {"Image", image},
                        {"Severity", o.severity},
                        {"Notes", o.notes},
                        {"FastTrack", o.fast_track}};
  if (o.version > 0) req["Version"] = o.version;
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

int RuntimeBuild(const RuntimeBuildOptions& o) {
  std::string cache = o.cache.empty() ? runtimes::DefaultCacheDir() : o.cache;
  int failures = 0;
  for (const auto& dir : o.definitions) {
    Result<runtimes::RuntimeDefinition> d = runtimes::LoadDefinition(dir);
    if (!d.ok()) {
      std::fprintf(stderr, "lambkin runtime build: %s\n", d.status().message().c_str());
      ++failures;
      continue;
    }
    runtimes::BuildOptions b;
    b.definition_dir = dir;
    b.output_dir = o.output + "/" + d->runtime;
    b.cache_dir = cache;
    b.refresh = o.refresh;
    Result<runtimes::BuildResult> r = runtimes::BuildRuntime(b);
    if (!r.ok()) {
      std::fprintf(stderr, "lambkin runtime build %s: %s\n", dir.c_str(),
                   r.status().message().c_str());
      ++failures;
      continue;
    }
    if (!o.quiet || !r->reused) {
      std::printf("%s %s: %s (%d packages, %.1f MB unpacked, %.1f MB layer) in %.1f s%s\n",
                  r->reused ? "unchanged" : "built", r->runtime.c_str(), r->manifest_digest.c_str(),
                  r->packages, static_cast<double>(r->rootfs_bytes) / 1e6,
                  static_cast<double>(r->layer_bytes) / 1e6, r->seconds,
                  r->lock_changed ? ", new lock" : "");
    }
    if (o.publish) {
      RuntimePublishOptions p = o.publish_options;
      p.runtime = r->runtime;
      p.image = "oci:" + b.output_dir + ":" + r->reference;
      if (RuntimePublish(p) != 0) ++failures;
    }
  }
  return failures == 0 ? 0 : 1;
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
