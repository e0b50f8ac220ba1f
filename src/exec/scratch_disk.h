// ScratchDisks: the disks behind execution environments' /tmp.
//
// Lambda's /tmp is storage of EphemeralStorage MB (512–10,240), not memory: a 128 MB function
// may write 300 MB to a 512 MB /tmp. A tmpfs cannot give that (its pages are charged to the
// writer's memory cgroup), so each environment gets a file system of its own: a sparse image
// file of the requested size, copied from a per-size template made once with mkfs.ext4
// (no journal, nothing reserved), attached to a loop device that detaches itself when the last
// user is gone, and mounted nosuid,nodev. The image file is unlinked as soon as the loop device
// holds it, and the host-side mount is detached once the sandbox has its own, so the disk
// lives exactly as long as the environment's processes, even if the server dies: nothing is
// left to clean up. Writing past the size fails with ENOSPC; the page cache of what was
// written is reclaimable, so it never pushes a function over its MemorySize.
//
// Mounting needs CAP_SYS_ADMIN and loop devices: Available() is false otherwise (a server that
// does not run as root), and environments fall back to a size-limited tmpfs (see
// docs/security.md). Thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

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

  // Whether disks can be made here (CAP_SYS_ADMIN, /dev/loop-control, mkfs.ext4).
  bool Available() const { return available_; }
  // A fresh, empty file system of at least `bytes` usable bytes whose root belongs to
  // `owner`:`group` (mode 1777, like any /tmp), mounted at the returned disk's path().
  Result<std::unique_ptr<ScratchDisk>> Create(int64_t bytes, uid_t owner, gid_t group);

 private:
  Result<std::string> Template(int64_t image_bytes);

  std::string dir_;
  std::string mounts_dir_;
  bool available_ = false;
  std::mutex mu_;  // guards templates_ and their creation
  std::map<int64_t, std::string> templates_;
};

}  // namespace lambkin::exec
