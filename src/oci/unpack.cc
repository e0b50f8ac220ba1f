// Unpack: applying image layers to a directory, safely against hostile layers.
//
// Every path is resolved one component at a time from a descriptor of `dest`, never through the
// kernel's own path walk: each component is examined without following it (O_NOFOLLOW), a
// symlink met in the middle of a path is expanded the way it would be inside the container
// (an absolute target starts again at `dest`), and a ".." that would climb above `dest` makes
// the entry refused. Nothing is therefore ever created, changed or removed outside `dest`.
//
// What is deliberately not reproduced from the layer: setuid and setgid bits (stripped: a
// sandbox never needs them and an operator's image should not grant them), extended attributes
// (file capabilities included), device nodes and sockets (skipped). Owners are applied only
// when running as root. Directory modes and times are applied after the last layer, so that a
// read-only directory can still receive entries from upper layers.
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <set>

#include "common/crypto.h"
#include "oci/image.h"

namespace lambkin::oci {

namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueWhiteout = ".wh..wh..opq";
constexpr int kMaxSymlinks = 40;
// Setuid and setgid are never kept (see the file comment); the sticky bit is (/tmp).
constexpr mode_t kKeptModeBits = 01777;

std::string ErrnoText() { return std::strerror(errno); }

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = other.fd_;
      other.fd_ = -1;
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_ = -1;
};

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view part = path.substr(start, slash - start);
    if (!part.empty() && part != ".") out.emplace_back(part);
    start = slash + 1;
  }
  return out;
}

std::string JoinPath(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out += '/';
    out += p;
  }
  return out;
}

// The components of an entry's own path: relative, without "..". Refused otherwise.
Result<std::vector<std::string>> EntryComponents(std::string_view path, std::string_view what) {
  if (path.starts_with('/')) {
    return InvalidParameter(fmt::format("{} \"{}\" is an absolute path", what, path));
  }
  std::vector<std::string> parts = SplitPath(path);
  for (const std::string& p : parts) {
    if (p == "..") {
      return InvalidParameter(fmt::format("{} \"{}\" climbs out with ..", what, path));
    }
  }
  return parts;
}

// A directory inside the root, reached by a resolved path (symlinks expanded).
struct ResolvedDir {
  Fd fd;                          // O_PATH is not enough for *at() writes: a real directory fd
  std::vector<std::string> path;  // from the root, no symlinks
};

class Applier {
 public:
  explicit Applier(int root_fd) : root_fd_(root_fd), as_root_(::geteuid() == 0) {}

  // Applies one layer; `diff_id` (may be empty: not checked) is the digest its uncompressed
  // stream must have.
  Status ApplyLayer(const std::string& file, const Descriptor& layer, const std::string& diff_id);
  Status FinishDirectories();

 private:
  // Opens the directory at `parts` (relative to the root), following symlinks inside the root
  // only, creating missing directories when `create` is set. `what` names the entry for errors.
  Result<ResolvedDir> OpenDir(const std::vector<std::string>& parts, bool create,
                              std::string_view what);
  Status ApplyEntry(struct archive* ar, struct archive_entry* entry);
  Status Whiteout(ResolvedDir& dir, const std::string& name, std::string_view what);
  Status RemoveLower(int dir_fd, const std::string& key);
  Status WriteFile(struct archive* ar, int dir_fd, const std::string& name,
                   struct archive_entry* entry, std::string_view what);
  void SetOwner(int dir_fd, const std::string& name, struct archive_entry* entry);

  int root_fd_;
  bool as_root_;
  // The layer's tar stream ended right after the last entry's data, without the padding to a
  // whole block or the end-of-archive blocks (layers `umoci insert` writes): nothing follows.
  bool ended_after_data_ = false;
  // Paths (resolved, relative to the root) the current layer wrote: whiteouts and opaque
  // directories only hide what lower layers left.
  std::set<std::string> layer_paths_;
  struct DirAttrs {
    mode_t mode;
    int64_t uid, gid;
    struct timespec mtime;
  };
  std::map<std::string, DirAttrs> dir_attrs_;
};

std::string Key(const std::vector<std::string>& dir, const std::string& name) {
  std::string key = JoinPath(dir);
  if (!key.empty()) key += '/';
  return key + name;
}

