// Building a runtime version: a definition and its lock file in, an OCI image layout out.
//
// The locked Debian packages are downloaded once into a cache (verified by size and SHA-256)
// and unpacked into a fresh root filesystem; Lambkin then does what the packages' maintainer
// scripts would have done that a runtime needs (/etc/passwd with Lambda's sandbox user, /bin/sh,
// the CA bundle and its hash links, /etc/localtime, /var/lib/dpkg/status for the bill of
// materials), adds its runtime interface client under /var/runtime and AWS's
// /lambda-entrypoint.sh, runs the definition's configure commands inside the new root (in a
// bubblewrap sandbox without network), and seals the tree into one reproducible layer: sorted
// entries, owner root, every time the definition's SOURCE_DATE_EPOCH, gzip without a timestamp.
// The same lock gives the same image digest. A build whose inputs are unchanged since the last
// one (lock, definition, Lambkin's files) reuses it and downloads nothing.
#pragma once

#include <string>

#include "common/status.h"

namespace lambkin::runtimes {

struct BuildOptions {
  std::string definition_dir;
  std::string output_dir;  // the OCI layout written (replaced when the inputs changed)
  std::string cache_dir;   // packages and apt state
  bool refresh = false;    // resolve the newest package versions into a new lock first
  std::string bwrap = "bwrap";
};

struct BuildResult {
  std::string runtime;
  std::string manifest_digest;  // sha256:…
  std::string reference;        // the layout's ref.name of the image
  int64_t layer_bytes = 0;      // compressed
  int64_t rootfs_bytes = 0;     // unpacked
  int packages = 0;
  bool reused = false;
  bool lock_changed = false;
  double seconds = 0;
};

Result<BuildResult> BuildRuntime(const BuildOptions& options);

// Where packages and apt state are cached when not told: $LAMBKIN_CACHE_DIR, else
// $XDG_CACHE_HOME/lambkin, else ~/.cache/lambkin.
std::string DefaultCacheDir();

}  // namespace lambkin::runtimes
