// Child processes for execution environments.
//
// Spawn() forks and execs a program with exactly the given arguments and environment, in a new
// session (so the whole process group can be killed), with stdin from /dev/null and stdout and
// stderr both going to one pipe whose read end the caller owns. Before exec the child joins the
// given cgroup (if any), so limits apply from its first instruction. The caller also gets a
// pidfd that becomes readable when the child exits, to watch it without SIGCHLD handlers.
// Thread-safe (only async-signal-safe calls run between fork and exec).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/status.h"

namespace lambkin::exec {

struct SpawnSpec {
  std::vector<std::string> argv;  // argv[0] is the program's path
  std::vector<std::string> env;   // "NAME=value"
  std::string cgroup_procs;       // a cgroup.procs file to join before exec; empty for none
};

struct ChildProcess {
  pid_t pid = -1;
  int pidfd = -1;      // readable when the child exits
  int output_fd = -1;  // read end of the stdout+stderr pipe (non-blocking)
};

Result<ChildProcess> Spawn(const SpawnSpec& spec);

// Sends SIGKILL to the child's process group. Safe to call on an exited child.
void KillProcessGroup(pid_t pid);

// Reaps an exited child; returns its wait status, or -1 if it has not exited.
int Reap(pid_t pid);

}  // namespace lambkin::exec
