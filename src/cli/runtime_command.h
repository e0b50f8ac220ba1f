// `lambkin runtime ...`: operator verbs over the runtime catalogue of a running server.
#pragma once

#include <string>

namespace lambkin::cli {

struct RuntimeListOptions {
  std::string endpoint;
  std::string region;  // empty: the server's default region
  bool json = false;
};

int RuntimeList(const RuntimeListOptions& options);

}  // namespace lambkin::cli
