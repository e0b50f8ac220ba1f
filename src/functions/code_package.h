// Code packages: the zip files functions are deployed from.
//
// Inspect() reads a zip completely (with libarchive) and refuses what Lambda refuses: data
// that is not a zip, entries whose path escapes the package root, and packages over the
// zipped or unzipped size limits.
//
// CodePackageStore keeps accepted packages named by their SHA-256 (hex). Where they live
// depends on the store:
//  - SQLite (one node): on the local disk only, `<dir>/<sha256>.zip`, written durably (temp
//    file, fsync, rename) before the transaction of the function version that uses it commits.
//    The store's `code_packages` table stays empty, so a package is not kept twice.
//  - PostgreSQL (several nodes): in the `code_packages` table, inserted in the transaction of
//    the version that uses it and deleted in the transaction that drops its last user. The
//    local directory is a cache: a package missing from it is fetched from the table, its
//    SHA-256 checked (a row that does not match is refused, never served), and written
//    durably to the cache before use. Nothing evicts the cache.
// The table is migration `functions` 2 (functions::Schema()). On either store each node
// unpacks a package once, into `<dir>/unpacked/<sha256>/`.
//
// Thread-safe: stores and removals of distinct packages do not interfere, a package's name is
// its content, so concurrent stores of the same package are harmless, and concurrent readers
// of one missing package fetch and unpack it once.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/database.h"

namespace lambkin::functions {

inline constexpr int64_t kMaxZippedBytes = 52428800;     // 50 MB
inline constexpr int64_t kMaxUnzippedBytes = 262144000;  // 250 MB

struct CodePackageInfo {
  std::string sha256_hex;
  std::string sha256_base64;  // CodeSha256
  int64_t size = 0;           // CodeSize: the zip's size in bytes
  int64_t unzipped_size = 0;
  int64_t entries = 0;
};

// Validates `zip` and describes it. Errors: kRequestEntityTooLarge over 50 MB zipped,
// kInvalidParameterValue for a malformed zip, an escaping path or over 250 MB unzipped.
Result<CodePackageInfo> InspectZip(std::string_view zip);

class CodePackageStore {
 public:
  // `db` is the store of the function versions that name the packages; `dir` the local
  // directory (SQLite: the packages themselves; PostgreSQL: a cache).
  CodePackageStore(store::Database* db, std::string dir) : db_(db), dir_(std::move(dir)) {}
  // Creates the directory. PostgreSQL: uploads the local packages that function versions use
  // but the table lacks (stores from before the table).
  Status Init();
  // Stores `zip` under its digest in `txn`, the Transact() transaction of the version that
  // uses it (no-op if already present).
  Status Put(store::Txn& txn, const CodePackageInfo& info, std::string_view zip);
  // The zip; on PostgreSQL fetched into the cache when missing. kResourceNotFound when the
  // store does not have it, kInternal when the stored bytes do not match the digest.
  Result<std::string> Get(std::string_view sha256_hex);
  // Deletes the package in `txn`; the caller has checked that no function version uses it.
  // Local::kKeep leaves this node's copy (environments may still run it): on SQLite nothing is
  // deleted then; on PostgreSQL only the row.
  enum class Local { kRemove, kKeep };
  Status Remove(store::Txn& txn, std::string_view sha256_hex, Local local = Local::kRemove);
  std::string PathOf(std::string_view sha256_hex) const;
  // The package unpacked into a directory (done once per package, then reused): what an
  // execution environment mounts read-only at /var/task. Every file is made readable by all,
  // as Lambda's sandbox user must read it; executable bits are kept.
  Result<std::string> Unpacked(std::string_view sha256_hex);
  // The packages (a function's layers) unpacked in this order into one directory, a later
  // package's files replacing an earlier one's: what an environment mounts read-only at /opt.
  // Made once per ordered list, under `<dir>/opt/<sha256 of the list>/`, then reused.
  Result<std::string> Merged(const std::vector<std::string>& sha256_hexes);

 private:
  bool shared() const { return db_->engine() == store::Engine::kPostgres; }
  // Held while a package is fetched or unpacked, so concurrent readers do it once.
  std::shared_ptr<std::mutex> PackageMutex(std::string_view sha256_hex);
  // The local copy, else (PostgreSQL) the row, checked and written to the cache.
  Result<std::string> ReadOrFetch(std::string_view sha256_hex);
  Result<std::string> Fetch(std::string_view sha256_hex);

  store::Database* db_;
  std::string dir_;
  std::mutex mu_;
  std::map<std::string, std::weak_ptr<std::mutex>, std::less<>> busy_;
};

}  // namespace lambkin::functions
