// Provisional: BlobStore only, as oci/image.h describes it, so the registry can be built and
// tested before issue13-oci lands; that branch's implementation replaces this file.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "common/crypto.h"
#include "oci/image.h"

namespace lambkin::oci {

namespace {

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Status Errno(std::string_view what, const std::string& path) {
  return Internal(fmt::format("{} {}: {}", what, path, std::strerror(errno)));
}

Status WriteAll(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot write", path);
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

}  // namespace

bool IsDigest(std::string_view digest) {
  constexpr std::string_view kPrefix = "sha256:";
  return digest.size() == kPrefix.size() + 64 && digest.starts_with(kPrefix) &&
         IsLowerHex(digest.substr(kPrefix.size()));
}

std::string DigestOf(std::string_view bytes) { return "sha256:" + Sha256Hex(bytes); }

struct BlobStore::Writer::Hash {
  Sha256Hasher hasher;
};

Result<std::unique_ptr<BlobStore>> BlobStore::Open(std::string dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir + "/sha256", ec);
  if (ec) return Internal(fmt::format("cannot create {}/sha256: {}", dir, ec.message()));
  return std::unique_ptr<BlobStore>(new BlobStore(std::move(dir)));
}

std::string BlobStore::Path(std::string_view digest) const {
  std::string_view hex = digest.starts_with("sha256:") ? digest.substr(7) : digest;
  return fmt::format("{}/sha256/{}", dir_, hex);
}

bool BlobStore::Has(std::string_view digest) const {
  if (!IsDigest(digest)) return false;
  struct stat st {};
  return ::stat(Path(digest).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Result<int64_t> BlobStore::Size(std::string_view digest) const {
  struct stat st {};
  if (!IsDigest(digest) || ::stat(Path(digest).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return NotFound(fmt::format("blob {} not found", digest));
  }
  return static_cast<int64_t>(st.st_size);
}

Result<std::string> BlobStore::Read(std::string_view digest) const {
  if (!Has(digest)) return NotFound(fmt::format("blob {} not found", digest));
  std::ifstream in(Path(digest), std::ios::binary);
  if (!in) return NotFound(fmt::format("blob {} not found", digest));
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

Result<std::string> BlobStore::Put(std::string_view bytes) {
  LAMBKIN_ASSIGN_OR_RETURN(std::unique_ptr<Writer> writer, NewWriter());
  LAMBKIN_RETURN_IF_ERROR(writer->Write(bytes));
  return writer->Commit();
}

Result<std::unique_ptr<BlobStore::Writer>> BlobStore::NewWriter() {
  std::string temp = fmt::format("{}/sha256/.tmp-{}", dir_, RandomUuid());
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("cannot create", temp);
  return std::unique_ptr<Writer>(new Writer(this, std::move(temp), fd));
}

BlobStore::Writer::Writer(BlobStore* store, std::string temp_path, int fd)
    : store_(store), temp_path_(std::move(temp_path)), fd_(fd), hash_(std::make_unique<Hash>()) {}

BlobStore::Writer::~Writer() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(temp_path_.c_str());
  }
}

Status BlobStore::Writer::Write(std::string_view bytes) {
  if (fd_ < 0) return Internal("the blob writer is closed");
  LAMBKIN_RETURN_IF_ERROR(WriteAll(fd_, bytes, temp_path_));
  hash_->hasher.Update(bytes);
  written_ += static_cast<int64_t>(bytes.size());
  return Status::Ok();
}

Result<std::string> BlobStore::Writer::Commit(std::string_view expected, int64_t expected_size) {
  if (fd_ < 0) return Internal("the blob writer is closed");
  std::string digest = "sha256:" + HexEncode(hash_->hasher.Finish());
  auto fail = [&](Status s) -> Status {
    ::close(fd_);
    ::unlink(temp_path_.c_str());
    fd_ = -1;
    return s;
  };
  if (expected_size >= 0 && expected_size != written_) {
    return fail(InvalidParameter(
        fmt::format("blob size {} does not match the expected {}", written_, expected_size)));
  }
  if (!expected.empty() && expected != digest) {
    return fail(
        InvalidParameter(fmt::format("blob digest {} does not match {}", digest, expected)));
  }
  if (::fsync(fd_) != 0) return fail(Errno("cannot fsync", temp_path_));
  ::close(fd_);
  fd_ = -1;
  std::string path = store_->Path(digest);
  if (::rename(temp_path_.c_str(), path.c_str()) != 0) {
    Status s = Errno("cannot rename into", path);
    ::unlink(temp_path_.c_str());
    return s;
  }
  return digest;
}

Result<std::string> BlobStore::PutFile(const std::string& path, std::string_view expected) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", path);
  LAMBKIN_ASSIGN_OR_RETURN(std::unique_ptr<Writer> writer, NewWriter());
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status s = Errno("cannot read", path);
      ::close(fd);
      return s;
    }
    if (n == 0) break;
    if (Status s = writer->Write(std::string_view(buf, static_cast<size_t>(n))); !s.ok()) {
      ::close(fd);
      return s;
    }
  }
  ::close(fd);
  return writer->Commit(expected);
}

}  // namespace lambkin::oci
