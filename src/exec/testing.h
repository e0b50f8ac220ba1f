// Test support for the exec tests: a real root filesystem for sandboxes.
#pragma once

#include <string>

#include "catalog/catalog.h"
#include "common/status.h"
#include "oci/image.h"

namespace lambkin::exec::testing {

// The built-in provided.al2023 runtime version (the layout `make build` writes under
// LAMBKIN_RUNTIMES_DIR) unpacked into `rootfs` with the sandbox's mount points, as the catalog
// makes it; its blobs go to `blobs_dir`.
inline Status UnpackBuiltinRootfs(const std::string& blobs_dir, const std::string& rootfs) {
  LAMBKIN_ASSIGN_OR_RETURN(auto blobs, oci::BlobStore::Open(blobs_dir));
  oci::Platform host{"linux", std::string(oci::HostOciArchitecture()), ""};
  Result<oci::ResolvedImage> image =
      oci::ImportLayout(LAMBKIN_RUNTIMES_DIR "/provided.al2023", "", host, blobs.get());
  if (!image.ok()) {
    return {image.status().code(), image.status().message() + " (run make build first)"};
  }
  LAMBKIN_RETURN_IF_ERROR(oci::Unpack(*blobs, image->manifest, rootfs));
  return catalog::AddMountPoints(rootfs);
}

}  // namespace lambkin::exec::testing
