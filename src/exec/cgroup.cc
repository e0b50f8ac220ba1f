#include "exec/cgroup.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

namespace lambkin::exec {

namespace {

// Lambda: 1,769 MB of memory is one vCPU's worth.
constexpr int64_t kBytesPerCpu = int64_t{1769} << 20;
constexpr int64_t kCpuPeriodUs = 100000;

bool WriteFile(const std::string& path, const std::string& value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, value.data(), value.size()) == static_cast<ssize_t>(value.size());
  ::close(fd);
  return ok;
}

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::optional<int64_t> ReadInt(const std::string& path) {
  auto text = ReadFile(path);
  if (!text) return std::nullopt;
  try {
    return std::stoll(*text);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// Makes `parent`/lambkin and `parent`/lambkin/`name`; false if the hierarchy is not writable.
bool MakeGroup(const std::string& parent, const std::string& name, std::string& dir) {
  std::string base = parent + "/lambkin";
  ::mkdir(base.c_str(), 0755);
  dir = base + "/" + name;
  return ::mkdir(dir.c_str(), 0755) == 0;
}

int64_t CpuCeiling(int64_t memory_bytes) {
  return std::max<int64_t>(1, (memory_bytes + kBytesPerCpu - 1) / kBytesPerCpu);
}

}  // namespace

std::unique_ptr<EnvironmentCgroup> EnvironmentCgroup::Create(const std::string& name,
                                                             const CgroupLimits& limits) {
  std::unique_ptr<EnvironmentCgroup> g(new EnvironmentCgroup());
  // cgroup v2: the unified hierarchy at /sys/fs/cgroup with the memory controller enabled.
  auto controllers = ReadFile("/sys/fs/cgroup/cgroup.controllers");
  if (controllers && controllers->find("memory") != std::string::npos) {
    std::string enable = "+memory";
    if (controllers->find("pids") != std::string::npos) enable += " +pids";
    if (controllers->find("cpu ") != std::string::npos ||
        controllers->find("cpu\n") != std::string::npos) {
      enable += " +cpu";
    }
    WriteFile("/sys/fs/cgroup/cgroup.subtree_control", enable);
    std::string dir;
    if (MakeGroup("/sys/fs/cgroup", name, dir)) {
      WriteFile("/sys/fs/cgroup/lambkin/cgroup.subtree_control", enable);
      g->v2_ = true;
      g->dirs_.push_back(dir);
      g->memory_dir_ = g->pids_dir_ = g->cpu_dir_ = dir;
      g->procs_.push_back(dir + "/cgroup.procs");
      if (!g->SetLimits(limits)) return nullptr;  // the destructor removes the group
      return g;
    }
  }
  // cgroup v1: one group per controller hierarchy.
  std::string dir;
  if (::access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) != 0 ||
      !MakeGroup("/sys/fs/cgroup/memory", name, dir)) {
    return nullptr;
  }
  g->dirs_.push_back(dir);
  g->memory_dir_ = dir;
  g->procs_.push_back(dir + "/cgroup.procs");
  if (::access("/sys/fs/cgroup/pids/cgroup.procs", F_OK) == 0 &&
      MakeGroup("/sys/fs/cgroup/pids", name, dir)) {
    g->dirs_.push_back(dir);
    g->pids_dir_ = dir;
    g->procs_.push_back(dir + "/cgroup.procs");
  }
  if (::access("/sys/fs/cgroup/cpu/cpu.shares", F_OK) == 0 &&
      MakeGroup("/sys/fs/cgroup/cpu", name, dir)) {
    g->dirs_.push_back(dir);
    g->cpu_dir_ = dir;
    g->procs_.push_back(dir + "/cgroup.procs");
  }
  if (!g->SetLimits(limits)) return nullptr;
  return g;
}

bool EnvironmentCgroup::SetLimits(const CgroupLimits& limits) {
  int64_t cpus = CpuCeiling(limits.memory_bytes);
  if (v2_) {
    if (!WriteFile(memory_dir_ + "/memory.max", std::to_string(limits.memory_bytes)) ||
        !WriteFile(memory_dir_ + "/memory.swap.max", "0")) {
      return false;
    }
    limits_tasks_ = WriteFile(pids_dir_ + "/pids.max", std::to_string(limits.max_tasks));
    // cpu.weight 1..10000 (100 is the default): proportional to memory, 128 MB -> 7.
    WriteFile(cpu_dir_ + "/cpu.weight", std::to_string(std::clamp<int64_t>(
                                            limits.memory_bytes * 100 / kBytesPerCpu, 1, 10000)));
    WriteFile(cpu_dir_ + "/cpu.max", fmt::format("{} {}", cpus * kCpuPeriodUs, kCpuPeriodUs));
    return true;
  }
  // v1 keeps memory.limit_in_bytes <= memory.memsw.limit_in_bytes at every step: raising, the
  // memory+swap limit goes first; lowering, the memory limit does (the first write below then
  // fails, the last succeeds). Without swap accounting the memsw file is missing and the limit
  // covers RAM only.
  std::string bytes = std::to_string(limits.memory_bytes);
  WriteFile(memory_dir_ + "/memory.memsw.limit_in_bytes", bytes);
  if (!WriteFile(memory_dir_ + "/memory.limit_in_bytes", bytes)) return false;
  WriteFile(memory_dir_ + "/memory.memsw.limit_in_bytes", bytes);
  limits_tasks_ =
      !pids_dir_.empty() && WriteFile(pids_dir_ + "/pids.max", std::to_string(limits.max_tasks));
  if (!cpu_dir_.empty()) {
    // cpu.shares: 1024 is one default task's weight; proportional to memory, at least 2.
    WriteFile(cpu_dir_ + "/cpu.shares",
              std::to_string(std::max<int64_t>(2, limits.memory_bytes * 1024 / kBytesPerCpu)));
    WriteFile(cpu_dir_ + "/cpu.cfs_period_us", std::to_string(kCpuPeriodUs));
    WriteFile(cpu_dir_ + "/cpu.cfs_quota_us", std::to_string(cpus * kCpuPeriodUs));
  }
  return true;
}

EnvironmentCgroup::~EnvironmentCgroup() {
  KillAll();
  // A group can be removed once its processes are gone, which takes a moment after SIGKILL.
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    for (int i = 0; i < 20 && ::rmdir(it->c_str()) != 0 && errno == EBUSY; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
}

std::optional<int64_t> EnvironmentCgroup::PeakBytes() const {
  return ReadInt(memory_dir_ + (v2_ ? "/memory.peak" : "/memory.max_usage_in_bytes"));
}

bool EnvironmentCgroup::LimitHit() const {
  // The OOM killer's count, not the number of times the limit was reached: reaching it is
  // normal when the page cache of /tmp's disk fills the group and is reclaimed.
  auto events = ReadFile(memory_dir_ + (v2_ ? "/memory.events" : "/memory.oom_control"));
  if (!events) return false;
  std::istringstream in(*events);
  std::string key;
  int64_t value = 0;
  bool counted = false;
  while (in >> key >> value) {
    if (key == "oom_kill") {
      if (value > 0) return true;
      counted = true;
    }
  }
  if (counted || v2_) return false;
  // v1 before Linux 4.13 has no oom_kill count.
  auto failcnt = ReadInt(memory_dir_ + "/memory.failcnt");
  return failcnt && *failcnt > 0;
}

void EnvironmentCgroup::KillAll() const {
  if (memory_dir_.empty()) return;
  if (v2_ && WriteFile(memory_dir_ + "/cgroup.kill", "1")) return;
  auto procs = ReadFile(memory_dir_ + "/cgroup.procs");
  if (!procs) return;
  std::istringstream in(*procs);
  pid_t pid = 0;
  while (in >> pid) ::kill(pid, SIGKILL);
}

}  // namespace lambkin::exec
