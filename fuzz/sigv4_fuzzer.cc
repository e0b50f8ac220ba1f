// Fuzzes SigV4 parsing and verification: the input's first line is the request target, the next
// lines headers ("name:value", the Authorization header among them), then a blank line and the
// body.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "iam/sigv4.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  lambkin::server::HttpRequest r;
  r.method = "POST";
  std::getline(in, r.target);
  if (!lambkin::server::ParseTarget(r.target, r)) return 0;
  std::string line;
  while (std::getline(in, line) && !line.empty()) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    r.headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
  }
  std::getline(in, r.body, '\0');
  auto sig = lambkin::iam::ParseSigV4(r);
  if (!sig.ok()) {
    if (sig.status().message().empty()) __builtin_trap();
    return 0;
  }
  if (!sig->has_value()) return 0;
  if ((*sig)->signature.size() != 64) __builtin_trap();
  lambkin::Status s = lambkin::iam::VerifySigV4(r, **sig, "secret", 1440938160000);
  if (s.ok() && (*sig)->signature == std::string(64, '0')) __builtin_trap();
  return 0;
}
