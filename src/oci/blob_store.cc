// BlobStore: <dir>/sha256/<hex>, written through <dir>/tmp/ and renamed into place.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/crypto.h"
#include "common/files.h"
#include "oci/image.h"

namespace lambkin::oci {

namespace {

std::string ErrnoText() { return std::strerror(errno); }

Status SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Internal(fmt::format("cannot open {}: {}", dir, ErrnoText()));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Internal(fmt::format("cannot fsync {}: {}", dir, ErrnoText()));
  return Status::Ok();
}

Result<std::string> HashFile(const std::string& path, int64_t* size) {
  LAMBKIN_ASSIGN_OR_RETURN(std::string hex, Sha256FileHex(path, size));
  return "sha256:" + hex;
}

}  // namespace

struct BlobStore::Writer::Hash {
  Sha256Hasher hasher;
};

Result<std::unique_ptr<BlobStore>> BlobStore::Open(std::string dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir + "/sha256", ec);
  if (!ec) std::filesystem::create_directories(dir + "/tmp", ec);
  if (ec) return Internal(fmt::format("cannot create the blob store {}: {}", dir, ec.message()));
  return std::unique_ptr<BlobStore>(new BlobStore(std::move(dir)));
}

std::string BlobStore::Path(std::string_view digest) const {
  size_t colon = digest.find(':');
  std::string_view hex = colon == std::string_view::npos ? digest : digest.substr(colon + 1);
  return fmt::format("{}/sha256/{}", dir_, hex);
}

bool BlobStore::Has(std::string_view digest) const {
  if (!IsDigest(digest)) return false;
  struct stat st {};
  return ::stat(Path(digest).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Result<int64_t> BlobStore::Size(std::string_view digest) const {
  if (!IsDigest(digest)) return InvalidParameter(fmt::format("\"{}\" is not a digest", digest));
  struct stat st {};
  if (::stat(Path(digest).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return NotFound(fmt::format("blob {} is not in the store", digest));
  }
  return static_cast<int64_t>(st.st_size);
}

Result<std::string> BlobStore::Read(std::string_view digest) const {
  if (!IsDigest(digest)) return InvalidParameter(fmt::format("\"{}\" is not a digest", digest));
  std::string path = Path(digest);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return NotFound(fmt::format("blob {} is not in the store", digest));
    return Internal(fmt::format("cannot open {}: {}", path, ErrnoText()));
  }
  std::string out;
  std::string buf(1 << 16, '\0');
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string error = ErrnoText();
      ::close(fd);
      return Internal(fmt::format("cannot read {}: {}", path, error));
    }
    if (n == 0) break;
    out.append(buf.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  // Whole reads are of small documents: cheap to check, and a damaged store is caught here.
  if (DigestOf(out) != digest) {
    return Internal(
        fmt::format("blob {} in {} is damaged: its content has another digest", digest, dir_));
  }
  return out;
}

Result<std::string> BlobStore::Put(std::string_view bytes) {
  LAMBKIN_ASSIGN_OR_RETURN(std::unique_ptr<Writer> writer, NewWriter());
  LAMBKIN_RETURN_IF_ERROR(writer->Write(bytes));
  return writer->Commit();
}

Result<std::unique_ptr<BlobStore::Writer>> BlobStore::NewWriter() {
  std::string temp = dir_ + "/tmp/blob-XXXXXX";
  int fd = ::mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) return Internal(fmt::format("cannot create a file in {}/tmp: {}", dir_, ErrnoText()));
  return std::unique_ptr<Writer>(new Writer(this, std::move(temp), fd));
}

Result<std::string> BlobStore::PutFile(const std::string& path, std::string_view expected) {
  if (!expected.empty() && !IsDigest(expected)) {
    return InvalidParameter(fmt::format("\"{}\" is not a digest", expected));
  }
  if (!expected.empty() && Has(expected)) return std::string(expected);
  // A hard link to a temporary name first: the hash is then of exactly the inode that is renamed
  // into place.
  std::string temp = dir_ + "/tmp/link-XXXXXX";
  int fd = ::mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) return Internal(fmt::format("cannot create a file in {}/tmp: {}", dir_, ErrnoText()));
  ::close(fd);
  ::unlink(temp.c_str());
  if (::link(path.c_str(), temp.c_str()) != 0) {
    if (errno != EXDEV && errno != EPERM && errno != EMLINK) {
      return Internal(fmt::format("cannot read {}: {}", path, ErrnoText()));
    }
    // Another file system: copy through a writer.
    int in = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) return Internal(fmt::format("cannot open {}: {}", path, ErrnoText()));
    Result<std::unique_ptr<Writer>> writer = NewWriter();
    std::string buf(1 << 16, '\0');
    Status status = writer.status();
    while (status.ok()) {
      ssize_t n = ::read(in, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) status = Internal(fmt::format("cannot read {}: {}", path, ErrnoText()));
      if (n <= 0) break;
      status = (*writer)->Write(std::string_view(buf.data(), static_cast<size_t>(n)));
    }
    ::close(in);
    LAMBKIN_RETURN_IF_ERROR(status);
    return (*writer)->Commit(expected);
  }
  int64_t size = 0;
  Result<std::string> digest = HashFile(temp, &size);
  if (digest.ok() && !expected.empty() && *digest != expected) {
    digest = InvalidParameter(
        fmt::format("{} has digest {}, not the expected {}", path, *digest, expected));
  }
  if (!digest.ok()) {
    ::unlink(temp.c_str());
    return digest.status();
  }
  if (::rename(temp.c_str(), Path(*digest).c_str()) != 0) {
    std::string error = ErrnoText();
    ::unlink(temp.c_str());
    return Internal(fmt::format("cannot store blob {}: {}", *digest, error));
  }
  LAMBKIN_RETURN_IF_ERROR(SyncDirectory(dir_ + "/sha256"));
  return digest;
}

