// Fuzzes what a deployment package's bundled packages are read from: Python METADATA/PKG-INFO
// with requires.txt, package.json, PEP 440 and npm version specifiers, and whole zips
// (compliance/packages.h, catalog/bom.h). The first byte picks the parser.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "catalog/bom.h"
#include "compliance/packages.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  size_t split = input.find('\n');
  std::string_view head = input.substr(0, split);
  std::string_view rest = split == std::string_view::npos ? "" : input.substr(split + 1);
  switch (data[0] % 5) {
    case 0:
      (void)lambkin::catalog::ParsePythonMetadata(head, rest, "/");
      (void)lambkin::catalog::ParsePythonMetadata(input, "", "/");
      break;
    case 1:
      (void)lambkin::catalog::ParsePackageJson(input, "/node_modules");
      break;
    case 2:
      (void)lambkin::compliance::Satisfies("python", head, rest);
      (void)lambkin::compliance::CompareVersions("python", head, rest);
      break;
    case 3:
      (void)lambkin::compliance::Satisfies("npm", head, rest);
      (void)lambkin::compliance::CompareVersions("npm", head, rest);
      break;
    default:
      (void)lambkin::compliance::InspectPackages(input);
      break;
  }
  return 0;
}
