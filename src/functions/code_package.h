// Code packages: the zip files functions are deployed from.
//
// Inspect() reads a zip completely (with libarchive) and refuses what Lambda refuses: data
// that is not a zip, entries whose path escapes the package root, and packages over the
// zipped or unzipped size limits. CodePackageStore keeps accepted packages on disk, named by
// their SHA-256, written durably (temp file, fsync, rename) before the function that uses them
// is committed. Thread-safe: stores and removals of distinct packages do not interfere, and a
// package's name is its content, so concurrent stores of the same package are harmless.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

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
  explicit CodePackageStore(std::string dir) : dir_(std::move(dir)) {}
  // Creates the directory.
  Status Init();
  // Durably stores `zip` under its digest (no-op if already present).
  Status Put(const CodePackageInfo& info, std::string_view zip);
  Result<std::string> Get(std::string_view sha256_hex) const;
  void Remove(std::string_view sha256_hex);
  std::string PathOf(std::string_view sha256_hex) const;
  // The package unpacked into a directory (done once per package, then reused): what an
  // execution environment mounts read-only at /var/task. Every file is made readable by all,
  // as Lambda's sandbox user must read it; executable bits are kept.
  Result<std::string> Unpacked(std::string_view sha256_hex);

 private:
  std::string dir_;
};

}  // namespace lambkin::functions
