// Whole-file reads and hashes, with failures as Status (NotFound when the file cannot be
// opened, Internal when reading fails).
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace lambkin {

Result<std::string> ReadWholeFile(const std::string& path);
// Lowercase hex SHA-256 of the file's content, read in 64 KiB pieces; its size in `*size`.
Result<std::string> Sha256FileHex(const std::string& path, int64_t* size);

}  // namespace lambkin
