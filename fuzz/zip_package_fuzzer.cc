// Fuzzes code package inspection (libarchive zip reading, path and size checks).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "functions/code_package.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view zip(reinterpret_cast<const char*>(data), size);
  auto info = lambkin::functions::InspectZip(zip);
  if (info.ok() && info->size != static_cast<int64_t>(size)) __builtin_trap();
  return 0;
}
