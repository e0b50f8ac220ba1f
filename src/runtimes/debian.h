// Debian packages as the material of runtime versions: downloading a locked package into a
// cache (verified by size and SHA-256), unpacking its files into a root filesystem being built
// (with merged /usr: /bin, /sbin, /lib and /lib64 are links into /usr, as on every Debian since
// 12), and resolving a definition's packages to a new lock with apt.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "runtimes/definition.h"

namespace lambkin::runtimes {

// The cached file for `package` under `cache_dir`/debs/, downloaded first when missing.
Result<std::string> FetchPackage(const LockedPackage& package, const std::string& cache_dir);

// Creates the merged-/usr links in an empty `root`.
Status PrepareRoot(const std::string& root);

// Unpacks the files of the .deb at `deb_path` into `root` and returns its control file (the
// stanza dpkg records in /var/lib/dpkg/status). Paths that would leave `root` are refused.
Result<std::string> UnpackPackage(const std::string& deb_path, const std::string& root);

// Resolves the definition's packages and their whole dependency closure (Depends and
// Pre-Depends, no Recommends) to the newest versions in its sources, with apt-get in a private
// state directory under `cache_dir`/apt/ (the sources' indexes are downloaded).
Result<std::vector<LockedPackage>> ResolvePackages(const RuntimeDefinition& definition,
                                                   std::string_view debian_arch,
                                                   const std::string& cache_dir);

}  // namespace lambkin::runtimes
