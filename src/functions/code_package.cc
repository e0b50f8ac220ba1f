#include "functions/code_package.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include <fmt/format.h>

#include "common/crypto.h"

namespace lambkin::functions {

namespace {

constexpr char kCouldNotUnzip[] =
    "Could not unzip uploaded file. Please check your file, then try to upload again.";

// A path escapes the package root if it is absolute or climbs above it with "..".
bool EscapesRoot(std::string_view path) {
  if (path.starts_with('/') || path.starts_with('\\')) return true;
  int depth = 0;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find_first_of("/\\", start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part == "..") {
      if (--depth < 0) return true;
    } else if (!part.empty() && part != ".") {
      ++depth;
    }
    start = end + 1;
  }
  return false;
}

Status WriteFileDurably(const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp-" + RandomUuid();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Internal(fmt::format("cannot create {}", tmp));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n <= 0) {
      ::close(fd);
      ::unlink(tmp.c_str());
      return Internal(fmt::format("cannot write {}", tmp));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return Internal(fmt::format("cannot sync {}", tmp));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return Internal(fmt::format("cannot rename {}", tmp));
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

}  // namespace

Result<CodePackageInfo> InspectZip(std::string_view zip) {
  if (static_cast<int64_t>(zip.size()) > kMaxZippedBytes) {
    return Status(StatusCode::kRequestEntityTooLarge,
                  fmt::format("Zipped size must be smaller than {} bytes", kMaxZippedBytes));
  }
  // Zip files start with a local file header or, when empty, the end-of-central-directory.
  if (zip.size() < 22 || !(zip.starts_with("PK\x03\x04") || zip.starts_with("PK\x05\x06"))) {
    return InvalidParameter(kCouldNotUnzip);
  }
  std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
  archive_read_support_format_zip(a.get());
  if (archive_read_open_memory(a.get(), zip.data(), zip.size()) != ARCHIVE_OK) {
    return InvalidParameter(kCouldNotUnzip);
  }
  CodePackageInfo info;
  std::vector<char> buf(size_t{64} * 1024);
  while (true) {
    archive_entry* entry = nullptr;
    int rc = archive_read_next_header(a.get(), &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) return InvalidParameter(kCouldNotUnzip);
    const char* name = archive_entry_pathname(entry);
    if (name == nullptr || EscapesRoot(name)) return InvalidParameter(kCouldNotUnzip);
    ++info.entries;
    // Count what really decompresses, not what the headers claim.
    while (true) {
      la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
      if (n == 0) break;
      if (n < 0) return InvalidParameter(kCouldNotUnzip);
      info.unzipped_size += n;
      if (info.unzipped_size > kMaxUnzippedBytes) {
        return InvalidParameter(
            fmt::format("Unzipped size must be smaller than {} bytes", kMaxUnzippedBytes));
      }
    }
  }
  std::string digest = Sha256(zip);
  info.sha256_hex = HexEncode(digest);
  info.sha256_base64 = Base64Encode(digest);
  info.size = static_cast<int64_t>(zip.size());
  return info;
}

Status CodePackageStore::Init() {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Internal(fmt::format("cannot create {}: {}", dir_, ec.message()));
  return Status::Ok();
}

std::string CodePackageStore::PathOf(std::string_view sha256_hex) const {
  return fmt::format("{}/{}.zip", dir_, sha256_hex);
}

Status CodePackageStore::Put(const CodePackageInfo& info, std::string_view zip) {
  std::string path = PathOf(info.sha256_hex);
  std::error_code ec;
  if (std::filesystem::file_size(path, ec) == static_cast<uintmax_t>(info.size) && !ec) {
    return Status::Ok();
  }
  return WriteFileDurably(path, zip);
}

Result<std::string> CodePackageStore::Get(std::string_view sha256_hex) const {
  std::ifstream in(PathOf(sha256_hex), std::ios::binary);
  if (!in) return NotFound(fmt::format("code package {} not found", sha256_hex));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void CodePackageStore::Remove(std::string_view sha256_hex) {
  std::error_code ec;
  std::filesystem::remove(PathOf(sha256_hex), ec);
}

}  // namespace lambkin::functions
