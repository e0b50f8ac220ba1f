// Runtime definitions: what a built-in runtime is made of, and the exact packages it is made
// from.
//
// A definition is a directory (runtimes/<identifier>/ in the source tree) with runtime.json —
// the runtime identifier, the Debian suite's sources, the packages asked for, the files Lambkin
// adds (its runtime interface client under /var/runtime), the image's environment and the
// commands that finish the root filesystem (ldconfig, byte-compiling) — and one lock file per
// architecture, packages.<arch>.lock: every package of the dependency closure at an exact
// version, with its size, SHA-256 and download address. Builds read only the lock, so the same
// lock always gives the same root filesystem; `lambkin runtime build --refresh` rewrites it
// from the suite's newest versions (apt resolves the closure).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace lambkin::runtimes {

struct LockedPackage {
  std::string name;
  std::string version;
  std::string architecture;  // amd64, arm64 or all
  int64_t size = 0;
  std::string sha256;  // hex
  std::string url;
};

struct RuntimeDefinition {
  std::string dir;
  std::string runtime;  // python3.11
  std::string description;
  std::vector<std::string> sources;   // sources.list lines without "deb": "<uri> <suite> <comp>"
  std::vector<std::string> packages;  // what is asked for (the lock has the closure)
  std::string var_runtime;       // directory copied to /var/runtime (relative to dir, or absolute)
  std::vector<std::string> env;  // the image config's Env
  // Symbolic links made after unpacking (path → target), for what maintainer scripts would
  // have linked (update-alternatives: /usr/bin/awk → mawk).
  std::map<std::string, std::string> links;
  // Commands run inside the new root filesystem, in order, before it is sealed.
  std::vector<std::vector<std::string>> configure;
  int64_t source_date_epoch = 0;  // every file's mtime and the image's creation time
};

Result<RuntimeDefinition> LoadDefinition(const std::string& dir);
// The directory copied to /var/runtime (empty: none).
std::string VarRuntimeDir(const RuntimeDefinition& definition);
// <dir>/packages.<arch>.lock (arch as Debian names it: amd64, arm64).
std::string LockPath(const RuntimeDefinition& definition, std::string_view debian_arch);

// One package per line: name version architecture size sha256:<hex> url. '#' starts a comment.
Result<std::vector<LockedPackage>> ReadLock(const std::string& path);
Status WriteLock(const std::string& path, const std::vector<LockedPackage>& packages,
                 std::string_view header);

}  // namespace lambkin::runtimes
