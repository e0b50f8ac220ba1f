#include "functions/code_package.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/crypto.h"
#include "common/files.h"

namespace lambkin::functions {

namespace {

// Rows are read in pieces of this size (a 50 MB package is not one 100 MB hex text result).
constexpr int64_t kFetchChunkBytes = int64_t{8} << 20;

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

// Lays the tree `from` over `to`: directories made, files hard-linked (the unpacked packages
// are never written again, so sharing their files costs no copy), a file or link already there
// replaced.
Status LinkTree(const std::string& from, const std::string& to) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(from, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    fs::path target = fs::path(to) / fs::relative(it->path(), from, ec);
    if (ec) break;
    fs::file_status st = it->symlink_status(ec);
    if (ec) break;
    if (fs::is_directory(st)) {
      // A directory replaces a file or link of an earlier layer.
      if (!fs::is_directory(fs::symlink_status(target, ec))) fs::remove(target, ec);
      fs::create_directories(target, ec);
      fs::permissions(target, fs::perms(0755), ec);
    } else {
      fs::remove_all(target, ec);
      if (fs::is_symlink(st)) {
        fs::copy_symlink(it->path(), target, ec);
      } else {
        fs::create_hard_link(it->path(), target, ec);
      }
    }
    if (ec) break;
  }
  if (ec) return Internal(fmt::format("cannot merge layer {} into /opt: {}", from, ec.message()));
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
      // "smaller than": the limit itself is refused too, as on AWS.
      if (info.unzipped_size >= kMaxUnzippedBytes) {
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
  if (!shared()) return Status::Ok();
  // Packages of versions written before the table existed are only on the disks of the nodes
  // that stored them: each node uploads what it has.
  std::vector<std::string> missing;
  LAMBKIN_RETURN_IF_ERROR(db_->Read([&](store::Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(auto st,
                             txn.Prepare("SELECT DISTINCT v.code_sha256 FROM function_versions v "
                                         "WHERE NOT EXISTS (SELECT 1 FROM code_packages p "
                                         "WHERE p.sha256 = v.code_sha256)"));
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      missing.push_back(st.ColumnText(0));
    }
    return Status::Ok();
  }));
  for (const std::string& sha : missing) {
    Result<std::string> zip = ReadWholeFile(PathOf(sha));
    if (!zip.ok()) continue;  // another node may have it
    if (Sha256Hex(*zip) != sha) {
      return Internal(fmt::format("code package {} does not match its digest", PathOf(sha)));
    }
    CodePackageInfo info;
    info.sha256_hex = sha;
    info.size = static_cast<int64_t>(zip->size());
    LAMBKIN_RETURN_IF_ERROR(db_->Transact([&](store::Txn& txn) { return Put(txn, info, *zip); }));
  }
  return Status::Ok();
}

std::string CodePackageStore::PathOf(std::string_view sha256_hex) const {
  return fmt::format("{}/{}.zip", dir_, sha256_hex);
}

Status CodePackageStore::Put(store::Txn& txn, const CodePackageInfo& info, std::string_view zip) {
  if (txn.engine() == store::Engine::kPostgres) {
    // Under the store's write lock: a row seen here stays until this transaction ends.
    LAMBKIN_ASSIGN_OR_RETURN(auto has, txn.Prepare("SELECT 1 FROM code_packages WHERE sha256 = ?"));
    has.Bind(1, info.sha256_hex);
    LAMBKIN_ASSIGN_OR_RETURN(bool present, has.Step());
    if (present) return Status::Ok();
    LAMBKIN_ASSIGN_OR_RETURN(
        auto ins, txn.Prepare("INSERT INTO code_packages (sha256, size, bytes) VALUES (?, ?, ?) "
                              "ON CONFLICT (sha256) DO NOTHING"));
    ins.Bind(1, info.sha256_hex).Bind(2, info.size).BindBlob(3, zip);
    return ins.Run();
  }
  std::string path = PathOf(info.sha256_hex);
  std::error_code ec;
  if (std::filesystem::file_size(path, ec) == static_cast<uintmax_t>(info.size) && !ec) {
    return Status::Ok();
  }
  return WriteFileDurably(path, zip);
}

std::shared_ptr<std::mutex> CodePackageStore::PackageMutex(std::string_view sha256_hex) {
  std::lock_guard lock(mu_);
  std::erase_if(busy_, [](const auto& kv) { return kv.second.expired(); });
  auto& slot = busy_[std::string(sha256_hex)];
  std::shared_ptr<std::mutex> m = slot.lock();
  if (!m) {
    m = std::make_shared<std::mutex>();
    slot = m;
  }
  return m;
}

Result<std::string> CodePackageStore::Fetch(std::string_view sha256_hex) {
  std::string zip;
  int64_t size = 0;
  // One snapshot: the row cannot change between the pieces.
  LAMBKIN_RETURN_IF_ERROR(db_->Read([&](store::Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(
        auto head, txn.Prepare("SELECT size, length(bytes) FROM code_packages WHERE sha256 = ?"));
    head.Bind(1, sha256_hex);
    LAMBKIN_ASSIGN_OR_RETURN(bool row, head.Step());
    if (!row) return NotFound(fmt::format("code package {} not found", sha256_hex));
    size = head.ColumnInt(0);
    int64_t length = head.ColumnInt(1);
    if (length != size || size > kMaxZippedBytes) {
      return Internal(fmt::format("stored code package {} is damaged: {} bytes, {} recorded",
                                  sha256_hex, length, size));
    }
    zip.reserve(static_cast<size_t>(size));
    LAMBKIN_ASSIGN_OR_RETURN(
        auto piece, txn.Prepare("SELECT substr(bytes, ?, ?) FROM code_packages WHERE sha256 = ?"));
    while (static_cast<int64_t>(zip.size()) < size) {
      piece.Bind(1, static_cast<int64_t>(zip.size()) + 1).Bind(2, kFetchChunkBytes);
      piece.Bind(3, sha256_hex);
      LAMBKIN_ASSIGN_OR_RETURN(bool got, piece.Step());
      std::string bytes = got ? piece.ColumnBlob(0) : std::string();
      LAMBKIN_RETURN_IF_ERROR(piece.Reset());
      if (bytes.empty()) break;
      zip += bytes;
    }
    return Status::Ok();
  }));
  if (static_cast<int64_t>(zip.size()) != size || Sha256Hex(zip) != sha256_hex) {
    return Internal(fmt::format(
        "stored code package {} is damaged: its content does not match its digest", sha256_hex));
  }
  LAMBKIN_RETURN_IF_ERROR(WriteFileDurably(PathOf(sha256_hex), zip));
  return zip;
}

Result<std::string> CodePackageStore::ReadOrFetch(std::string_view sha256_hex) {
  Result<std::string> local = ReadWholeFile(PathOf(sha256_hex));
  if (local.ok() || local.status().code() != StatusCode::kResourceNotFound) return local;
  if (!shared()) return NotFound(fmt::format("code package {} not found", sha256_hex));
  return Fetch(sha256_hex);
}

Result<std::string> CodePackageStore::Get(std::string_view sha256_hex) {
  Result<std::string> local = ReadWholeFile(PathOf(sha256_hex));
  if (local.ok() || local.status().code() != StatusCode::kResourceNotFound) return local;
  if (!shared()) return NotFound(fmt::format("code package {} not found", sha256_hex));
  std::shared_ptr<std::mutex> m = PackageMutex(sha256_hex);
  std::lock_guard lock(*m);
  return ReadOrFetch(sha256_hex);  // another reader may have fetched it meanwhile
}

Status CodePackageStore::Remove(store::Txn& txn, std::string_view sha256_hex, Local local) {
  if (txn.engine() == store::Engine::kPostgres) {
    LAMBKIN_ASSIGN_OR_RETURN(auto del, txn.Prepare("DELETE FROM code_packages WHERE sha256 = ?"));
    LAMBKIN_RETURN_IF_ERROR(del.Bind(1, sha256_hex).Run());
  }
  if (local == Local::kKeep) return Status::Ok();
  std::error_code ec;
  std::filesystem::remove(PathOf(sha256_hex), ec);
  std::filesystem::remove_all(fmt::format("{}/unpacked/{}", dir_, sha256_hex), ec);
  return Status::Ok();
}

Result<std::string> CodePackageStore::Merged(const std::vector<std::string>& sha256_hexes) {
  namespace fs = std::filesystem;
  std::string key = Sha256Hex(fmt::format("{}", fmt::join(sha256_hexes, "\n")));
  std::string target = fmt::format("{}/opt/{}", dir_, key);
  std::error_code ec;
  if (fs::is_directory(target, ec)) return target;
  std::vector<std::string> sources;
  for (const std::string& sha : sha256_hexes) {
    LAMBKIN_ASSIGN_OR_RETURN(std::string dir, Unpacked(sha));
    sources.push_back(std::move(dir));
  }
  std::shared_ptr<std::mutex> m = PackageMutex("opt/" + key);
  std::lock_guard lock(*m);
  if (fs::is_directory(target, ec)) return target;  // merged meanwhile
  // Merge beside the target, then rename: a reader never sees a half-merged directory.
  std::string staging = fmt::format("{}/opt/.staging-{}", dir_, RandomUuid());
  fs::create_directories(staging, ec);
  if (ec) return Internal(fmt::format("cannot create {}: {}", staging, ec.message()));
  for (const std::string& source : sources) {
    if (Status s = LinkTree(source, staging); !s.ok()) {
      fs::remove_all(staging, ec);
      return s;
    }
  }
  fs::permissions(staging, fs::perms(0755), ec);
  fs::rename(staging, target, ec);
  if (ec) {
    fs::remove_all(staging, ec);
    if (fs::is_directory(target)) return target;
    return Internal(fmt::format("cannot move merged layers: {}", ec.message()));
  }
  return target;
}

Result<std::string> CodePackageStore::Unpacked(std::string_view sha256_hex) {
  namespace fs = std::filesystem;
  std::string target = fmt::format("{}/unpacked/{}", dir_, sha256_hex);
  std::error_code ec;
  if (fs::is_directory(target, ec)) return target;
  std::shared_ptr<std::mutex> m = PackageMutex(sha256_hex);
  std::lock_guard lock(*m);
  if (fs::is_directory(target, ec)) return target;  // unpacked meanwhile
  LAMBKIN_ASSIGN_OR_RETURN(std::string zip, ReadOrFetch(sha256_hex));
  // Unpack beside the target, then rename: a reader never sees a half-unpacked package.
  std::string staging = fmt::format("{}/unpacked/.staging-{}", dir_, RandomUuid());
  fs::create_directories(staging, ec);
  if (ec) return Internal(fmt::format("cannot create {}: {}", staging, ec.message()));
  auto cleanup = [&] { fs::remove_all(staging, ec); };
  std::unique_ptr<archive, decltype(&archive_read_free)> in(archive_read_new(), archive_read_free);
  std::unique_ptr<archive, decltype(&archive_write_free)> out(archive_write_disk_new(),
                                                              archive_write_free);
  archive_read_support_format_zip(in.get());
  archive_write_disk_set_options(out.get(), ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                                ARCHIVE_EXTRACT_SECURE_SYMLINKS);
  if (archive_read_open_memory(in.get(), zip.data(), zip.size()) != ARCHIVE_OK) {
    cleanup();
    return Internal(fmt::format("cannot read stored package {}", sha256_hex));
  }
  while (true) {
    archive_entry* entry = nullptr;
    int rc = archive_read_next_header(in.get(), &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
      cleanup();
      return Internal(
          fmt::format("cannot unpack {}: {}", sha256_hex, archive_error_string(in.get())));
    }
    // Entry names were checked not to escape the root when the package was accepted; they are
    // placed under the staging directory (an absolute path, hence no SECURE_NOABSOLUTEPATHS).
    std::string path = fmt::format("{}/{}", staging, archive_entry_pathname(entry));
    archive_entry_set_pathname(entry, path.c_str());
    // Readable (and, for directories and executables, searchable) by the sandbox user.
    mode_t mode = archive_entry_perm(entry);
    bool is_dir = archive_entry_filetype(entry) == AE_IFDIR;
    mode |= (is_dir || (mode & 0111) != 0) ? 0555 : 0444;
    archive_entry_set_perm(entry, mode & 0755);
    if (archive_write_header(out.get(), entry) != ARCHIVE_OK) {
      std::string err = archive_error_string(out.get()) ? archive_error_string(out.get()) : "";
      cleanup();
      return Internal(fmt::format("cannot unpack {}: {}", sha256_hex, err));
    }
    const void* block = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    while ((rc = archive_read_data_block(in.get(), &block, &size, &offset)) == ARCHIVE_OK) {
      if (archive_write_data_block(out.get(), block, size, offset) < ARCHIVE_OK) break;
    }
    if (rc != ARCHIVE_EOF || archive_write_finish_entry(out.get()) < ARCHIVE_OK) {
      std::string err = archive_error_string(out.get()) ? archive_error_string(out.get()) : "";
      cleanup();
      return Internal(fmt::format("cannot unpack {}: {}", sha256_hex, err));
    }
  }
  archive_write_close(out.get());
  fs::permissions(staging, fs::perms(0755), ec);
  fs::rename(staging, target, ec);
  if (ec) {
    cleanup();
    if (fs::is_directory(target)) return target;  // unpacked concurrently by someone else
    return Internal(fmt::format("cannot move unpacked package: {}", ec.message()));
  }
  return target;
}

}  // namespace lambkin::functions
