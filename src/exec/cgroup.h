// EnvironmentCgroup: the resource limits of one execution environment, as control groups.
//
// Memory: MemorySize, without swap (the kernel kills inside the group when it is exceeded).
// Tasks: at most 1,024 processes and threads, Lambda's limit, so a fork bomb stops at the
// group's edge. CPU: a share proportional to MemorySize under contention (as Lambda allocates
// CPU by memory: 1,769 MB is one vCPU) and a hard ceiling of ceil(MemorySize / 1,769 MB) CPUs,
// at least one, so one function cannot occupy every core of the host.
//
// On cgroup v2 (a writable unified hierarchy) one group lambkin/<name> carries every
// controller that is enabled; on cgroup v1 the group is made in each writable controller's
// hierarchy (memory, pids, cpu). Controllers that are missing or not writable are skipped and
// reported by the accessors; when not even memory is available Create() returns nullptr and
// the caller falls back to watching the resident set size. The groups are removed when the
// object is destroyed. Not thread-safe; owned by one environment.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lambkin::exec {

struct CgroupLimits {
  int64_t memory_bytes = 128LL << 20;
  int64_t max_tasks = 1024;
};

class EnvironmentCgroup {
 public:
  // nullptr when no writable memory controller exists here.
  static std::unique_ptr<EnvironmentCgroup> Create(const std::string& name,
                                                   const CgroupLimits& limits);
  ~EnvironmentCgroup();
  EnvironmentCgroup(const EnvironmentCgroup&) = delete;
  EnvironmentCgroup& operator=(const EnvironmentCgroup&) = delete;

  // Sets the limits again (a group made ahead of time gets its function's). False when the
  // memory limit cannot be set (below what the group already uses).
  bool SetLimits(const CgroupLimits& limits);
  // The cgroup.procs files a child writes itself into (one per v1 hierarchy, one on v2).
  const std::vector<std::string>& procs_files() const { return procs_; }
  // Whether the task limit is enforced by the kernel here (the pids controller).
  bool limits_tasks() const { return limits_tasks_; }
  // Highest memory use so far, in bytes.
  std::optional<int64_t> PeakBytes() const;
  // Whether the memory limit was hit (the kernel killed or reclaimed because of it).
  bool LimitHit() const;
  // Kills every process in the group.
  void KillAll() const;

 private:
  EnvironmentCgroup() = default;
  bool v2_ = false;
  std::string memory_dir_;         // the group carrying the memory controller
  std::string pids_dir_;           // ... the pids controller; empty when none
  std::string cpu_dir_;            // ... the cpu controller; empty when none
  std::vector<std::string> dirs_;  // every group made, removed in reverse
  std::vector<std::string> procs_;
  bool limits_tasks_ = false;
};

}  // namespace lambkin::exec
