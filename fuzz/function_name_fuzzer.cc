// Fuzzes function-name resolution: model patterns, ARN splitting, qualifier reconciliation.
#include <cstddef>
#include <cstdint>
#include <string>

#include "lambdaapi/names.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  size_t split = input.find('\n');
  std::string name = input.substr(0, split);
  std::optional<std::string> qualifier;
  if (split != std::string::npos) qualifier = input.substr(split + 1);
  const lambkin::functions::Scope scope{"123456789012", "us-east-1"};
  for (const auto* shape : {&lambkin::lambdaapi::shapes::kFunctionName,
                            &lambkin::lambdaapi::shapes::kNamespacedFunctionName}) {
    auto ref = lambkin::lambdaapi::ResolveFunction(name, *shape, scope, qualifier);
    if (!ref.ok()) continue;
    // A resolved name is never empty. Operations taking a plain function name refuse one past
    // 64 characters; the namespaced shape (Get/Delete/Invoke) lets it through to answer 404, as
    // AWS does, but never past the whole input.
    if (ref->name.empty() || ref->name.size() > name.size()) __builtin_trap();
    if (shape == &lambkin::lambdaapi::shapes::kFunctionName && ref->name.size() > 64)
      __builtin_trap();
  }
  return 0;
}