// Removes `name` in `dir_fd`, whatever it is (a directory with everything under it).
Status RemoveAt(int dir_fd, const std::string& name) {
  struct stat st {};
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return errno == ENOENT ? Status::Ok()
                           : Internal(fmt::format("cannot stat {}: {}", name, ErrnoText()));
  }
  if (S_ISDIR(st.st_mode)) {
    int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return Internal(fmt::format("cannot open {}: {}", name, ErrnoText()));
    DIR* d = ::fdopendir(fd);
    if (d == nullptr) {
      ::close(fd);
      return Internal(fmt::format("cannot read {}: {}", name, ErrnoText()));
    }
    std::vector<std::string> children;
    while (struct dirent* e = ::readdir(d)) {
      std::string child = e->d_name;
      if (child != "." && child != "..") children.push_back(std::move(child));
    }
    Status status;
    for (const std::string& child : children) {
      status = RemoveAt(::dirfd(d), child);
      if (!status.ok()) break;
    }
    ::closedir(d);
    LAMBKIN_RETURN_IF_ERROR(status);
    if (::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0) {
      return Internal(fmt::format("cannot remove directory {}: {}", name, ErrnoText()));
    }
    return Status::Ok();
  }
  if (::unlinkat(dir_fd, name.c_str(), 0) != 0 && errno != ENOENT) {
    return Internal(fmt::format("cannot remove {}: {}", name, ErrnoText()));
  }
  return Status::Ok();
}

