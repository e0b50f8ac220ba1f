#include "exec/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace lambkin::exec {

namespace {

int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

// In the child between fork and exec: async-signal-safe calls only.
[[noreturn]] void ExecChild(const SpawnSpec& spec, char* const* argv, char* const* envp,
                            int out_write) {
  if (!spec.cgroup_procs.empty()) {
    int fd = ::open(spec.cgroup_procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, "0", 1) != 1) _exit(126);
    ::close(fd);
  }
  ::setsid();
  int devnull = ::open("/dev/null", O_RDONLY);
  if (devnull < 0 || ::dup2(devnull, 0) < 0) _exit(126);
  if (::dup2(out_write, 1) < 0 || ::dup2(out_write, 2) < 0) _exit(126);
  // Signals the server ignores or blocks must not leak into the function.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGCHLD}) signal(sig, SIG_DFL);
  ::execve(argv[0], argv, envp);
  _exit(127);
}

}  // namespace

Result<ChildProcess> Spawn(const SpawnSpec& spec) {
  if (spec.argv.empty()) return InvalidParameter("spawn: no program");
  std::vector<char*> argv, envp;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) {
    return Internal(fmt::format("spawn: pipe: {}", std::strerror(errno)));
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    return Internal(fmt::format("spawn: fork: {}", std::strerror(errno)));
  }
  if (pid == 0) ExecChild(spec, argv.data(), envp.data(), pipefd[1]);
  ::close(pipefd[1]);
  ::fcntl(pipefd[0], F_SETFL, ::fcntl(pipefd[0], F_GETFL) | O_NONBLOCK);
  int pidfd = PidfdOpen(pid);
  if (pidfd < 0) {
    KillProcessGroup(pid);
    ::waitpid(pid, nullptr, 0);
    ::close(pipefd[0]);
    return Internal(fmt::format("spawn: pidfd_open: {}", std::strerror(errno)));
  }
  return ChildProcess{pid, pidfd, pipefd[0]};
}

void KillProcessGroup(pid_t pid) {
  if (pid <= 0) return;
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);
}

int Reap(pid_t pid) {
  int status = 0;
  pid_t r = ::waitpid(pid, &status, WNOHANG);
  return r == pid ? status : -1;
}

}  // namespace lambkin::exec
