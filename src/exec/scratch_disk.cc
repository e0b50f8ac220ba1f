#include "exec/scratch_disk.h"

#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "common/crypto.h"
#include "common/log.h"
#include "exec/process.h"

namespace lambkin::exec {

namespace {

constexpr char kMkfs[] = "/usr/sbin/mkfs.ext4";

// ext4's own metadata (group descriptors, bitmaps, inode tables, the root and lost+found) is
// added on top of what the function asked for, so it can really store `bytes`.
int64_t ImageBytes(int64_t bytes) {
  int64_t overhead = std::max<int64_t>(int64_t{16} << 20, bytes / 32);
  return (bytes + overhead + 4095) / 4096 * 4096;
}

Status Errno(std::string_view what) {
  return Internal(fmt::format("scratch disk: {}: {}", what, std::strerror(errno)));
}

// Copies only the data extents of `from` (a sparse template) into a new sparse file.
Status CopySparse(const std::string& from, const std::string& to, int64_t size) {
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return Errno(from);
  int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (out < 0) {
    ::close(in);
    return Errno(to);
  }
  Status status = Status::Ok();
  if (::ftruncate(out, size) != 0) status = Errno("ftruncate");
  off_t pos = 0;
  while (status.ok()) {
    off_t data = ::lseek(in, pos, SEEK_DATA);
    if (data < 0) break;  // ENXIO: no data after pos
    off_t hole = ::lseek(in, data, SEEK_HOLE);
    if (hole < 0) {
      status = Errno("SEEK_HOLE");
      break;
    }
    off_t src = data, dst = data;
    while (src < hole) {
      ssize_t n = ::copy_file_range(in, &src, out, &dst, static_cast<size_t>(hole - src), 0);
      if (n <= 0) {
        status = Errno("copy_file_range");
        break;
      }
    }
    pos = hole;
  }
  ::close(in);
  ::close(out);
  if (!status.ok()) ::unlink(to.c_str());
  return status;
}

// Attaches `image` to a free loop device that detaches itself when its last user is gone;
// returns the device's descriptor and path.
Result<std::pair<int, std::string>> AttachLoop(const std::string& image) {
  int file = ::open(image.c_str(), O_RDWR | O_CLOEXEC);
  if (file < 0) return Errno(image);
  int control = ::open("/dev/loop-control", O_RDWR | O_CLOEXEC);
  if (control < 0) {
    ::close(file);
    return Errno("/dev/loop-control");
  }
  Result<std::pair<int, std::string>> result = Internal("scratch disk: no free loop device");
  // Another process may take the free device between the two calls: try again.
  for (int attempt = 0; attempt < 16; ++attempt) {
    int n = ::ioctl(control, LOOP_CTL_GET_FREE);
    if (n < 0) {
      result = Errno("LOOP_CTL_GET_FREE");
      break;
    }
    std::string path = fmt::format("/dev/loop{}", n);
    int dev = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (dev < 0) {
      result = Errno(path);
      break;
    }
    loop_config config{};
    config.fd = static_cast<uint32_t>(file);
    config.info.lo_flags = LO_FLAGS_AUTOCLEAR | LO_FLAGS_DIRECT_IO;
    if (::ioctl(dev, LOOP_CONFIGURE, &config) == 0) {
      result = std::make_pair(dev, path);
      break;
    }
    int err = errno;
    ::close(dev);
    if (err != EBUSY) {
      errno = err;
      result = Errno("LOOP_CONFIGURE");
      break;
    }
  }
  ::close(control);
  ::close(file);
  return result;
}

}  // namespace

ScratchDisk::~ScratchDisk() {
  ::umount2(path_.c_str(), MNT_DETACH);
  ::rmdir(path_.c_str());
}

ScratchDisks::ScratchDisks(std::string dir, std::string mounts_dir)
    : dir_(std::move(dir)), mounts_dir_(std::move(mounts_dir)) {
  for (const std::string& d : {dir_, mounts_dir_}) {
    std::error_code ec;
    std::filesystem::create_directories(d, ec);
    // bubblewrap, as the sandbox's user, walks to the mounts.
    ::chmod(d.c_str(), d == mounts_dir_ ? 0711 : 0700);
    // What a previous run left: mount points (detached lazily) and half-made images.
    for (const auto& entry : std::filesystem::directory_iterator(d, ec)) {
      std::string name = entry.path().filename().string();
      if (name.starts_with("template-")) continue;
      if (name.ends_with(".mnt")) ::umount2(entry.path().c_str(), MNT_DETACH);
      std::filesystem::remove_all(entry.path(), ec);
    }
  }
  available_ = ::geteuid() == 0 && ::access("/dev/loop-control", R_OK | W_OK) == 0 &&
               ::access(kMkfs, X_OK) == 0;
  if (!available_) return;
  // Lambda's default size is the one most functions use: ready before the first cold start.
  wanted_.push_back(ImageBytes(int64_t{512} << 20));
  refiller_ = std::thread([this] { Refill(); });
}

Result<std::string> ScratchDisks::Template(int64_t image_bytes) {
  std::lock_guard lock(mu_);
  if (auto it = templates_.find(image_bytes); it != templates_.end()) return it->second;
  std::string path = fmt::format("{}/template-{}.img", dir_, image_bytes);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || st.st_size != image_bytes) {
    std::string partial = path + ".partial";
    ::unlink(partial.c_str());
    int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return Errno(partial);
    bool sized = ::ftruncate(fd, image_bytes) == 0;
    ::close(fd);
    if (!sized) return Errno("ftruncate");
    // No journal (the disk dies with its environment), nothing reserved for root, inode
    // tables left uninitialised (the mount says noinit_itable, so nothing zeroes them later).
    LAMBKIN_RETURN_IF_ERROR(RunProgram({kMkfs, "-q", "-F", "-m", "0", "-O", "^has_journal", "-E",
                                        "lazy_itable_init=1,nodiscard", partial}));
    if (::rename(partial.c_str(), path.c_str()) != 0) return Errno("rename");
  }
  templates_[image_bytes] = path;
  return path;
}

