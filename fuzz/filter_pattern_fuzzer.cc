// Fuzzes CloudWatch Logs filter patterns (FilterLogEvents' filterPattern, written by callers):
// the input's first line is a pattern, the rest log messages to match it against.
#include <cstddef>
#include <cstdint>
#include <string>

#include "logs/filter_pattern.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  size_t split = input.find('\n');
  std::string pattern = input.substr(0, split);
  if (pattern.size() > 1024) return 0;  // FilterLogEvents refuses longer ones (logs_api.cc)
  std::string rest = split == std::string::npos ? "" : input.substr(split + 1);
  auto p = lambkin::logs::FilterPattern::Parse(pattern);
  if (!p.ok()) {
    if (p.status().message().empty()) __builtin_trap();
    return 0;
  }
  size_t start = 0;
  while (start <= rest.size()) {
    size_t end = rest.find('\n', start);
    if (end == std::string::npos) end = rest.size();
    (void)p->Matches(std::string_view(rest).substr(start, end - start));
    start = end + 1;
  }
  return 0;
}
