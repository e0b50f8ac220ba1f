// Child processes for execution environments.
//
// Spawn() forks and execs a program with exactly the given arguments and environment, in a new
// session (so the whole process group can be killed), with stdin from /dev/null and stdout and
// stderr both going to one pipe whose read end the caller owns. Before exec the child joins the
// given cgroups, takes its resource limits and, when asked, becomes an unprivileged host user
// (no supplementary groups), so all of it applies from its first instruction; the descriptors
// listed in `fds` are its 3, 4, ... and nothing else of the server's is inherited. The caller
// also gets a pidfd that becomes readable when the child exits, to watch it without SIGCHLD
// handlers. Thread-safe (only async-signal-safe calls run between fork and exec).
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <memory>
#include <optional>
#include <utility>

#include <string>
#include <vector>

#include "common/status.h"

namespace lambkin::exec {

struct SpawnSpec {
  std::vector<std::string> argv;          // argv[0] is the program's path
  std::vector<std::string> env;           // "NAME=value"
  std::vector<std::string> cgroup_procs;  // cgroup.procs files to join before exec
  std::vector<int> fds;                   // become the child's descriptors 3, 4, ...
  std::optional<uid_t> uid;               // become this user and group before exec
  std::optional<gid_t> gid;
  std::vector<std::pair<int, rlim_t>> rlimits;  // (RLIMIT_x, soft = hard limit)
  bool discard_output = false;  // stdout and stderr to /dev/null; output_fd is then -1
};

struct ChildProcess {
  pid_t pid = -1;
  int pidfd = -1;      // readable when the child exits
  int output_fd = -1;  // read end of the stdout+stderr pipe (non-blocking)
};

Result<ChildProcess> Spawn(const SpawnSpec& spec);

// A process started ahead of time that becomes a program when asked: `lambkin-init --launch`
// (exec/init_main.cc), already in its cgroups, in a session of its own, its stdout and stderr
// on the pipe of its ChildProcess. Joining cgroups (v1) costs a cold start several
// milliseconds (an RCU grace period); a prepared process has paid it beforehand.
// Destroying one that was never launched ends it. Not thread-safe.
class PreparedProcess {
 public:
  // REQUIRES: `launcher` is lambkin-init.
  static Result<std::unique_ptr<PreparedProcess>> Prepare(
      const std::string& launcher, const std::vector<std::string>& cgroup_procs);
  ~PreparedProcess();
  PreparedProcess(const PreparedProcess&) = delete;
  PreparedProcess& operator=(const PreparedProcess&) = delete;

  // Makes it `spec`'s program (argv, env, fds, uid/gid, rlimits; its cgroups and output were
  // settled when it was prepared). The caller then owns the returned pidfd and output_fd.
  Result<ChildProcess> Launch(const SpawnSpec& spec);

 private:
  PreparedProcess() = default;
  ChildProcess child_;
  int socket_ = -1;
  bool launched_ = false;
};

// Runs a helper program (argv[0] its path) to completion: OK if it exits 0, otherwise
// kInternal with what it printed.
Status RunProgram(const std::vector<std::string>& argv);

// Makes the calling thread yield the CPU to the server's other threads (nice 10): for
// background work that must not slow a cold start.
void LowerThreadPriority();

// Sends SIGKILL to the child's process group. Safe to call on an exited child.
void KillProcessGroup(pid_t pid);

// Reaps an exited child; returns its wait status, or -1 if it has not exited.
int Reap(pid_t pid);

}  // namespace lambkin::exec