BlobStore::Writer::Writer(BlobStore* store, std::string temp_path, int fd)
    : store_(store), temp_path_(std::move(temp_path)), fd_(fd), hash_(std::make_unique<Hash>()) {}

BlobStore::Writer::~Writer() {
  if (fd_ >= 0) ::close(fd_);
  if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
}

Status BlobStore::Writer::Write(std::string_view bytes) {
  if (fd_ < 0) return Internal("blob writer used after Commit");
  hash_->hasher.Update(bytes);
  while (!bytes.empty()) {
    ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Internal(fmt::format("cannot write {}: {}", temp_path_, ErrnoText()));
    bytes.remove_prefix(static_cast<size_t>(n));
    written_ += n;
  }
  return Status::Ok();
}

Result<std::string> BlobStore::Writer::Commit(std::string_view expected, int64_t expected_size) {
  if (fd_ < 0) return Internal("blob writer committed twice");
  std::string digest = "sha256:" + HexEncode(hash_->hasher.Finish());
  int fd = fd_;
  fd_ = -1;
  auto fail = [&](Status status) {
    ::close(fd);
    ::unlink(temp_path_.c_str());
    temp_path_.clear();
    return status;
  };
  if (expected_size >= 0 && written_ != expected_size) {
    return fail(InvalidParameter(
        fmt::format("blob is {} bytes, not the expected {}", written_, expected_size)));
  }
  if (!expected.empty() && digest != expected) {
    return fail(InvalidParameter(
        fmt::format("blob content has digest {}, not the expected {}", digest, expected)));
  }
  if (::fchmod(fd, 0444) != 0 || ::fsync(fd) != 0) {
    return fail(Internal(fmt::format("cannot sync {}: {}", temp_path_, ErrnoText())));
  }
  ::close(fd);
  if (::rename(temp_path_.c_str(), store_->Path(digest).c_str()) != 0) {
    std::string error = ErrnoText();
    ::unlink(temp_path_.c_str());
    temp_path_.clear();
    return Internal(fmt::format("cannot store blob {}: {}", digest, error));
  }
  temp_path_.clear();
  LAMBKIN_RETURN_IF_ERROR(SyncDirectory(store_->dir() + "/sha256"));
  return digest;
}

}  // namespace lambkin::oci