Result<ResolvedDir> Applier::OpenDir(const std::vector<std::string>& parts, bool create,
                                     std::string_view what) {
  std::vector<Fd> stack;  // stack[i] is the directory at path[0..i]
  std::vector<std::string> path;
  std::deque<std::string> todo(parts.begin(), parts.end());
  int symlinks = 0;
  auto current = [&] { return stack.empty() ? root_fd_ : stack.back().get(); };
  while (!todo.empty()) {
    std::string part = std::move(todo.front());
    todo.pop_front();
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (stack.empty()) {
        return InvalidParameter(
            fmt::format("{} leads out of the image root through a symlink", what));
      }
      stack.pop_back();
      path.pop_back();
      continue;
    }
    struct stat st {};
    if (::fstatat(current(), part.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT || !create) {
        return Internal(fmt::format("{}: cannot reach {}: {}", what, part, ErrnoText()));
      }
      if (::mkdirat(current(), part.c_str(), 0755) != 0) {
        return Internal(fmt::format("{}: cannot create {}: {}", what, part, ErrnoText()));
      }
      st.st_mode = S_IFDIR;
    }
    if (S_ISLNK(st.st_mode)) {
      if (++symlinks > kMaxSymlinks) {
        return InvalidParameter(fmt::format("{}: too many levels of symlinks", what));
      }
      std::string target(4096, '\0');
      ssize_t n = ::readlinkat(current(), part.c_str(), target.data(), target.size());
      if (n < 0) return Internal(fmt::format("{}: cannot read symlink {}", what, part));
      target.resize(static_cast<size_t>(n));
      if (target.starts_with('/')) {  // the container's "/" is the root
        stack.clear();
        path.clear();
      }
      std::vector<std::string> expanded = SplitPath(target);
      todo.insert(todo.begin(), expanded.begin(), expanded.end());
      continue;
    }
    if (!S_ISDIR(st.st_mode)) {
      return InvalidParameter(fmt::format("{}: {} is not a directory", what, Key(path, part)));
    }
    int fd = ::openat(current(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return Internal(fmt::format("{}: cannot open {}: {}", what, part, ErrnoText()));
    stack.emplace_back(fd);
    path.push_back(std::move(part));
  }
  if (stack.empty()) {
    int fd = ::fcntl(root_fd_, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return Internal(fmt::format("cannot duplicate a descriptor: {}", ErrnoText()));
    return ResolvedDir{Fd(fd), std::move(path)};
  }
  return ResolvedDir{std::move(stack.back()), std::move(path)};
}

Status Applier::RemoveLower(int dir_fd, const std::string& key) {
  DIR* d = nullptr;
  int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) d = ::fdopendir(fd);
  if (d == nullptr) {
    if (fd >= 0) ::close(fd);
    return Internal(fmt::format("cannot read directory {}: {}", key, ErrnoText()));
  }
  std::vector<std::string> children;
  while (struct dirent* e = ::readdir(d)) {
    std::string child = e->d_name;
    if (child != "." && child != "..") children.push_back(std::move(child));
  }
  Status status;
  for (const std::string& child : children) {
    std::string child_key = key.empty() ? child : fmt::format("{}/{}", key, child);
    bool written = layer_paths_.contains(child_key);
    auto below = layer_paths_.lower_bound(child_key + "/");
    bool has_written_below = below != layer_paths_.end() && below->starts_with(child_key + "/");
    if (!written && !has_written_below) {
      status = RemoveAt(::dirfd(d), child);
    } else {
      struct stat st {};
      if (::fstatat(::dirfd(d), child.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISDIR(st.st_mode)) {
        int child_fd =
            ::openat(::dirfd(d), child.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (child_fd < 0) {
          status = Internal(fmt::format("cannot open {}: {}", child_key, ErrnoText()));
        } else {
          status = RemoveLower(child_fd, child_key);
          ::close(child_fd);
        }
      }
    }
    if (!status.ok()) break;
  }
  ::closedir(d);
  return status;
}

Status Applier::Whiteout(ResolvedDir& dir, const std::string& name, std::string_view what) {
  if (name == kOpaqueWhiteout) return RemoveLower(dir.fd.get(), JoinPath(dir.path));
  std::string hidden = name.substr(kWhiteoutPrefix.size());
  if (hidden.empty() || hidden == "." || hidden == "..") {
    return InvalidParameter(fmt::format("{} is not a valid whiteout", what));
  }
  if (layer_paths_.contains(Key(dir.path, hidden))) return Status::Ok();  // same layer: kept
  return RemoveAt(dir.fd.get(), hidden);
}

void Applier::SetOwner(int dir_fd, const std::string& name, struct archive_entry* entry) {
  if (!as_root_) return;
  // Best effort: an id the file system cannot represent leaves root's.
  (void)::fchownat(dir_fd, name.c_str(), static_cast<uid_t>(archive_entry_uid(entry)),
                   static_cast<gid_t>(archive_entry_gid(entry)), AT_SYMLINK_NOFOLLOW);
}

Status Applier::WriteFile(struct archive* ar, int dir_fd, const std::string& name,
                          struct archive_entry* entry, std::string_view what) {
  Fd fd(::openat(dir_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return Internal(fmt::format("{}: cannot create: {}", what, ErrnoText()));
  const void* buf = nullptr;
  size_t size = 0;
  la_int64_t offset = 0;
  int64_t end = 0;  // of the data read so far
  for (;;) {
    int rc = archive_read_data_block(ar, &buf, &size, &offset);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK) {
      // All of the entry's data arrived; only its padding is missing: the stream's end.
      if (end == archive_entry_size(entry) && archive_entry_size(entry) % 512 != 0) {
        ended_after_data_ = true;
        break;
      }
      return InvalidParameter(fmt::format("{}: {}", what, archive_error_string(ar)));
    }
    end = std::max<int64_t>(end, offset + static_cast<int64_t>(size));
    const char* p = static_cast<const char*>(buf);
    while (size > 0) {
      ssize_t n = ::pwrite(fd.get(), p, size, offset);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Internal(fmt::format("{}: cannot write: {}", what, ErrnoText()));
      p += n;
      size -= static_cast<size_t>(n);
      offset += n;
    }
  }
  // Sparse files end in a hole that no data block reaches.
  if (::ftruncate(fd.get(), archive_entry_size(entry)) != 0) {
    return Internal(fmt::format("{}: cannot set size: {}", what, ErrnoText()));
  }
  SetOwner(dir_fd, name, entry);
  if (::fchmod(fd.get(), archive_entry_perm(entry) & kKeptModeBits) != 0) {
    return Internal(fmt::format("{}: cannot set mode: {}", what, ErrnoText()));
  }
  struct timespec times[2] = {{archive_entry_mtime(entry), archive_entry_mtime_nsec(entry)},
                              {archive_entry_mtime(entry), archive_entry_mtime_nsec(entry)}};
  (void)::futimens(fd.get(), times);
  return Status::Ok();
}

Status Applier::ApplyEntry(struct archive* ar, struct archive_entry* entry) {
  const char* raw_path = archive_entry_pathname(entry);
  if (raw_path == nullptr) return InvalidParameter("a layer entry has no path");
  std::string what = fmt::format("layer entry \"{}\"", raw_path);
  LAMBKIN_ASSIGN_OR_RETURN(std::vector<std::string> parts, EntryComponents(raw_path, what));
  if (parts.empty()) return Status::Ok();  // the root itself: dest keeps its own attributes
  std::string name = parts.back();
  parts.pop_back();
  LAMBKIN_ASSIGN_OR_RETURN(ResolvedDir dir, OpenDir(parts, /*create=*/true, what));
  int dir_fd = dir.fd.get();

  if (name.starts_with(kWhiteoutPrefix)) return Whiteout(dir, name, what);
  std::string key = Key(dir.path, name);

  const char* hardlink = archive_entry_hardlink(entry);
  mode_t type = archive_entry_filetype(entry);
  if (hardlink == nullptr && (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFSOCK)) {
    return Status::Ok();  // device nodes and sockets have no place in a sandbox's image
  }

  struct stat existing {};
  bool exists = ::fstatat(dir_fd, name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0;
  if (hardlink == nullptr && type == AE_IFDIR) {
    if (exists && !S_ISDIR(existing.st_mode)) {
      LAMBKIN_RETURN_IF_ERROR(RemoveAt(dir_fd, name));
      exists = false;
    }
    if (!exists && ::mkdirat(dir_fd, name.c_str(), 0700) != 0) {
      return Internal(fmt::format("{}: cannot create directory: {}", what, ErrnoText()));
    }
    SetOwner(dir_fd, name, entry);
    dir_attrs_[key] = DirAttrs{archive_entry_perm(entry) & kKeptModeBits,
                               archive_entry_uid(entry),
                               archive_entry_gid(entry),
                               {archive_entry_mtime(entry), archive_entry_mtime_nsec(entry)}};
    layer_paths_.insert(key);
    return Status::Ok();
  }
  if (exists) LAMBKIN_RETURN_IF_ERROR(RemoveAt(dir_fd, name));
  layer_paths_.insert(key);

  if (hardlink != nullptr) {
    LAMBKIN_ASSIGN_OR_RETURN(std::vector<std::string> target,
                             EntryComponents(hardlink, what + " hard link target"));
    if (target.empty()) return InvalidParameter(fmt::format("{} links to the root", what));
    std::string target_name = target.back();
    target.pop_back();
    LAMBKIN_ASSIGN_OR_RETURN(ResolvedDir target_dir, OpenDir(target, /*create=*/false, what));
    struct stat st {};
    if (::fstatat(target_dir.fd.get(), target_name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return InvalidParameter(
          fmt::format("{} links to \"{}\", which does not exist", what, hardlink));
    }
    if (S_ISDIR(st.st_mode)) {
      return InvalidParameter(fmt::format("{} links to directory \"{}\"", what, hardlink));
    }
    // Flags 0: a symlink target is linked itself, never followed.
    if (::linkat(target_dir.fd.get(), target_name.c_str(), dir_fd, name.c_str(), 0) != 0) {
      return Internal(fmt::format("{}: cannot link: {}", what, ErrnoText()));
    }
    return Status::Ok();
  }

  switch (type) {
    case AE_IFREG:
      return WriteFile(ar, dir_fd, name, entry, what);
    case AE_IFLNK: {
      const char* target = archive_entry_symlink(entry);
      if (target == nullptr || *target == '\0') {
        return InvalidParameter(fmt::format("{} is a symlink without a target", what));
      }
      // An absolute target means the container's root. A relative one must not climb above it.
      if (target[0] != '/') {
        int depth = static_cast<int>(dir.path.size());
        for (const std::string& p : SplitPath(target)) {
          depth += p == ".." ? -1 : 1;
          if (depth < 0) {
            return InvalidParameter(
                fmt::format("{} is a symlink to \"{}\", outside the image root", what, target));
          }
        }
      }
      if (::symlinkat(target, dir_fd, name.c_str()) != 0) {
        return Internal(fmt::format("{}: cannot create symlink: {}", what, ErrnoText()));
      }
      SetOwner(dir_fd, name, entry);
      struct timespec times[2] = {{archive_entry_mtime(entry), archive_entry_mtime_nsec(entry)},
                                  {archive_entry_mtime(entry), archive_entry_mtime_nsec(entry)}};
      (void)::utimensat(dir_fd, name.c_str(), times, AT_SYMLINK_NOFOLLOW);
      return Status::Ok();
    }
    case AE_IFIFO:
      if (::mkfifoat(dir_fd, name.c_str(), archive_entry_perm(entry) & kKeptModeBits) != 0) {
        return Internal(fmt::format("{}: cannot create fifo: {}", what, ErrnoText()));
      }
      SetOwner(dir_fd, name, entry);
      return Status::Ok();
    default:
      return InvalidParameter(fmt::format("{} has an unsupported file type", what));
  }
}

Status VerifyLayer(const std::string& file, const Descriptor& layer) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NotFound(fmt::format("layer {} is not in the blob store", layer.digest));
  Sha256Hasher hasher;
  std::string buf(1 << 16, '\0');
  int64_t size = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string error = ErrnoText();
      ::close(fd);
      return Internal(fmt::format("cannot read layer {}: {}", layer.digest, error));
    }
    if (n == 0) break;
    hasher.Update(std::string_view(buf.data(), static_cast<size_t>(n)));
    size += n;
  }
  ::close(fd);
  if (size != layer.size || "sha256:" + HexEncode(hasher.Finish()) != layer.digest) {
    return InvalidParameter(fmt::format(
        "layer {} in the blob store does not match its descriptor (size {}, expected {})",
        layer.digest, size, layer.size));
  }
  return Status::Ok();
}

// The uncompressed stream of a layer: a raw libarchive reader that only decompresses, read by
// the tar reader through callbacks that hash every byte on the way (rootfs.diff_ids).
struct UncompressedStream {
  struct archive* raw = nullptr;
  Sha256Hasher hasher;
  std::string error;  // what the decompressor said, when it failed

  ~UncompressedStream() {
    if (raw != nullptr) archive_read_free(raw);
  }

  static la_ssize_t Read(struct archive* /*tar*/, void* self, const void** buffer) {
    auto* s = static_cast<UncompressedStream*>(self);
    size_t size = 0;
    la_int64_t offset = 0;
    int rc = archive_read_data_block(s->raw, buffer, &size, &offset);
    if (rc == ARCHIVE_EOF) return 0;
    if (rc != ARCHIVE_OK) {
      const char* e = archive_error_string(s->raw);
      s->error = e != nullptr ? e : "cannot decompress";
      return -1;
    }
    s->hasher.Update(std::string_view(static_cast<const char*>(*buffer), size));
    return static_cast<la_ssize_t>(size);
  }

  // Hashes what the tar reader left unread (the archive's end blocks and padding).
  Status Drain() {
    const void* buffer = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    for (;;) {
      int rc = archive_read_data_block(raw, &buffer, &size, &offset);
      if (rc == ARCHIVE_EOF) return Status::Ok();
      if (rc != ARCHIVE_OK) {
        const char* e = archive_error_string(raw);
        return InvalidParameter(e != nullptr ? e : "cannot decompress");
      }
      hasher.Update(std::string_view(static_cast<const char*>(buffer), size));
    }
  }
};

Status Applier::ApplyLayer(const std::string& file, const Descriptor& layer,
                           const std::string& diff_id) {
  LAMBKIN_RETURN_IF_ERROR(VerifyLayer(file, layer));
  layer_paths_.clear();
  UncompressedStream stream;
  stream.raw = archive_read_new();
  if (stream.raw == nullptr) return Internal("cannot allocate an archive reader");
  archive_read_support_format_raw(stream.raw);
  if (layer.media_type == kOciLayerGzip || layer.media_type == kDockerLayerGzip) {
    archive_read_support_filter_gzip(stream.raw);
  } else if (layer.media_type == kOciLayerZstd) {
    archive_read_support_filter_zstd(stream.raw);
  } else if (layer.media_type != kOciLayerTar) {
    return InvalidParameter(
        fmt::format("layer {} has unsupported media type {}", layer.digest, layer.media_type));
  }
  auto unreadable = [&](struct archive* a) {
    const char* e = archive_error_string(a);
    return InvalidParameter(fmt::format("layer {} is not a {}: {}", layer.digest, layer.media_type,
                                        e != nullptr ? e : "unreadable"));
  };
  if (archive_read_open_filename(stream.raw, file.c_str(), 1 << 16) != ARCHIVE_OK) {
    return unreadable(stream.raw);
  }
  struct archive_entry* raw_entry = nullptr;
  int raw_rc = archive_read_next_header(stream.raw, &raw_entry);
  if (raw_rc != ARCHIVE_OK && raw_rc != ARCHIVE_EOF) return unreadable(stream.raw);
  bool empty = raw_rc == ARCHIVE_EOF;

  struct archive* ar = archive_read_new();
  if (ar == nullptr) return Internal("cannot allocate an archive reader");
  archive_read_support_format_tar(ar);
  Status status;
  if (empty) {
    // Nothing at all: a layer without entries.
  } else if (archive_read_open(ar, &stream, nullptr, &UncompressedStream::Read, nullptr) !=
             ARCHIVE_OK) {
    status = !stream.error.empty()
                 ? InvalidParameter(fmt::format("layer {} cannot be decompressed: {}", layer.digest,
                                                stream.error))
                 : unreadable(ar);
  }
  ended_after_data_ = false;
  while (status.ok() && !empty && !ended_after_data_) {
    struct archive_entry* entry = nullptr;
    int rc = archive_read_next_header(ar, &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
      const char* error = archive_error_string(ar);
      status = !stream.error.empty()
                   ? InvalidParameter(fmt::format("layer {} cannot be decompressed: {}",
                                                  layer.digest, stream.error))
                   : InvalidParameter(fmt::format("layer {} is not a valid tar stream: {}",
                                                  layer.digest, error ? error : "unknown error"));
      break;
    }
    status = ApplyEntry(ar, entry);
    if (!status.ok()) {
      status = Status(status.code(), fmt::format("layer {}: {}", layer.digest, status.message()));
    }
  }
  archive_read_free(ar);
  LAMBKIN_RETURN_IF_ERROR(status);
  if (diff_id.empty()) return Status::Ok();
  if (Status drained = empty ? Status::Ok() : stream.Drain(); !drained.ok()) {
    return InvalidParameter(
        fmt::format("layer {} cannot be decompressed: {}", layer.digest, drained.message()));
  }
  std::string actual = "sha256:" + HexEncode(stream.hasher.Finish());
  if (actual != diff_id) {
    return InvalidParameter(
        fmt::format("layer {} uncompressed is {}, not the diff_id {} the image config names",
                    layer.digest, actual, diff_id));
  }
  return Status::Ok();
}

Status Applier::FinishDirectories() {
  // Deepest first (reverse order puts "a/b" before "a"): setting a child's times leaves its
  // parent's alone.
  for (auto it = dir_attrs_.rbegin(); it != dir_attrs_.rend(); ++it) {
    std::vector<std::string> parts = SplitPath(it->first);
    std::string name = parts.back();
    parts.pop_back();
    Result<ResolvedDir> dir = OpenDir(parts, /*create=*/false, it->first);
    if (!dir.ok()) continue;  // removed by an upper layer
    struct stat st {};
    if (::fstatat(dir->fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISDIR(st.st_mode)) {
      continue;  // replaced by an upper layer
    }
    if (::fchmodat(dir->fd.get(), name.c_str(), it->second.mode, 0) != 0) {
      return Internal(fmt::format("cannot set the mode of {}: {}", it->first, ErrnoText()));
    }
    struct timespec times[2] = {it->second.mtime, it->second.mtime};
    (void)::utimensat(dir->fd.get(), name.c_str(), times, AT_SYMLINK_NOFOLLOW);
  }
  return Status::Ok();
}

}  // namespace

Status Unpack(const BlobStore& blobs, const Manifest& manifest, const std::string& dest,
              const std::vector<std::string>* diff_ids) {
  if (diff_ids != nullptr && diff_ids->size() != manifest.layers.size()) {
    return InvalidParameter(
        fmt::format("the image config names {} diff_ids for the manifest's {} layers",
                    diff_ids->size(), manifest.layers.size()));
  }
  if (::mkdir(dest.c_str(), 0755) != 0 && errno != EEXIST) {
    return Internal(fmt::format("cannot create {}: {}", dest, ErrnoText()));
  }
  Fd root(::open(dest.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root.valid()) return Internal(fmt::format("cannot open {}: {}", dest, ErrnoText()));
  {
    int fd = ::fcntl(root.get(), F_DUPFD_CLOEXEC, 0);
    DIR* d = fd >= 0 ? ::fdopendir(fd) : nullptr;
    if (d == nullptr) return Internal(fmt::format("cannot read {}: {}", dest, ErrnoText()));
    bool empty = true;
    while (struct dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) empty = false;
    }
    ::closedir(d);
    if (!empty) return InvalidParameter(fmt::format("{} is not empty", dest));
  }
  Applier applier(root.get());
  for (size_t i = 0; i < manifest.layers.size(); ++i) {
    const Descriptor& layer = manifest.layers[i];
    if (!IsDigest(layer.digest)) {
      return InvalidParameter(fmt::format("layer digest \"{}\" is not a digest", layer.digest));
    }
    LAMBKIN_RETURN_IF_ERROR(applier.ApplyLayer(blobs.Path(layer.digest), layer,
                                               diff_ids != nullptr ? (*diff_ids)[i] : ""));
  }
  return applier.FinishDirectories();
}

}  // namespace lambkin::oci
