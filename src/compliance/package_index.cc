#include "compliance/package_index.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "compliance/packages.h"

namespace lambkin::compliance {

namespace {
// What package_contents holds for a package, read back.
Packages FromText(std::string_view text) {
  return std::make_shared<const std::vector<catalog::BomEntry>>(
      catalog::BomFromJson(nlohmann::json::parse(text, nullptr, false)));
}
}  // namespace

const store::Migrations& PackageIndex::Schema() {
  static const store::Migrations kMigrations = {
      {"package_contents", 1, R"sql(
CREATE TABLE IF NOT EXISTS package_contents (
  sha256 TEXT PRIMARY KEY,             -- hex: the code package (functions' code, layers)
  packages TEXT NOT NULL               -- JSON: catalog::BomToJson of what it bundles
);
)sql",
       "", nullptr},
  };
  return kMigrations;
}

Result<Packages> PackageIndex::Inspect(const std::string& sha256_hex, std::string_view zip) {
  LAMBKIN_ASSIGN_OR_RETURN(std::vector<catalog::BomEntry> found, InspectPackages(zip));
  auto packages = std::make_shared<const std::vector<catalog::BomEntry>>(std::move(found));
  std::string text = catalog::BomToJson(*packages).dump();
  LAMBKIN_RETURN_IF_ERROR(db_->Transact([&](store::Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare("INSERT INTO package_contents (sha256, packages) "
                                                  "VALUES (?,?) ON CONFLICT (sha256) DO NOTHING"));
    st.Bind(1, sha256_hex).Bind(2, text);
    return st.Run();
  }));
  std::lock_guard lock(mu_);
  cache_[sha256_hex] = packages;
  return Packages(packages);
}

Result<Packages> PackageIndex::InspectMapped(const std::string& sha256_hex) {
  std::string path = code_->PathOf(sha256_hex);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NotFound(path);
  struct stat st {};
  void* map = MAP_FAILED;
  if (::fstat(fd, &st) == 0 && st.st_size > 0) {
    map = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  }
  ::close(fd);
  if (map == MAP_FAILED) return NotFound(path);
  Result<Packages> out = Inspect(
      sha256_hex, std::string_view(static_cast<const char*>(map), static_cast<size_t>(st.st_size)));
  ::munmap(map, static_cast<size_t>(st.st_size));
  return out;
}

Status PackageIndex::Preload(const std::vector<std::string>& sha256_hexes) {
  std::vector<std::string> wanted;
  {
    std::lock_guard lock(mu_);
    for (const std::string& s : sha256_hexes) {
      if (!cache_.contains(s)) wanted.push_back(s);
    }
  }
  if (wanted.empty()) return Status::Ok();
  std::sort(wanted.begin(), wanted.end());
  std::map<std::string, Packages, std::less<>> read;
  LAMBKIN_RETURN_IF_ERROR(db_->Read([&](store::Txn& txn) -> Status {
    read.clear();
    LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare("SELECT sha256, packages FROM package_contents"));
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      std::string sha = st.ColumnText(0);
      if (!std::binary_search(wanted.begin(), wanted.end(), sha)) continue;
      read[sha] = FromText(st.ColumnView(1));
    }
    return Status::Ok();
  }));
  {
    std::lock_guard lock(mu_);
    for (auto& [sha, p] : read) cache_.emplace(sha, std::move(p));
  }
  for (const std::string& sha : wanted) {
    if (!read.contains(sha)) LAMBKIN_RETURN_IF_ERROR(InspectStored(sha).status());
  }
  return Status::Ok();
}

Result<Packages> PackageIndex::Of(const std::string& sha256_hex) {
  {
    std::lock_guard lock(mu_);
    if (auto it = cache_.find(sha256_hex); it != cache_.end()) return it->second;
  }
  std::optional<std::string> text;
  LAMBKIN_RETURN_IF_ERROR(db_->Read([&](store::Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(auto st,
                             txn.Prepare("SELECT packages FROM package_contents WHERE sha256 = ?"));
    st.Bind(1, sha256_hex);
    LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
    if (row) text = st.ColumnText(0);
    return Status::Ok();
  }));
  if (text) {
    std::lock_guard lock(mu_);
    return cache_.emplace(sha256_hex, FromText(*text)).first->second;
  }
  return InspectStored(sha256_hex);
}

Result<Packages> PackageIndex::InspectStored(const std::string& sha256_hex) {
  // The stored file mapped: inspection reads only the central directory and metadata entries.
  if (Result<Packages> mapped = InspectMapped(sha256_hex); mapped.ok()) return mapped;
  Result<std::string> zip = code_->Get(sha256_hex);
  if (!zip.ok()) {
    if (zip.status().code() == StatusCode::kResourceNotFound) {
      return Packages(std::make_shared<const std::vector<catalog::BomEntry>>());
    }
    return zip.status();
  }
  return Inspect(sha256_hex, *zip);
}

}  // namespace lambkin::compliance
