// Bills of materials: what a runtime version is made of, read from its root filesystem the
// way the packaging tools themselves record it, so that it holds for images built by anyone:
// Debian packages from dpkg's status database (/var/lib/dpkg/status and the distroless
// /var/lib/dpkg/status.d/), Python distributions from their *.dist-info/METADATA or
// *.egg-info (PKG-INFO), and Node.js packages from the package.json of each package under a
// node_modules directory or Debian's /usr/share/nodejs.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/status.h"

namespace lambkin::catalog {

struct BomEntry {
  std::string ecosystem;  // deb, python, npm
  std::string name;
  std::string version;
  std::string source;  // deb: source package; python/npm: where it was found
  bool operator==(const BomEntry&) const = default;
};

// Sorted by ecosystem, then name.
Result<std::vector<BomEntry>> ReadBom(const std::string& rootfs);

struct BomChange {
  std::string ecosystem, name, from, to;  // from empty: added; to empty: removed
};
// What changed from `a` to `b`: upgraded (or downgraded), added and removed entries.
std::vector<BomChange> DiffBom(const std::vector<BomEntry>& a, const std::vector<BomEntry>& b);

nlohmann::json BomToJson(const std::vector<BomEntry>& bom);
std::vector<BomEntry> BomFromJson(const nlohmann::json& j);

}  // namespace lambkin::catalog
