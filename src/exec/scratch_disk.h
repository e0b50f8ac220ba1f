// ScratchDisks: the disks behind execution environments' /tmp.
//
// Lambda's /tmp is storage of EphemeralStorage MB (512–10,240), not memory: a 128 MB function
// may write 300 MB to a 512 MB /tmp. A tmpfs cannot give that (its pages are charged to the
// writer's memory cgroup), so each environment gets a file system of its own: a sparse image
// file of the requested size, copied from a per-size template made once with mkfs.ext4
// (no journal, nothing reserved), attached to a loop device that detaches itself when the last
// user is gone, and mounted nosuid,nodev. The image file is unlinked as soon as the loop device
// holds it, and the host-side mount is detached when the environment stops (a server that
// died leaves only mount points, which the next start detaches): the disk lives as long as
// the environment's processes and no longer. Writing past the size fails with ENOSPC; the page
// cache of what was written is reclaimable, so it never pushes a function over its MemorySize.
//
// Making a disk (copy, loop device, mount) takes several milliseconds, too many for a cold
// start: a background thread keeps two disks ready for each of the few sizes asked for most
// recently (Lambda's default 512 MB from the start), and Create() takes one of those when it
// can, giving it its owner.
//
// Mounting needs CAP_SYS_ADMIN and loop devices: Available() is false otherwise (a server that
// does not run as root), and environments fall back to a size-limited tmpfs (see
// docs/security.md). Thread-safe.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"

namespace lambkin::exec {

// One environment's /tmp, mounted on the host at path(). Destroying it detaches the host-side
// mount (the sandbox keeps its own until its processes are gone).
class ScratchDisk {
 public:
  explicit ScratchDisk(std::string path) : path_(std::move(path)) {}
  ~ScratchDisk();
  ScratchDisk(const ScratchDisk&) = delete;
  ScratchDisk& operator=(const ScratchDisk&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class ScratchDisks {
 public:
  // `dir` holds templates and images being prepared, `mounts_dir` the host-side mount points
  // (a place the sandboxes' users can walk to); what a previous run left in either (but the
  // templates) is removed.
  ScratchDisks(std::string dir, std::string mounts_dir);
  ~ScratchDisks();
  ScratchDisks(const ScratchDisks&) = delete;
  ScratchDisks& operator=(const ScratchDisks&) = delete;

  // Whether disks can be made here (CAP_SYS_ADMIN, /dev/loop-control, mkfs.ext4).
  bool Available() const { return available_; }
  // A fresh, empty file system of at least `bytes` usable bytes whose root belongs to
  // `owner`:`group` (mode 1777, like any /tmp), mounted at the returned disk's path().
  Result<std::unique_ptr<ScratchDisk>> Create(int64_t bytes, uid_t owner, gid_t group);

 private:
  static constexpr size_t kPoolDepth = 2;
  static constexpr size_t kPooledSizes = 4;

  Result<std::string> Template(int64_t image_bytes);
  // A new disk of `image_bytes`, mounted, its root 1777 and root's.
  Result<std::unique_ptr<ScratchDisk>> MakeDisk(int64_t image_bytes);
  // The background thread: tops up ready_ for every wanted_ size.
  void Refill();

  std::string dir_;
  std::string mounts_dir_;
  bool available_ = false;
  std::mutex mu_;  // guards templates_ and their creation
  std::map<int64_t, std::string> templates_;

  std::mutex pool_mu_;  // guards what follows
  std::condition_variable refill_;
  bool stopping_ = false;
  std::vector<int64_t> wanted_;  // image sizes, least recently asked for first
  std::map<int64_t, std::vector<std::unique_ptr<ScratchDisk>>> ready_;
  std::thread refiller_;
};

}  // namespace lambkin::exec
