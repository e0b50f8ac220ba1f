#include "exec/cgroup.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

namespace lambkin::exec {

namespace {

bool WriteFile(const std::string& path, const std::string& value) {
  std::ofstream out(path);
  out << value;
  out.flush();
  return static_cast<bool>(out);
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

}  // namespace

std::unique_ptr<MemoryCgroup> MemoryCgroup::Create(const std::string& name, int64_t limit_bytes) {
  std::string dir;
  // cgroup v2: the unified hierarchy at /sys/fs/cgroup with the memory controller enabled.
  auto controllers = ReadFile("/sys/fs/cgroup/cgroup.controllers");
  if (controllers && controllers->find("memory") != std::string::npos) {
    WriteFile("/sys/fs/cgroup/cgroup.subtree_control", "+memory");
    if (MakeGroup("/sys/fs/cgroup", name, dir)) {
      WriteFile("/sys/fs/cgroup/lambkin/cgroup.subtree_control", "+memory");
      std::unique_ptr<MemoryCgroup> g(new MemoryCgroup(dir, true));
      if (WriteFile(dir + "/memory.max", std::to_string(limit_bytes)) &&
          WriteFile(dir + "/memory.swap.max", "0")) {
        g->procs_ = dir + "/cgroup.procs";
        return g;
      }
      g.reset();
    }
  }
  // cgroup v1: the memory controller's own hierarchy.
  if (::access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) == 0 &&
      MakeGroup("/sys/fs/cgroup/memory", name, dir)) {
    std::unique_ptr<MemoryCgroup> g(new MemoryCgroup(dir, false));
    if (WriteFile(dir + "/memory.limit_in_bytes", std::to_string(limit_bytes))) {
      // Without swap accounting this file is missing; the limit then covers RAM only.
      WriteFile(dir + "/memory.memsw.limit_in_bytes", std::to_string(limit_bytes));
      g->procs_ = dir + "/cgroup.procs";
      return g;
    }
  }
  return nullptr;
}

MemoryCgroup::~MemoryCgroup() {
  KillAll();
  // The group can be removed once its processes are gone, which takes a moment after SIGKILL.
  for (int i = 0; i < 20 && ::rmdir(dir_.c_str()) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::optional<int64_t> MemoryCgroup::PeakBytes() const {
  return ReadInt(dir_ + (v2_ ? "/memory.peak" : "/memory.max_usage_in_bytes"));
}

bool MemoryCgroup::LimitHit() const {
  if (v2_) {
    auto events = ReadFile(dir_ + "/memory.events");
    if (!events) return false;
    std::istringstream in(*events);
    std::string key;
    int64_t value = 0;
    while (in >> key >> value) {
      if ((key == "oom_kill" || key == "oom") && value > 0) return true;
    }
    return false;
  }
  auto failcnt = ReadInt(dir_ + "/memory.failcnt");
  return failcnt && *failcnt > 0;
}

void MemoryCgroup::KillAll() const {
  if (v2_ && WriteFile(dir_ + "/cgroup.kill", "1")) return;
  auto procs = ReadFile(dir_ + "/cgroup.procs");
  if (!procs) return;
  std::istringstream in(*procs);
  pid_t pid = 0;
  while (in >> pid) ::kill(pid, SIGKILL);
}

}  // namespace lambkin::exec
