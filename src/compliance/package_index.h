// PackageIndex: what each stored zip (a function's code or a layer archive) bundles, by its
// SHA-256 — the packages compliance/packages.h finds in it — kept in the store's
// package_contents table so each package is inspected once, whichever node asks.
//
// A package missing from the table (deployed before the table existed, or recorded by a node
// that crashed first) is inspected from CodePackageStore when asked for, and recorded then.
// Thread-safe; keeps what it read in memory (contents never change: a package is named by its
// digest).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/bom.h"
#include "common/status.h"
#include "functions/code_package.h"
#include "store/database.h"

namespace lambkin::compliance {

using Packages = std::shared_ptr<const std::vector<catalog::BomEntry>>;

class PackageIndex {
 public:
  PackageIndex(store::Database* db, functions::CodePackageStore* code) : db_(db), code_(code) {}

  // Its table, as numbered migrations.
  static const store::Migrations& Schema();

  // What the package bundles (empty for one that is not stored, such as an image's digest).
  Result<Packages> Of(const std::string& sha256_hex);
  // Loads the recorded contents of every package in `sha256_hexes` in one read, inspecting
  // the ones never recorded.
  Status Preload(const std::vector<std::string>& sha256_hexes);

 private:
  Result<Packages> Inspect(const std::string& sha256_hex, std::string_view zip);
  // Inspects this node's copy of the package, mapped; kResourceNotFound when there is none.
  Result<Packages> InspectMapped(const std::string& sha256_hex);
  // Inspects the stored package (mapped, else fetched from the code store) and records it;
  // empty for a digest the store does not have (an image's).
  Result<Packages> InspectStored(const std::string& sha256_hex);

  store::Database* db_;
  functions::CodePackageStore* code_;
  std::mutex mu_;
  std::map<std::string, Packages, std::less<>> cache_;
};

}  // namespace lambkin::compliance
