// `lambkin runtime ...`: operator verbs over the runtime catalogue of a running server.
#pragma once

#include <string>
#include <vector>

#include "cli/http_client.h"

namespace lambkin::cli {

struct RuntimeListOptions {
  ApiClient client;
  std::string region;  // whose ARNs to show
  bool json = false;
};

int RuntimeList(const RuntimeListOptions& options);

struct RuntimePublishOptions {
  ApiClient client;
  std::string runtime;
  int64_t version = 0;
  // The image: oci:<layout dir>[:<ref>] (made absolute before it is sent), or a registry
  // reference the server pulls (host/repository:tag or @sha256:…).
  std::string image;
  std::string severity = "low";
  std::string notes;
  bool fast_track = false;
  bool json = false;
};

int RuntimePublish(const RuntimePublishOptions& options);

struct RuntimeBuildOptions {
  std::vector<std::string> definitions;   // runtimes/<identifier> directories
  std::string output = "build/runtimes";  // one OCI layout per runtime under it
  std::string cache;                      // default: runtimes::DefaultCacheDir()
  bool refresh = false;
  bool quiet = false;
  // Publish each built image as the next version of its runtime on the server.
  bool publish = false;
  RuntimePublishOptions publish_options;
};

// `lambkin runtime build`: runtime versions from pinned Debian packages (runtimes/builder.h).
int RuntimeBuild(const RuntimeBuildOptions& options);

}  // namespace lambkin::cli
