// `lambkin runtime ...`: operator verbs over the runtime catalogue of a running server.
#pragma once

#include <string>

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
  std::string bundle;  // a directory; made absolute before it is sent
  std::string severity = "low";
  std::string notes;
  bool fast_track = false;
  bool json = false;
};

int RuntimePublish(const RuntimePublishOptions& options);

}  // namespace lambkin::cli
