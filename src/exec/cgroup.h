// MemoryCgroup: a memory limit for one execution environment.
//
// On cgroup v2 (a writable unified hierarchy) or cgroup v1 (a writable memory controller) it
// creates lambkin/<name> with the limit, reports the peak usage, and removes the group when
// destroyed. Where neither is writable, Available() is false and the caller falls back to
// watching the resident set size. Not thread-safe; owned by one environment.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace lambkin::exec {

class MemoryCgroup {
 public:
  // nullptr when no writable memory cgroup hierarchy exists here.
  static std::unique_ptr<MemoryCgroup> Create(const std::string& name, int64_t limit_bytes);
  ~MemoryCgroup();
  MemoryCgroup(const MemoryCgroup&) = delete;
  MemoryCgroup& operator=(const MemoryCgroup&) = delete;

  // The cgroup.procs file a child writes itself into.
  const std::string& procs_file() const { return procs_; }
  // Highest memory use so far, in bytes.
  std::optional<int64_t> PeakBytes() const;
  // Whether the limit was hit (the kernel killed or reclaimed because of it).
  bool LimitHit() const;
  // Kills every process in the group.
  void KillAll() const;

 private:
  MemoryCgroup(std::string dir, bool v2) : dir_(std::move(dir)), v2_(v2) {}
  std::string dir_;
  bool v2_;
  std::string procs_;
};

}  // namespace lambkin::exec
