// Fuzzes the request-target parser (path splitting, percent-decoding, query parsing).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "server/request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view target(reinterpret_cast<const char*>(data), size);
  lambkin::server::HttpRequest request;
  if (lambkin::server::ParseTarget(target, request)) {
    // Decoding never produces more bytes than it read.
    size_t total = 0;
    for (const auto& seg : request.path) total += seg.size();
    if (total > target.size()) __builtin_trap();
  }
  return 0;
}
