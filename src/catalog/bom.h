// Bills of materials: what a runtime version is made of, read from its root filesystem the
// way the packaging tools themselves record it, so that it holds for images built by anyone:
// Debian packages from dpkg's status database (/var/lib/dpkg/status and the distroless
// /var/lib/dpkg/status.d/), Python distributions from their *.dist-info/METADATA or
// *.egg-info (PKG-INFO and requires.txt), and Node.js packages from the package.json of each
// package under a node_modules directory or Debian's /usr/share/nodejs.
//
// Each Python and Node.js entry also carries what it requires (name and version specifier),
// which the compliance checks (compliance/packages.h) compare with what a function bundles.
// The parsers of those metadata files are exposed here so that a runtime's root filesystem and
// a function's zip are read by the same code.
//
// Everything here is a pure function of its input (ReadBom reads the files it names); metadata
// that does not parse is skipped, never an error.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/status.h"

namespace lambkin::catalog {

// One package's requirement on another.
struct Requirement {
  // python: normalised (NormalizePackageName), extras dropped; npm: as declared.
  std::string name;
  // The version specifier as written, without spaces or parentheses: PEP 440 for python
  // ("<1.36.0,>=1.35.62"), a node-semver range for npm ("^3.0.0"). Empty: any version.
  std::string spec;
  bool operator==(const Requirement&) const = default;
};

struct BomEntry {
  std::string ecosystem;  // deb, python, npm
  std::string name;       // as declared (python: Name, not normalised; see NormalizePackageName)
  std::string version;
  std::string source;  // deb: source package; python/npm: the directory where it was found
  // What the package requires, in the order declared. python: unconditional Requires-Dist
  // (markers are ignored, requirements of an extra dropped); npm: dependencies and
  // peerDependencies. Empty for deb.
  std::vector<Requirement> depends;
  bool operator==(const BomEntry&) const = default;
};

// The name packages of `ecosystem` compare by: python per PEP 503 (lower case, every run of
// '-', '_' and '.' becomes one '-'); others unchanged.
std::string NormalizePackageName(std::string_view ecosystem, std::string_view name);

// A Python distribution from its core metadata (a dist-info's METADATA or an egg-info's PKG-INFO)
// and, for an egg-info, the requires.txt beside it ("" when there is none): lines before the
// first [section] and those of [:marker] sections are unconditional; [extra] and [extra:marker]
// sections are skipped. Requires-Dist lines whose marker mentions `extra` are skipped; other
// markers are ignored. nullopt when the metadata lacks Name or Version.
std::optional<BomEntry> ParsePythonMetadata(std::string_view metadata,
                                            std::string_view requires_txt, std::string source);
// A Node.js package from its package.json (name, version, dependencies and peerDependencies).
// nullopt unless it is a JSON object with string name and version.
std::optional<BomEntry> ParsePackageJson(std::string_view json, std::string source);

// Sorts by ecosystem, name, version and source, and drops duplicates.
void SortBom(std::vector<BomEntry>* bom);

// Sorted by ecosystem, then name.
Result<std::vector<BomEntry>> ReadBom(const std::string& rootfs);

struct BomChange {
  std::string ecosystem, name, from, to;  // from empty: added; to empty: removed
};
// What changed from `a` to `b`: upgraded (or downgraded), added and removed entries.
std::vector<BomChange> DiffBom(const std::vector<BomEntry>& a, const std::vector<BomEntry>& b);

// [{"Ecosystem", "Name", "Version", "Source", "Requires": [{"Name", "Spec"}]}], "Requires"
// omitted when empty. BomFromJson reads what BomToJson wrote, and stores written before
// "Requires" existed (their entries require nothing).
nlohmann::json BomToJson(const std::vector<BomEntry>& bom);
std::vector<BomEntry> BomFromJson(const nlohmann::json& j);

}  // namespace lambkin::catalog