Result<std::unique_ptr<ScratchDisk>> ScratchDisks::MakeDisk(int64_t image_bytes) {
  LAMBKIN_ASSIGN_OR_RETURN(std::string templ, Template(image_bytes));
  std::string id = RandomUuid();
  std::string image = fmt::format("{}/{}.img", dir_, id);
  LAMBKIN_RETURN_IF_ERROR(CopySparse(templ, image, image_bytes));
  Result<std::pair<int, std::string>> loop = AttachLoop(image);
  // The loop device holds the file from here on; its blocks go when the device detaches.
  ::unlink(image.c_str());
  if (!loop.ok()) return loop.status();
  auto disk = std::make_unique<ScratchDisk>(fmt::format("{}/{}.mnt", mounts_dir_, id));
  const std::string& mnt = disk->path();
  Status status = Status::Ok();
  if (::mkdir(mnt.c_str(), 0700) != 0) {
    status = Errno("mkdir");
  } else if (::mount(loop->second.c_str(), mnt.c_str(), "ext4", MS_NOSUID | MS_NODEV | MS_NOATIME,
                     "noinit_itable") != 0) {
    status = Errno(fmt::format("mount {}", loop->second));
  } else if (::rmdir((mnt + "/lost+found").c_str()) != 0 || ::chmod(mnt.c_str(), 01777) != 0) {
    status = Errno("prepare");
  }
  // The mount holds the device now (or nothing does, and it detaches).
  ::close(loop->first);
  if (!status.ok()) return status;  // the disk's destructor detaches what was mounted
  return disk;
}

Result<std::unique_ptr<ScratchDisk>> ScratchDisks::Create(int64_t bytes, uid_t owner, gid_t group) {
  if (!available_) return Internal("scratch disk: not available on this host");
  int64_t image_bytes = ImageBytes(bytes);
  std::unique_ptr<ScratchDisk> disk;
  {
    std::lock_guard lock(pool_mu_);
    auto& ready = ready_[image_bytes];
    if (!ready.empty()) {
      disk = std::move(ready.back());
      ready.pop_back();
    }
    // This size is wanted: keep some ready (the most recent few sizes only).
    wanted_.erase(std::remove(wanted_.begin(), wanted_.end(), image_bytes), wanted_.end());
    wanted_.push_back(image_bytes);
    if (wanted_.size() > kPooledSizes) {
      ready_.erase(wanted_.front());
      wanted_.erase(wanted_.begin());
    }
  }
  refill_.notify_one();
  if (!disk) {
    LAMBKIN_ASSIGN_OR_RETURN(disk, MakeDisk(image_bytes));
  }
  if (::chown(disk->path().c_str(), owner, group) != 0) return Errno("chown");
  return disk;
}

void ScratchDisks::Refill() {
  LowerThreadPriority();
  std::unique_lock lock(pool_mu_);
  while (!stopping_) {
    std::optional<int64_t> size;
    for (int64_t s : wanted_) {
      if (ready_[s].size() < kPoolDepth) size = s;
    }
    if (!size) {
      refill_.wait(lock);
      continue;
    }
    lock.unlock();
    Result<std::unique_ptr<ScratchDisk>> disk = MakeDisk(*size);
    lock.lock();
    if (!disk.ok()) {
      // Not now (out of loop devices, disk full): the next Create tries on its own.
      log::Error("", fmt::format("cannot prepare a /tmp disk: {}", disk.status().message()));
      refill_.wait_for(lock, std::chrono::seconds(5));
      continue;
    }
    if (std::find(wanted_.begin(), wanted_.end(), *size) != wanted_.end()) {
      ready_[*size].push_back(std::move(*disk));
    }
  }
}

ScratchDisks::~ScratchDisks() {
  {
    std::lock_guard lock(pool_mu_);
    stopping_ = true;
  }
  refill_.notify_all();
  if (refiller_.joinable()) refiller_.join();
}

}  // namespace lambkin::exec
