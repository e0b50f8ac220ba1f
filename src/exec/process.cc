#include "exec/process.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/resource.h>
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
  for (const auto& procs : spec.cgroup_procs) {
    int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, "0", 1) != 1) _exit(126);
    ::close(fd);
  }
  ::setsid();
  // The passed descriptors move out of the way first (a source may sit where another's target
  // is), then into place without close-on-exec.
  int moved[16];
  size_t count = spec.fds.size() < 16 ? spec.fds.size() : 16;
  for (size_t i = 0; i < count; ++i) {
    moved[i] = ::fcntl(spec.fds[i], F_DUPFD_CLOEXEC, 64);
    if (moved[i] < 0) _exit(126);
  }
  for (size_t i = 0; i < count; ++i) {
    if (::dup2(moved[i], static_cast<int>(3 + i)) < 0) _exit(126);
  }
  // Libraries open descriptors without close-on-exec (Asio's sockets among them): none of the
  // server's may reach the program.
  if (::syscall(SYS_close_range, 3 + count, ~0U, CLOSE_RANGE_CLOEXEC) != 0) _exit(126);
  for (const auto& [resource, value] : spec.rlimits) {
    rlimit limit{value, value};
    if (::setrlimit(resource, &limit) != 0) _exit(126);
  }
  if (spec.gid &&
      (::setgroups(0, nullptr) != 0 || ::setresgid(*spec.gid, *spec.gid, *spec.gid) != 0)) {
    _exit(126);
  }
  if (spec.uid && ::setresuid(*spec.uid, *spec.uid, *spec.uid) != 0) _exit(126);
  int devnull = ::open("/dev/null", O_RDONLY);
  if (devnull < 0 || ::dup2(devnull, 0) < 0) _exit(126);
  int out = spec.discard_output ? ::open("/dev/null", O_WRONLY) : out_write;
  if (out < 0 || ::dup2(out, 1) < 0 || ::dup2(out, 2) < 0) _exit(126);
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
  if (spec.fds.size() > 16) return InvalidParameter("spawn: too many descriptors");
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
  if (spec.discard_output) {
    ::close(pipefd[0]);
    pipefd[0] = -1;
  }
  return ChildProcess{pid, pidfd, pipefd[0]};
}

Status RunProgram(const std::vector<std::string>& argv) {
  SpawnSpec spec;
  spec.argv = argv;
  spec.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"};
  LAMBKIN_ASSIGN_OR_RETURN(ChildProcess child, Spawn(spec));
  ::fcntl(child.output_fd, F_SETFL, ::fcntl(child.output_fd, F_GETFL) & ~O_NONBLOCK);
  std::string output;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(child.output_fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0 && output.size() < 4096) output.append(buf, static_cast<size_t>(n));
  }
  ::close(child.output_fd);
  ::close(child.pidfd);
  int status = 0;
  while (::waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::Ok();
  return Internal(fmt::format("{} failed ({}): {}", argv[0],
                              WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
                              output));
}

void LowerThreadPriority() {
  // On Linux the nice value is per thread: PRIO_PROCESS with the thread's id.
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
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
