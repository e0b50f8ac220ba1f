// Dependency compatibility (spec/compliance.md §3): which of a function's bundled packages
// overlap with what its runtime provides, in which of the four rows of the table each
// dependent/dependency pair falls, and whether a newer runtime version would break it.
//
// A function depends on package A, which requires package B, and both are also provided by the
// runtime. Whichever copy the function bundles wins (Python's sys.path and Node.js's resolution
// put the deployment first), so each pair falls in one row:
//
//   A from      B from      row                      future runtime patches
//   runtime     runtime     kBothRuntime             compatible
//   deployment  deployment  kBothBundled             compatible
//   deployment  runtime     kBundledWithRuntime      compatible unless A and B are tightly coupled
//   runtime     deployment  kRuntimeWithBundled      not compatible: a new A may need a newer B
//
// The bundled packages come from a zip (InspectPackages) and the runtime's from its bill of
// materials (catalog/bom.h), both read by the same metadata parsers. Everything here is a pure
// function of its arguments and thread-safe; nothing throws.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "catalog/bom.h"
#include "common/status.h"

namespace lambkin::compliance {

// Most bytes read from one metadata file inside a zip; the rest is ignored.
inline constexpr size_t kMaxMetadataBytes = size_t{1} << 20;

// The Python and Node.js packages inside a zip (a function's code or a layer archive), given its
// bytes: each <name>-<version>.dist-info/METADATA, <name>.egg-info/PKG-INFO (with the
// requires.txt beside it, or a single-file .egg-info) at any depth, and each
// node_modules/<name>/package.json and node_modules/@scope/<name>/package.json at any depth
// (nested copies included, package.json files elsewhere inside a package not). An entry's
// `source` is the directory inside the zip that holds its metadata directory, rooted at "/":
// "/", "/python/lib/python3.12/site-packages", "/node_modules", "/node_modules/@aws-sdk",
// "/node_modules/a/node_modules" (as ReadBom does for a root filesystem).
// Reads only the central directory and the entries named above (at most kMaxMetadataBytes of
// each); metadata that does not parse is skipped. Sorted and deduplicated like ReadBom.
// kInvalidParameterValue when `zip` is not a readable zip archive.
Result<std::vector<catalog::BomEntry>> InspectPackages(std::string_view zip);

// Whether `version` satisfies the requirement `spec` of `ecosystem`:
// - python: PEP 440 versions (epoch, release, a/b/rc, post, dev; local labels ignored) against
//   specifiers ==, !=, <, <=, >, >=, ~=, ===, ==1.2.* and !=1.2.*, comma-separated (all must
//   hold). Pre-releases are accepted (this checks what is installed, not what to install), but
//   <V excludes pre-releases of V and >V post-releases of V, as PEP 440 says.
// - npm: node-semver ranges (primitives, ^, ~, x-ranges, hyphen ranges, || and space), with
//   node-semver's rule that a pre-release only satisfies a comparator set naming a pre-release of
//   the same major.minor.patch.
// An empty spec accepts every version. A version that does not parse satisfies nothing (except
// an equal ===); a spec that does not parse, and npm specs that are not ranges (file:, git+...,
// URLs, workspace:, npm: aliases, dist-tags), accept every version: what cannot be read is not
// reported as a conflict.
bool Satisfies(std::string_view ecosystem, std::string_view version, std::string_view spec);

// <0, 0 or >0 as version `a` of `ecosystem` is older than, the same as or newer than `b`
// (python: PEP 440; npm: semver precedence; deb: dpkg's ordering). Versions that do not parse
// order before those that do, and among themselves as strings.
int CompareVersions(std::string_view ecosystem, std::string_view a, std::string_view b);

// The rows of compliance.md §3's table, in increasing order of risk.
enum class Row {
  kBothRuntime,         // A and B from the runtime
  kBothBundled,         // A and B from the deployment
  kBundledWithRuntime,  // A from the deployment, B from the runtime
  kRuntimeWithBundled,  // A from the runtime, B from the deployment: the "no" row
};
// "runtime+runtime", "bundled+bundled", "bundled+runtime", "runtime+bundled".
std::string_view RowName(Row row);

// One dependent/dependency pair provided by the runtime with at least one side bundled.
struct Finding {
  Row row = Row::kBothRuntime;
  std::string ecosystem;
  std::string a, a_version;  // the dependent package (A), as declared, and the version in effect
  std::string b, b_version;  // its dependency (B) and the version in effect
  std::string spec;          // A's requirement on B ("" if implied by a coupling)
  bool coupled = false;      // A and B are a tightly coupled pair
  bool satisfied = true;     // b_version satisfies spec
  bool operator==(const Finding&) const = default;
};

struct Analysis {
  Row row = Row::kBothRuntime;    // the riskiest row over all pairs
  std::vector<Finding> findings;  // sorted by ecosystem, a, b
};

// Classifies a function's bundled packages against its runtime's bill of materials.
//
// Pairs (A, B) of one ecosystem (python or npm; deb entries are ignored) where A requires B and
// the runtime provides both (names compared after NormalizePackageName). A requires B when the
// copy of A in effect declares it, or when A and B are a tightly coupled pair:
// - python: boto3 -> botocore, boto3 -> s3transfer, s3transfer -> botocore (Debian strips
//   boto3's declared requirements, so the coupling stands in for them);
// - npm: every @aws-sdk/* package -> the @smithy/* packages among its declared requirements, or,
//   when it declares none, every @smithy/* package the runtime provides.
// When A declares several requirements on B (Python markers, which are not evaluated), the pair
// is satisfied when any of them is.
//
// Which copy is in effect: Python: a bundled copy if any (the one nearest the root of the zip),
// else the runtime's. Node.js: a bundled A at the top of a node_modules tree (one not nested in
// another package) if any, else the runtime's; and each bundled copy of A nested inside
// another package, on its own. B for a bundled A is resolved as Node.js does
// (A's own node_modules, then each enclosing node_modules), then any top-level bundled copy,
// then the runtime's; B for the runtime's A is a top-level bundled copy if any, else the
// runtime's.
Analysis Analyze(const std::vector<catalog::BomEntry>& runtime,
                 const std::vector<catalog::BomEntry>& bundled);

// What a new runtime version would break: the kRuntimeWithBundled findings of
// Analyze(new_runtime, bundled) whose requirement the bundled B does not satisfy (the new
// runtime's A needs a newer, or older, B than the function bundles).
std::vector<Finding> Predict(const std::vector<catalog::BomEntry>& new_runtime,
                             const std::vector<catalog::BomEntry>& bundled);

}  // namespace lambkin::compliance
