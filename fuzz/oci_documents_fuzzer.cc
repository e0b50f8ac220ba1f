// Fuzzes what Lambkin reads from registries and image layouts: manifests, indexes and image
// configs (the bytes a registry answers), platform selection, and image references (what an
// operator types). Whatever parses must parse again to the same result; refusals must say why.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "oci/image.h"
#include "oci/registry_client.h"

namespace oci = lambkin::oci;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (std::string_view type : {std::string_view(), oci::kOciManifest, oci::kDockerManifest}) {
    auto m = oci::ParseManifest(text, type);
    if (!m.ok()) {
      if (m.status().message().empty()) __builtin_trap();
      continue;
    }
    if (!oci::IsDigest(m->config.digest)) __builtin_trap();
    for (const auto& l : m->layers) {
      if (!oci::IsDigest(l.digest) || l.size < 0) __builtin_trap();
    }
  }
  for (std::string_view type : {std::string_view(), oci::kOciIndex, oci::kDockerManifestList}) {
    auto i = oci::ParseIndex(text, type);
    if (!i.ok()) {
      if (i.status().message().empty()) __builtin_trap();
      continue;
    }
    auto chosen = oci::SelectPlatform(*i, {"linux", "amd64", ""});
    if (chosen.ok() && !oci::IsDigest(chosen->digest)) __builtin_trap();
  }
  if (auto c = oci::ParseImageConfig(text); !c.ok() && c.status().message().empty()) {
    __builtin_trap();
  }
  (void)oci::DocumentMediaType(text);
  if (size <= 512) {
    auto r = oci::ParseImageReference(text);
    if (r.ok()) {
      auto again = oci::ParseImageReference(r->ToString());
      if (!again.ok() || again->registry != r->registry || again->repository != r->repository ||
          again->digest != r->digest) {
        __builtin_trap();
      }
    }
  }
  return 0;
}
