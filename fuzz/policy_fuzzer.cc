// Fuzzes the IAM policy parser and evaluator: the input is a policy document; one that parses is
// evaluated against requests built from its own bytes, and must answer the same each time.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "iam/policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto policy = lambkin::iam::Policy::Parse(text, 20000);
  if (!policy.ok()) {
    if (policy.status().message().empty()) __builtin_trap();
    return 0;
  }
  // Requests whose action, resource and keys come from slices of the input, so patterns in the
  // policy meet texts that nearly match them.
  for (size_t cut = 0; cut <= size; cut += 1 + size / 8) {
    std::string_view a = text.substr(0, cut);
    std::string_view b = text.substr(cut);
    lambkin::iam::RequestContext r;
    r.action = "lambda:" + std::string(a.substr(0, 40));
    r.resource = "arn:aws:lambda:us-east-1:111122223333:function:" + std::string(b.substr(0, 40));
    r.Set("aws:principalarn", {std::string(a)});
    r.Set("aws:resourcetag/runtime-pin-exception", {std::string(b)});
    r.Set("aws:tagkeys", {std::string(a), std::string(b)});
    auto first = policy->Evaluate(r);
    if (policy->Evaluate(r) != first) __builtin_trap();
  }
  lambkin::iam::GlobMatch(text.substr(0, size / 2), text.substr(size / 2));
  return 0;
}
